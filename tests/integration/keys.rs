//! Key loading against the public key vectors in `../shared/fixtures/keys` and `dsse/`.

use std::path::Path;

use crate::common::fixtures;
use base64::Engine as _;
use chainlet::signing::{self, KeyPair, Signer, cosign_key, dsse};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decrypt(fx: &Path, key: &str, password: &str) -> Result<KeyPair, signing::SigningError> {
    let dir = fx.join("keys");
    let pem = std::fs::read(dir.join(key)).unwrap();
    let pw = std::fs::read(dir.join(password)).unwrap();
    cosign_key::decrypt_file(&pem, &pw, &dir.join(key), &dir.join(password))
}

fn pem_der_b64(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

#[test]
fn encrypted_keys_decrypt_to_their_public_keys() {
    let Some(fx) = fixtures() else { return };
    // (key, password file, public key as base64 DER from the file or MANIFEST.md's notes)
    let zarf_pub = pem_der_b64(&std::fs::read_to_string(fx.join("keys/zarf-cosign.pub")).unwrap());
    let cases = [
        ("zarf-cosign.key", "zarf-cosign.password", zarf_pub.as_str()),
        (
            "ecdsa_encrypted_private.key",
            "ecdsa_encrypted_private.password",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEI3sxu+p/GFrJyfgmSWr4qMzwbnd/pRAShSG6tHcrlhBSoRCAiVYOoQR7514Uz6ft2tQlnoJLHmHcFqqy0/ERJA==",
        ),
        (
            "cosign_generated_encrypted_empty_private.key",
            "cosign_generated_encrypted_empty_private.password",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGmsWpZNuu+SUX70n3lVK4JLsaoV7T+rhea2rQUu29EQiatoLB06QdsmSd+GsQGlQzfcDtsKPzb+B2zLggrWZjg==",
        ),
        (
            "ed25519_encrypted_private.key",
            "ed25519_encrypted_private.password",
            "MCowBQYDK2VwAyEA0wPx5IPYFxOgyXGhUUhHmLHxTyvSil4ZhGPi/Q6eKO0=",
        ),
    ];
    for (key, password, public) in cases {
        let k = decrypt(&fx, key, password).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(b64(&k.public_key_der()), public, "{key}");
    }
}

#[test]
fn wrong_password_is_rejected_without_echoing_it() {
    let Some(fx) = fixtures() else { return };
    let dir = fx.join("keys");
    let pem = std::fs::read(dir.join("zarf-cosign.key")).unwrap();
    let err = cosign_key::decrypt_file(
        &pem,
        b"hunter2",
        Path::new("cosign.key"),
        Path::new("cosign.password"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("wrong password") && !err.contains("hunter2"),
        "{err}"
    );
}

#[test]
fn unencrypted_pkcs8_keys_load_as_x509_pem() {
    let Some(fx) = fixtures() else { return };
    let cases = [
        (
            "keys/ecdsa_private.key",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEHxQgA0ITN+sSLQSy7BmZjA3uYarT3IEcfPvGX+NDuFQMsr9yjuR3j2Nt6/5FWfmJF8EuebGEqReRfvgEJpdDzw==",
        ),
        (
            "keys/ed25519_private.key",
            "MCowBQYDK2VwAyEAXtg9yVbH8JADtC6sn4NBh1CSDWeCv0ABIj4TtoJj9ak=",
        ),
        (
            "chains/pkg/chains/signing/x509/testdata/x509.pem",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEwPwrAuKVeDYJZABULWBXEW8e2cFQzJik6qo5ACg5wUEfwqze3DhjmzL6XSxJFYyfHS9g1FA305dtJE65v84JJQ==",
        ),
    ];
    for (path, public) in cases {
        let pem = std::fs::read_to_string(fx.join(path)).unwrap();
        let k = KeyPair::from_pem(&pem, Path::new(path), "x509.pem").unwrap();
        assert_eq!(b64(&k.public_key_der()), public, "{path}");
    }
}

#[test]
fn ed25519_signature_matches_the_published_vector() {
    let Some(fx) = fixtures() else { return };
    let pem = std::fs::read_to_string(fx.join("keys/sigstore-ed25519-pkcs8.key")).unwrap();
    let k = KeyPair::from_pem(&pem, Path::new("x509.pem"), "x509.pem").unwrap();
    let msg = std::fs::read(fx.join("keys/sigstore-sign-me.txt")).unwrap();
    let expected =
        std::fs::read_to_string(fx.join("keys/sigstore-ed25519.sign-me.sig.b64")).unwrap();
    assert_eq!(b64(&k.sign(&msg).unwrap()), expected.trim());
}

#[test]
fn dsse_pae_and_deterministic_signature_match_the_spec_vectors() {
    let Some(fx) = fixtures() else { return };
    let dir = fx.join("dsse");
    let payload = std::fs::read(dir.join("payload.txt")).unwrap();
    let payload_type = std::fs::read_to_string(dir.join("payload-type.txt")).unwrap();
    assert_eq!(
        dsse::pae(&payload_type, &payload),
        std::fs::read(dir.join("pae.bin")).unwrap()
    );
    // RFC 6979 makes ECDSA deterministic: the published signature comes out again.
    let pem = std::fs::read_to_string(dir.join("ecdsa-p256-private.pem")).unwrap();
    let k = KeyPair::from_pem(&pem, Path::new("x509.pem"), "x509.pem").unwrap();
    let env = dsse::sign(&k, &payload_type, &payload).unwrap();
    let expected = std::fs::read_to_string(dir.join("signature.der.b64")).unwrap();
    assert_eq!(env.signatures[0].sig, expected.trim());
    assert_eq!(env.payload, b64(&payload));
}

#[test]
fn generated_keys_round_trip_through_cosigns_format() {
    let k = KeyPair::generate_p256().unwrap();
    let pem = cosign_key::encrypt(&k, b"pw").unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    let again =
        cosign_key::decrypt_file(pem.as_bytes(), b"pw", Path::new("k"), Path::new("p")).unwrap();
    assert_eq!(again.public_key_der(), k.public_key_der());
    assert!(
        cosign_key::decrypt_file(pem.as_bytes(), b"px", Path::new("k"), Path::new("p")).is_err()
    );
}
