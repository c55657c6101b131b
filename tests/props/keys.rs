//! Keys in the signing-secrets folder (`signing::load_from_secrets`): `x509.pem` of any bytes
//! and near-misses of real PEM keys (text edited, or the DER inside edited and encoded
//! again), and `cosign.key` + `cosign.password` with the encrypted key's JSON envelope edited.
//!
//! scrypt at cosign's work factors takes about 100 ms a key, so the envelope properties that
//! run often keep the kdf parameters refused (everything before scrypt is parsed, and a huge N
//! or r must be refused rather than allocated); one property with few cases lets scrypt run.

use std::path::Path;
use std::sync::OnceLock;

use base64::Engine as _;
use proptest::prelude::*;
use serde_json::Value;

use chainlet::signing::{self, KeyPair, SigningError, cosign_key};

use crate::support::{
    self, any_string, byte_edit, edit_bytes, edit_json, edit_str, json_edit, pem,
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The DER inside the first PEM block.
fn der_of(pem: &str) -> Option<(String, Vec<u8>)> {
    let begin = pem.find("-----BEGIN ")? + 11;
    let label_end = begin + pem[begin..].find("-----")?;
    let label = pem[begin..label_end].to_owned();
    let body_start = label_end + 5;
    let end = body_start + pem[body_start..].find("-----END")?;
    let b64: String = pem[body_start..end].split_whitespace().collect();
    Some((label, B64.decode(b64).ok()?))
}

/// Unencrypted PEM keys: the fixtures' when they are there, and a fresh P-256 key as PKCS#8
/// and as SEC1.
fn plain_keys() -> &'static [String] {
    static KEYS: OnceLock<Vec<String>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let generated = KeyPair::generate_p256().unwrap();
        let der = generated.to_pkcs8_der();
        use p256::pkcs8::DecodePrivateKey as _;
        let sec1 = p256::SecretKey::from_pkcs8_der(&der)
            .unwrap()
            .to_sec1_der()
            .unwrap();
        let mut keys = vec![pem("PRIVATE KEY", &der), pem("EC PRIVATE KEY", &sec1)];
        if let Some(dir) = support::fixtures() {
            for name in [
                "keys/ecdsa_private.key",
                "keys/ed25519_private.key",
                "keys/sigstore-ecdsa-p256-pkcs8.key",
                "keys/sigstore-ed25519-pkcs8.key",
                "chains/pkg/chains/signing/x509/testdata/x509.pem",
            ] {
                if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
                    keys.push(text);
                }
            }
        }
        keys
    })
}

/// Encrypted cosign keys and their passwords: the fixtures' when they are there, else one
/// made here.
fn cosign_keys() -> &'static [(String, Vec<u8>)] {
    static KEYS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = Vec::new();
        if let Some(dir) = support::fixtures() {
            for name in [
                "keys/zarf-cosign",
                "keys/ecdsa_encrypted_private",
                "keys/ed25519_encrypted_private",
                "keys/cosign_generated_encrypted_empty_private",
            ] {
                let key = std::fs::read_to_string(dir.join(format!("{name}.key")));
                let password = std::fs::read(dir.join(format!("{name}.password")));
                if let (Ok(k), Ok(p)) = (key, password) {
                    keys.push((k, p));
                }
            }
        }
        if keys.is_empty() {
            let key = KeyPair::generate_p256().unwrap();
            keys.push((cosign_key::encrypt(&key, b"pw").unwrap(), b"pw".to_vec()));
        }
        keys
    })
}

