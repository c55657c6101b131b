//! Archivista's upload answer (`storage::archivista::parse_upload_answer`) and the upload body
//! chainlet builds from an envelope: a value or an error, never a panic; the body is JSON
//! holding the same strings.

use proptest::prelude::*;

use chainlet::signing::dsse::{Envelope, Signature};
use chainlet::storage::archivista::{parse_upload_answer, upload_body};

use crate::support::{self, any_string};

proptest! {
    #![proptest_config(support::cases(256))]

    #[test]
    fn any_upload_answer_is_a_gitoid_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(g) = parse_upload_answer(&bytes) {
            prop_assert!(g.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn near_misses_of_an_upload_answer_are_a_gitoid_or_an_error(g in any_string(), extra in any_string()) {
        let body = format!("{{\"gitoid\":{},\"x\":{}}}\n", serde_json::json!(g), serde_json::json!(extra));
        let _ = parse_upload_answer(body.as_bytes());
    }

    #[test]
    fn the_upload_body_is_json_with_the_envelope_strings(
        payload_type in any_string(),
        keyid in any_string(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        sig in any_string(),
    ) {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let env = Envelope {
            payload_type: payload_type.clone(),
            payload: b64.encode(&payload),
            signatures: vec![Signature { keyid: keyid.clone(), sig: sig.clone() }],
        };
        match upload_body(&env) {
            Ok(body) => {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                prop_assert_eq!(v["payloadType"].as_str(), Some(payload_type.as_str()));
                prop_assert_eq!(v["signatures"][0]["keyid"].as_str(), Some(keyid.as_str()));
                prop_assert!(!body.iter().any(|b| matches!(b, b'<' | b'>' | b'&')));
            }
            // Only a signature that is not base64 is refused.
            Err(_) => prop_assert!(b64.decode(&sig).is_err()),
        }
    }
}
