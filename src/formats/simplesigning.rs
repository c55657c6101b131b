//! `simplesigning`: the payload cosign signs for a container image ("cosign container image
//! signature"), as sigstore's `SimpleContainerImage` marshals it.

use serde::Serialize;

use crate::subjects::ImageRef;

#[derive(Serialize)]
struct Payload<'a> {
    critical: Critical<'a>,
    /// Chains and cosign write `null` when there are no optional annotations.
    optional: Option<()>,
}

#[derive(Serialize)]
struct Critical<'a> {
    identity: Identity,
    image: Image,
    #[serde(rename = "type")]
    type_: &'a str,
}

#[derive(Serialize)]
struct Identity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Serialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

/// The simple-signing payload for an image.
pub fn payload(image: &ImageRef) -> Vec<u8> {
    let p = Payload {
        critical: Critical {
            identity: Identity {
                docker_reference: image.repo_name(),
            },
            image: Image {
                docker_manifest_digest: format!("sha256:{}", image.digest_hex),
            },
            type_: "cosign container image signature",
        },
        optional: None,
    };
    serde_json::to_vec(&p).expect("serialising a payload cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_cosigns_shape() {
        let img = ImageRef::parse(
            "busybox@sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(payload(&img)).unwrap(),
            r#"{"critical":{"identity":{"docker-reference":"index.docker.io/library/busybox"},"image":{"docker-manifest-digest":"sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4"},"type":"cosign container image signature"},"optional":null}"#
        );
    }
}