/// A PEM text near a real key: the text edited, or the DER edited under any label.
fn near_pem(keys: &'static [String]) -> impl Strategy<Value = Vec<u8>> {
    let labels = prop_oneof![
        Just(None),
        prop::sample::select(
            &[
                "PRIVATE KEY",
                "EC PRIVATE KEY",
                "ENCRYPTED PRIVATE KEY",
                "PUBLIC KEY",
                "ENCRYPTED SIGSTORE PRIVATE KEY",
                ""
            ][..]
        )
        .prop_map(Some),
    ];
    prop_oneof![
        (
            prop::sample::select(keys),
            prop::collection::vec(support::str_edit(), 1..4)
        )
            .prop_map(|(k, edits)| edits
                .iter()
                .fold(k, |acc, e| edit_str(&acc, e))
                .into_bytes()),
        (
            prop::sample::select(keys),
            labels,
            prop::collection::vec(byte_edit(), 1..4)
        )
            .prop_map(|(k, label, edits)| {
                let (real_label, der) = der_of(&k).expect("the seed keys are PEM");
                let der = edits.iter().fold(der, edit_bytes);
                pem(label.unwrap_or(&real_label), &der).into_bytes()
            }),
        (prop::sample::select(keys), prop::sample::select(keys)).prop_map(|(a, b)| format!(
            "{}{}",
            &a[..a.len() / 2],
            b
        )
        .into_bytes()),
    ]
}

fn write_x509(dir: &Path, pem: &[u8]) -> Result<KeyPair, SigningError> {
    std::fs::write(dir.join("x509.pem"), pem).unwrap();
    signing::load_from_secrets(dir)
}

/// A signer that loaded must sign and name its key.
fn use_key(key: &KeyPair) {
    use chainlet::signing::Signer as _;
    let _ = key.sign(b"payload");
    let _ = key.public_key_der();
    let _ = key.key_id();
}

/// kdf parameters scrypt must never run with: anything but N ∈ {32768, 65536, 131072},
/// r = 8, p = 1, and values of the wrong JSON type or out of range.
fn refused_params() -> impl Strategy<Value = Value> {
    let n = prop_oneof![
        any::<u64>().prop_map(Value::from),
        prop::sample::select(
            &[
                0u64,
                1,
                2,
                32767,
                32769,
                1 << 20,
                1 << 40,
                1 << 63,
                u64::MAX
            ][..]
        )
        .prop_map(Value::from),
        support::json_leaf(),
    ];
    let small = || {
        prop_oneof![
            any::<u32>().prop_map(Value::from),
            prop::sample::select(&[0i64, 1, 8, 9, -8, u32::MAX as i64, 1 << 32][..])
                .prop_map(Value::from),
            support::json_leaf(),
        ]
    };
    (n, small(), small())
        .prop_filter("scrypt would run", |(n, r, p)| {
            let accepted = [32768u64, 65536, 131072]
                .iter()
                .any(|a| n.as_u64() == Some(*a));
            !(accepted && r.as_u64() == Some(8) && p.as_u64() == Some(1))
        })
        .prop_map(|(n, r, p)| serde_json::json!({"N": n, "r": r, "p": p}))
}

/// A cosign key's envelope as JSON, and its label.
fn envelope(key: &str) -> (String, Value) {
    let (label, json) = der_of(key).expect("the seed keys are PEM");
    (
        label,
        serde_json::from_slice(&json).expect("the envelope is JSON"),
    )
}

fn load_cosign(dir: &Path, key: &[u8], password: &[u8]) -> Result<KeyPair, SigningError> {
    std::fs::write(dir.join("cosign.key"), key).unwrap();
    std::fs::write(dir.join("cosign.password"), password).unwrap();
    signing::load_from_secrets(dir)
}

