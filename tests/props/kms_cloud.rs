//! Answers from Cloud KMS (`signing::kms::gcpkms`) and Key Vault (`signing::kms::azurekms`),
//! and the key references users write: any bytes give a value or an error, never a panic.

use proptest::prelude::*;
use serde_json::{Value, json};

use chainlet::signing::kms::{azurekms, gcpkms};
use chainlet::signing::remote::KeyKind;

use crate::support::{self, any_bytes, any_string, near_json};

const VERSION: &str = "projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1";

fn p256_point() -> Vec<u8> {
    use p256::elliptic_curve::sec1::ToSec1Point as _;
    let sk = p256::SecretKey::from_bytes(&[3u8; 32].into()).unwrap();
    sk.public_key().to_sec1_point(false).as_bytes().to_vec()
}

fn b64url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn public_key_answer() -> Value {
    use p256::pkcs8::EncodePublicKey as _;
    let sk = p256::SecretKey::from_bytes(&[3u8; 32].into()).unwrap();
    let pem = sk
        .public_key()
        .to_public_key_pem(p256::pkcs8::LineEnding::LF)
        .unwrap();
    json!({"pem": pem, "algorithm": "EC_SIGN_P256_SHA256",
        "pemCrc32c": gcpkms::crc32c(pem.as_bytes()).to_string(), "name": VERSION,
        "protectionLevel": "HSM"})
}

fn sign_answer() -> Value {
    let sig = b"\x30\x06\x02\x01\x01\x02\x01\x01";
    json!({"signature": b64(sig), "signatureCrc32c": gcpkms::crc32c(sig).to_string(),
        "verifiedDigestCrc32c": true, "name": VERSION, "protectionLevel": "HSM"})
}

fn key_bundle() -> Value {
    let point = p256_point();
    json!({"key": {"kid": "https://v.vault.azure.net/keys/k/0a1b", "kty": "EC-HSM",
        "crv": "P-256", "key_ops": ["sign", "verify"],
        "x": b64url(&point[1..33]), "y": b64url(&point[33..])},
        "attributes": {"enabled": true}})
}

fn vault_key() -> azurekms::KeyRef {
    azurekms::parse_key("v.vault.azure.net/k").unwrap()
}

const KINDS: [KeyKind; 5] = [
    KeyKind::EcdsaP256,
    KeyKind::EcdsaP384,
    KeyKind::Rsa { bits: 2048 },
    KeyKind::Rsa { bits: 3072 },
    KeyKind::Ed25519,
];

proptest! {
    #![proptest_config(support::cases(256))]

    #[test]
    fn cloud_kms_public_key_answers_never_panic(body in near_json(public_key_answer(), &[])) {
        let _ = gcpkms::parse_public_key(&body, VERSION);
    }

    #[test]
    fn cloud_kms_sign_answers_never_panic(body in near_json(sign_answer(), &[])) {
        let _ = gcpkms::parse_signature(&body, VERSION);
    }

    #[test]
    fn cloud_kms_listings_and_errors_never_panic(
        body in near_json(json!({"cryptoKeyVersions": [{"name": VERSION, "state": "ENABLED"}],
            "totalSize": 1}), &[]),
        status in any::<u16>(),
    ) {
        let _ = gcpkms::parse_versions(&body, "projects/p/locations/global/keyRings/r/cryptoKeys/k");
        let _ = gcpkms::parse_crypto_key(&body);
        let line = gcpkms::service_error(status, &body);
        prop_assert!(!line.contains('\n'));
    }

    #[test]
    fn key_vault_bundles_never_panic(body in near_json(key_bundle(), &[])) {
        let _ = azurekms::parse_key_bundle(&body, &vault_key());
    }

    #[test]
    fn key_vault_sign_answers_never_panic(
        body in near_json(json!({"kid": "https://v.vault.azure.net/keys/k/0a1b",
            "value": b64url(&[7u8; 64])}), &[]),
        kind in prop::sample::select(&KINDS[..]),
        status in any::<u16>(),
    ) {
        if let Ok(sig) = azurekms::parse_sign_result(&body, kind)
            && matches!(kind, KeyKind::EcdsaP256 | KeyKind::EcdsaP384)
        {
            prop_assert_eq!(sig[0], 0x30);
        }
        let line = azurekms::service_error(status, &body);
        prop_assert!(!line.contains('\n'));
    }

    #[test]
    fn raw_ecdsa_signatures_give_der_of_the_right_length(
        raw in prop::collection::vec(any::<u8>(), 0..100),
        half in prop::sample::select(&[32usize, 48][..]),
    ) {
        if let Ok(der) = azurekms::ecdsa_raw_to_der(&raw, half) {
            prop_assert_eq!(raw.len(), 2 * half);
            prop_assert_eq!(der[0], 0x30);
            prop_assert_eq!(usize::from(der[1]) + 2, der.len());
            if half == 32 {
                // What the p256 crate reads, when r and s are in range.
                if let Ok(sig) = p256::ecdsa::Signature::from_slice(&raw) {
                    let want = sig.to_der();
                    prop_assert_eq!(want.as_bytes(), &der[..]);
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in any_bytes()) {
        let _ = gcpkms::parse_public_key(&body, VERSION);
        let _ = gcpkms::parse_signature(&body, VERSION);
        let _ = gcpkms::parse_versions(&body, "projects/p/locations/l/keyRings/r/cryptoKeys/k");
        let _ = gcpkms::parse_crypto_key(&body);
        let _ = gcpkms::crc32c(&body);
        let _ = azurekms::parse_key_bundle(&body, &vault_key());
        for kind in KINDS {
            let _ = azurekms::parse_sign_result(&body, kind);
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&body) {
            let _ = azurekms::jwk_to_spki(&v);
        }
    }

    #[test]
    fn references_never_panic(s in any_string()) {
        let _ = gcpkms::parse_key(&s);
        let _ = azurekms::parse_key(&s);
        let _ = azurekms::scope_for(&s, "https://vault.azure.net");
        let _ = gcpkms::algorithm(&s);
    }
}
