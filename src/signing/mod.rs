//! Signing: load the key from the mounted `signing-secrets` Secret, sign bytes, wrap payloads in
//! DSSE envelopes.
//!
//! Chains' precedence is kept: `x509.pem` (an unencrypted PKCS#8 key) wins over
//! `cosign.key` + `cosign.password` (cosign's scrypt + secretbox format). Key material lives in
//! types that zeroize on drop, and no error or log line ever carries key bytes or a password.

pub mod cosign_key;
pub mod dsse;
mod keypair;
mod scrypt;

use std::path::{Path, PathBuf};

pub use keypair::KeyPair;

/// Standard base64 with padding, the encoding of signatures in envelopes and OCI annotations.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Something that signs bytes with a key and can name that key.
///
/// A KMS or Fulcio signer is a new implementation of this trait; nothing else changes.
pub trait Signer: Send + Sync {
    /// Signs `message`: ECDSA keys hash it with SHA-256 and return an ASN.1 DER signature,
    /// Ed25519 signs the message itself and returns 64 bytes.
    fn sign(&self, message: &[u8]) -> Vec<u8>;
    /// The public key as DER SubjectPublicKeyInfo.
    fn public_key_der(&self) -> Vec<u8>;
    /// The key id Chains puts in DSSE envelopes: the SSH SHA256 fingerprint of the public key.
    fn key_id(&self) -> String;
    /// A short description for logs, e.g. `ecdsa-p256 from cosign.key`.
    fn describe(&self) -> String;
}

/// Why no signer could be loaded. Every variant names the file; none carries key material.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("{dir}: no signing key found (expected x509.pem, or cosign.key with cosign.password)")]
    NoKey { dir: PathBuf },
    #[error("{dir}: signing-secrets directory cannot be read: {source}")]
    SecretsDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot be read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: missing; cosign.key needs its password in cosign.password (may be empty)")]
    MissingPassword { path: PathBuf },
    #[error("{path}: cannot decrypt the key: wrong password in {password} or a corrupt key")]
    WrongPassword { path: PathBuf, password: String },
    #[error("{path}: not a valid key: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: unsupported key: {reason}")]
    Unsupported { path: PathBuf, reason: String },
}

/// Loads the signer from a signing-secrets directory, with Chains' precedence:
/// `x509.pem` first, then `cosign.key` + `cosign.password`.
pub fn load_from_secrets(dir: &Path) -> Result<KeyPair, SigningError> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(SigningError::SecretsDir {
                dir: dir.to_owned(),
                source: std::io::Error::other("not a directory"),
            });
        }
        Err(source) => {
            return Err(SigningError::SecretsDir {
                dir: dir.to_owned(),
                source,
            });
        }
    }
    let x509 = dir.join("x509.pem");
    if x509.exists() {
        let pem = read_secret(&x509)?;
        let text = std::str::from_utf8(&pem).map_err(|_| SigningError::Corrupt {
            path: x509.clone(),
            reason: "not a PEM file (not UTF-8)".into(),
        })?;
        return KeyPair::from_pem(text, &x509, "x509.pem");
    }
    let cosign = dir.join("cosign.key");
    if cosign.exists() {
        let key = read_secret(&cosign)?;
        let password_path = dir.join("cosign.password");
        if !password_path.exists() {
            return Err(SigningError::MissingPassword {
                path: password_path,
            });
        }
        let password = read_secret(&password_path)?;
        return cosign_key::decrypt_file(&key, &password, &cosign, &password_path);
    }
    Err(SigningError::NoKey {
        dir: dir.to_owned(),
    })
}

/// Reads a secret file into memory that is wiped on drop. No key file is bigger than a few
/// KiB; a larger one, or anything but a regular file, is refused.
pub(crate) fn read_secret(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>, SigningError> {
    const MAX: u64 = 64 * 1024;
    crate::fsread::read_limited(path, MAX)
        .map(zeroize::Zeroizing::new)
        .map_err(|e| match e {
            crate::fsread::ReadError::Io(source) => SigningError::Read {
                path: path.to_owned(),
                source,
            },
            other => SigningError::Corrupt {
                path: path.to_owned(),
                reason: other.to_string(),
            },
        })
}