proptest! {
    #![proptest_config(support::cases(256))]

    /// `x509.pem` of any bytes is a key or an error.
    #[test]
    fn any_x509_pem_loads_or_fails(pem in support::any_bytes()) {
        let dir = tempfile::tempdir().unwrap();
        if let Ok(key) = write_x509(dir.path(), &pem) {
            use_key(&key);
        }
    }

    /// `x509.pem` near a real key (text or DER edited) is a key or an error.
    #[test]
    fn near_x509_pem_loads_or_fails(pem in near_pem(plain_keys())) {
        let dir = tempfile::tempdir().unwrap();
        if let Ok(key) = write_x509(dir.path(), &pem) {
            use_key(&key);
        }
    }

    /// A cosign key whose envelope is edited, with kdf parameters scrypt must not run with,
    /// is refused as corrupt, however large N or r is.
    #[test]
    fn cosign_envelope_with_refused_params_is_corrupt(
        which in any::<prop::sample::Index>(),
        params in refused_params(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), json_edit()), 0..4),
        label in prop_oneof![
            Just(None),
            Just(Some(cosign_key::COSIGN_LABEL)),
            Just(Some("PRIVATE KEY")),
        ],
    ) {
        let keys = cosign_keys();
        let (key, password) = &keys[which.index(keys.len())];
        let (real_label, mut doc) = envelope(key);
        doc["kdf"]["params"] = params;
        let doc = edit_json(doc, &edits, &["params"]);
        let text = pem(label.unwrap_or(&real_label), &serde_json::to_vec(&doc).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let got = load_cosign(dir.path(), text.as_bytes(), password);
        prop_assert!(matches!(got, Err(SigningError::Corrupt { .. })), "{:?}", got.err());
    }

    /// A cosign key file of any bytes, or a cosign key cut or with a byte changed, is a key
    /// or an error (scrypt runs only when the parameters survive, which bytes edits rarely
    /// leave).
    #[test]
    fn any_cosign_key_file_loads_or_fails(
        bytes in prop_oneof![
            support::any_bytes(),
            (any::<prop::sample::Index>(), prop::collection::vec(byte_edit(), 1..3))
                .prop_map(|(which, edits)| {
                    let keys = cosign_keys();
                    let (key, _) = &keys[which.index(keys.len())];
                    let mut bytes = edits.iter().fold(key.clone().into_bytes(), edit_bytes);
                    // Keep scrypt out of this property: the params are made unacceptable.
                    if let Some((label, der)) = std::str::from_utf8(&bytes).ok().and_then(der_of)
                        && let Ok(mut doc) = serde_json::from_slice::<Value>(&der)
                        && doc.pointer("/kdf/params/N").is_some()
                    {
                        doc["kdf"]["params"]["N"] = Value::from(u64::MAX);
                        bytes = pem(&label, &serde_json::to_vec(&doc).unwrap()).into_bytes();
                    }
                    bytes
                }),
        ],
        password in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let _ = load_cosign(dir.path(), &bytes, &password);
    }
}

/// With the kdf parameters intact scrypt runs: an edited salt, nonce, ciphertext or password
/// is a wrong password or a corrupt key, never a panic. (About 100 ms a case: few cases.)
#[test]
fn cosign_key_past_scrypt_loads_or_fails() {
    let strategy = (
        any::<prop::sample::Index>(),
        prop::sample::select(&["salt", "nonce", "ciphertext", "password"][..]),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| B64.encode(b)),
            any_string(),
        ],
        prop::sample::select(&["", "\n", "\r\n", "é"][..]),
    );
    support::run_slow(
        file!(),
        4,
        256,
        strategy,
        |(which, field, replacement, newline)| {
            let keys = cosign_keys();
            let (key, password) = &keys[which.index(keys.len())];
            let (label, mut doc) = envelope(key);
            let mut password = password.clone();
            match field {
                "salt" => doc["kdf"]["salt"] = Value::from(replacement),
                "nonce" => doc["cipher"]["nonce"] = Value::from(replacement),
                "ciphertext" => doc["ciphertext"] = Value::from(replacement),
                _ => password = replacement.into_bytes(),
            }
            password.extend_from_slice(newline.as_bytes());
            let text = pem(&label, &serde_json::to_vec(&doc).unwrap());
            let dir = tempfile::tempdir().unwrap();
            if let Ok(key) = load_cosign(dir.path(), text.as_bytes(), &password) {
                use_key(&key);
            }
            Ok(())
        },
    );
}
