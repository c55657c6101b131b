//! What a registry answers about referrers (`registry::referrers`): the referrers tag or the
//! referrers API's index (`parse_index`, then `append`, `lists`, `artifact_type` over it), a
//! subject manifest (`Subject::of`) and a referrer manifest read while looking for our bundle
//! (`bundle_layer_of`). Each is a value or an error, never a panic.

use proptest::prelude::*;
use serde_json::json;

use chainlet::registry::referrers::{self as refs, Subject};
use chainlet::registry::{Manifest, sha256_digest};

use crate::support::{self, any_string, near_json};

const HEX: &str = "05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4";

fn index() -> serde_json::Value {
    json!({
        "schemaVersion": 2,
        "mediaType": refs::OCI_INDEX,
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 877,
             "digest": format!("sha256:{HEX}"), "artifactType": refs::BUNDLE_V03,
             "annotations": {"dev.sigstore.bundle.predicateType": "https://slsa.dev/provenance/v1",
                             "dev.sigstore.bundle.content": "dsse-envelope"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 3,
             "digest": "sha256:00", "artifactType": "application/spdx+json"}
        ],
        "annotations": {"org.example": "kept"}
    })
}

fn referrer() -> serde_json::Value {
    let subject = Subject {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: 400,
        digest: format!("sha256:{HEX}"),
    };
    serde_json::from_slice(
        &refs::bundle_manifest(&subject, b"{}", "https://slsa.dev/provenance/v1", "t").bytes,
    )
    .unwrap()
}

proptest! {
    #![proptest_config(support::cases(256))]

    /// An index parses or is refused; appending to a parsed one gives an index that parses
    /// again and lists what was added.
    #[test]
    fn indexes_parse_or_fail(
        body in prop_oneof![3 => near_json(index(), &[]), 1 => support::any_bytes()],
        from_tag in any::<bool>(),
    ) {
        let tag = from_tag.then_some("sha256-00");
        if let Ok(i) = refs::parse_index(tag, &body) {
            for d in &i.manifests {
                let _ = refs::artifact_type(d);
            }
            let subject = Subject { media_type: "m".into(), size: 1, digest: "sha256:aa".into() };
            let add = refs::bundle_manifest(&subject, b"b", "p", "t").descriptor;
            if let Ok(Some(bytes)) = refs::append("sha256-00", Some(&i), std::slice::from_ref(&add)) {
                let again = refs::parse_index(Some("t"), &bytes);
                prop_assert!(again.is_ok() || i.media_type.is_none());
                if let Ok(again) = again {
                    prop_assert!(refs::lists(&again, &add.digest));
                }
            }
        }
    }

    /// A subject manifest names a subject only when its bytes hash to the digest asked for.
    #[test]
    fn subjects_are_checked(body in support::any_bytes(), media_type in any_string(), right in any::<bool>()) {
        let digest = if right { sha256_digest(&body) } else { format!("sha256:{HEX}") };
        let m = Manifest { bytes: body.clone(), media_type };
        if let Ok(s) = Subject::of(&digest, &m) {
            prop_assert_eq!(s.size, body.len() as u64);
            prop_assert_eq!(s.digest, sha256_digest(&body));
        }
    }

    /// A referrer manifest yields its bundle layer or nothing.
    #[test]
    fn referrer_manifests_yield_a_layer_or_nothing(
        body in prop_oneof![3 => near_json(referrer(), &[]), 1 => support::any_bytes()],
    ) {
        let _ = refs::bundle_layer_of(&body, &format!("sha256:{HEX}"));
    }
}
