//! cosign 3's image signature with the new bundle format (`cosign sign`, `signDigestBundle` in
//! `cmd/cosign/cli/sign/sign.go`): not a simple-signing payload but an in-toto statement
//! v1 about the image digest, predicate type `https://sigstore.dev/cosign/sign/v1`, an empty
//! predicate, signed in DSSE. Its one subject has no name, only the digest and the signer's
//! annotations (`-a k=v`; none here, so `{}`), as protojson writes it.

use crate::subjects::ImageRef;

pub const PREDICATE_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";

/// The statement cosign 3 signs for `image`.
pub fn statement(image: &ImageRef) -> Vec<u8> {
    // By hand, in protojson's field order (serde_json's maps sort their keys); the digest is
    // 64 hex characters, nothing to escape.
    format!(
        "{{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{{\"digest\":{{\"sha256\":\"{}\"}},\"annotations\":{{}}}}],\"predicateType\":\"{PREDICATE_TYPE}\",\"predicate\":{{}}}}",
        image.digest_hex
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_cosign_3s_statement() {
        let hex = "05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4";
        let img = ImageRef::parse(&format!("busybox@sha256:{hex}")).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&statement(&img)).unwrap();
        assert_eq!(
            v,
            json!({
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [{"digest": {"sha256": hex}, "annotations": {}}],
                "predicateType": PREDICATE_TYPE,
                "predicate": {}
            })
        );
        assert!(
            String::from_utf8(statement(&img))
                .unwrap()
                .starts_with("{\"_type\":")
        );
    }
}
