//! cosign's encrypted private key format.
//!
//! A PEM block labelled `ENCRYPTED SIGSTORE PRIVATE KEY` (cosign ≥ 2) or
//! `ENCRYPTED COSIGN PRIVATE KEY` (cosign 1, skopeo) around JSON:
//! `{"kdf":{"name":"scrypt","params":{"N":…,"r":8,"p":1},"salt":…},
//!   "cipher":{"name":"nacl/secretbox","nonce":…},"ciphertext":…}` with standard base64 byte
//! strings. The secretbox key is scrypt(password, salt, N, r, p) with 32 bytes of output; the
//! plaintext is a DER PKCS#8 private key.

use std::path::Path;

use crypto_secretbox::aead::{Aead as _, KeyInit as _};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::keypair::{pem_encode, pem_rfc7468_decode};
use super::{KeyPair, SigningError};

/// The label cosign 2 writes; chainlet writes it too.
pub const SIGSTORE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The label cosign 1 and skopeo write; still read by cosign and Chains.
pub const COSIGN_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

/// scrypt work factors found in keys written by cosign (65536), older cosign and sigstore-rs
/// (32768) and the "high" setting (131072). Anything else is refused rather than risk an
/// attacker-chosen N that eats the pod's memory.
const ACCEPTED_N: [u64; 3] = [32768, 65536, 131072];
/// The work factor `chainlet generate-key-pair` uses, as `cosign generate-key-pair` does.
pub const GENERATE_N: u64 = 65536;

#[derive(Serialize, Deserialize)]
struct EncryptedKey {
    kdf: Kdf,
    cipher: Cipher,
    #[serde(with = "b64")]
    ciphertext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    #[serde(with = "b64")]
    salt: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    #[serde(with = "b64")]
    nonce: Vec<u8>,
}

mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(|_| serde::de::Error::custom("invalid base64"))
    }
}

/// Decrypts a cosign key file with its password. `key_path` and `password_path` only name the
/// files in errors.
///
/// Chains passes the bytes of `cosign.password` unchanged. A Secret made with
/// `kubectl create secret --from-file` often keeps the editor's trailing newline, so when the
/// exact bytes fail and they end in a newline, the trimmed password is tried once more.
pub fn decrypt_file(
    pem: &[u8],
    password: &[u8],
    key_path: &Path,
    password_path: &Path,
) -> Result<KeyPair, SigningError> {
    match decrypt(pem, password, key_path, password_path) {
        Err(SigningError::WrongPassword { .. }) if password.ends_with(b"\n") => {
            let trimmed = password
                .strip_suffix(b"\r\n")
                .or_else(|| password.strip_suffix(b"\n"))
                .unwrap_or(password);
            let key = decrypt(pem, trimmed, key_path, password_path)?;
            tracing::warn!(
                file = %password_path.display(),
                "the password file ends with a newline; the key decrypted without it"
            );
            Ok(key)
        }
        other => other,
    }
}

fn decrypt(
    pem: &[u8],
    password: &[u8],
    key_path: &Path,
    password_path: &Path,
) -> Result<KeyPair, SigningError> {
    let corrupt = |reason: &str| SigningError::Corrupt {
        path: key_path.to_owned(),
        reason: reason.to_owned(),
    };
    let text = std::str::from_utf8(pem).map_err(|_| corrupt("not a PEM file (not UTF-8)"))?;
    let (label, body) = pem_rfc7468_decode(text).map_err(|_| corrupt("not a PEM block"))?;
    if label != SIGSTORE_LABEL && label != COSIGN_LABEL {
        return Err(corrupt(&format!(
            "PEM block is {label:?}, expected {SIGSTORE_LABEL:?} or {COSIGN_LABEL:?}"
        )));
    }
    let enc: EncryptedKey = serde_json::from_slice(&body)
        .map_err(|e| corrupt(&format!("encrypted key JSON: {}", e)))?;
    if enc.kdf.name != "scrypt" {
        return Err(corrupt(&format!(
            "kdf {:?} is not supported (only scrypt)",
            enc.kdf.name
        )));
    }
    if enc.cipher.name != "nacl/secretbox" {
        return Err(corrupt(&format!(
            "cipher {:?} is not supported (only nacl/secretbox)",
            enc.cipher.name
        )));
    }
    let ScryptParams { n, r, p } = enc.kdf.params;
    if !ACCEPTED_N.contains(&n) || r != 8 || p != 1 {
        return Err(corrupt(&format!(
            "scrypt parameters N={n} r={r} p={p} are not accepted (N must be one of 32768, \
             65536, 131072 with r=8, p=1)"
        )));
    }
    if enc.cipher.nonce.len() != 24 {
        return Err(corrupt("secretbox nonce must be 24 bytes"));
    }
    let box_key = derive_key(password, &enc.kdf.salt, n);
    let cipher = crypto_secretbox::XSalsa20Poly1305::new_from_slice(box_key.as_ref())
        .expect("a 32-byte key is valid");
    let nonce = crypto_secretbox::Nonce::from_slice(&enc.cipher.nonce);
    let plain = Zeroizing::new(
        cipher
            .decrypt(nonce, enc.ciphertext.as_slice())
            .map_err(|_| SigningError::WrongPassword {
                path: key_path.to_owned(),
                password: password_path.display().to_string(),
            })?,
    );
    KeyPair::from_pkcs8_der(&plain, key_path, "cosign.key")
}

/// Encrypts a key as `cosign generate-key-pair` does: scrypt N=65536, r=8, p=1, a fresh 32-byte
/// salt and 24-byte nonce, and the `ENCRYPTED SIGSTORE PRIVATE KEY` label. Fails only when the
/// operating system's random source does.
pub fn encrypt(key: &KeyPair, password: &[u8]) -> Result<String, getrandom::Error> {
    let mut salt = vec![0u8; 32];
    let mut nonce = vec![0u8; 24];
    getrandom::fill(&mut salt)?;
    getrandom::fill(&mut nonce)?;
    let box_key = derive_key(password, &salt, GENERATE_N);
    let cipher = crypto_secretbox::XSalsa20Poly1305::new_from_slice(box_key.as_ref())
        .expect("a 32-byte key is valid");
    let der = key.to_pkcs8_der();
    let ciphertext = cipher
        .encrypt(crypto_secretbox::Nonce::from_slice(&nonce), der.as_slice())
        .expect("secretbox encryption cannot fail");
    let enc = EncryptedKey {
        kdf: Kdf {
            name: "scrypt".into(),
            params: ScryptParams {
                n: GENERATE_N,
                r: 8,
                p: 1,
            },
            salt,
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce,
        },
        ciphertext,
    };
    let json = serde_json::to_vec(&enc).expect("serialising the key envelope cannot fail");
    Ok(pem_encode(SIGSTORE_LABEL, &json))
}

fn derive_key(password: &[u8], salt: &[u8], n: u64) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    super::scrypt::derive(password, salt, n.trailing_zeros() as u8, 8, out.as_mut());
    out
}
