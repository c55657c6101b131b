//! Answers from Vault's transit engine and its JWT login (`signing::kms::hashivault`), and the
//! addresses, key names and mounts users write: any input gives a value or an error.

use proptest::prelude::*;
use serde_json::json;

use chainlet::signing::kms::hashivault::{
    check_key_name, check_mount, parse_address, parse_key, parse_login, parse_signature,
    split_signature, vault_errors,
};

use crate::support::{self, any_bytes, near_json};

const P256_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEkUQNaDFUj3bZAT5INm/fuV/SqXzL\n1y5mAbIqSfUALhp1rok/s2MibMDPy/llL33l2kY6Jzby4Jo9x3vhlrTm4w==\n-----END PUBLIC KEY-----\n";

fn key_answer() -> serde_json::Value {
    json!({"data": {"type": "ecdsa-p256", "supports_signing": true, "latest_version": 1,
        "keys": {"1": {"name": "P-256", "public_key": P256_PEM, "creation_time": "2026-12-02T01:22:34Z"}}}})
}

fn sign_answer() -> serde_json::Value {
    json!({"data": {"key_version": 1, "signature": "vault:v1:MEUCIQCcJcPKqN0tNdlGUiAKcwQWl/vGxvKkizA26+MzOgPQDQIgL5JhOgrSuF8cRGLJXfTo6CHArmfRPhI16pGQJzQH3LE="}})
}

proptest! {
    #![proptest_config(support::cases(256))]

    #[test]
    fn key_answers_never_panic(body in near_json(key_answer(), &[])) {
        let _ = parse_key(&body);
    }

    #[test]
    fn sign_answers_never_panic(body in near_json(sign_answer(), &[]), version in 0u64..4) {
        let _ = parse_signature(&body, version);
    }

    #[test]
    fn login_and_error_answers_never_panic(
        body in near_json(json!({"auth": {"client_token": "s.abc"}, "errors": ["permission denied"]}), &[]),
    ) {
        let _ = parse_login(&body);
        let e = vault_errors(&body);
        prop_assert!(!e.contains('\n'));
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in any_bytes()) {
        let _ = parse_key(&body);
        let _ = parse_signature(&body, 1);
        let _ = parse_login(&body);
        prop_assert!(!vault_errors(&body).contains('\n'));
    }

    #[test]
    fn signature_strings_never_panic(s in "(vault:v[0-9]{0,25}:)?[A-Za-z0-9+/=:!]{0,40}") {
        let _ = split_signature(&s);
    }

    #[test]
    fn user_strings_never_panic(s in "\\PC{0,40}", t in "(https?://)?[a-z0-9.:/\\[\\]@?#%-]{0,30}") {
        let _ = parse_address(&s);
        let _ = parse_address(&t);
        // What passes is one safe path segment, or segments.
        if check_key_name(&s).is_ok() {
            prop_assert!(!s.contains('/') && s != "." && s != "..");
        }
        if let Ok(m) = check_mount(&s) {
            prop_assert!(!m.split('/').any(|p| p.is_empty() || p == ".."));
        }
    }
}
