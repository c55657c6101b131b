//! A signer whose private key lives elsewhere (a KMS): the public key is read once when the
//! signer opens, every signature is one call that can fail.
//!
//! A provider implements [`DigestSign`] (send a digest, get a signature back) and hands it to
//! [`RemoteSigner::new`] with the public key the service returned. Hashing, the key id, the
//! description and the parallelism are the same for every provider and live here.

use base64::Engine as _;
use sha2::{Digest as _, Sha256, Sha384};

use super::{SignError, Signer, SigningError};

/// The hash a remote key signs: Chains asks sigstore's KMS clients for SHA-256, and a service
/// whose key type fixes another hash (AWS `ECDSA_SHA_384` for P-384) says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    pub fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(message).to_vec(),
            Hash::Sha384 => Sha384::digest(message).to_vec(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Hash::Sha256 => "sha2-256",
            Hash::Sha384 => "sha2-384",
        }
    }
}

/// What a public key is, as far as signing with it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    EcdsaP256,
    EcdsaP384,
    Ed25519,
    Rsa { bits: usize },
}

impl KeyKind {
    pub fn name(self) -> String {
        match self {
            KeyKind::EcdsaP256 => "ecdsa-p256".into(),
            KeyKind::EcdsaP384 => "ecdsa-p384".into(),
            KeyKind::Ed25519 => "ed25519".into(),
            KeyKind::Rsa { bits } => format!("rsa-{bits}"),
        }
    }
}

/// A public key read from a service, parsed from DER SubjectPublicKeyInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub der: Vec<u8>,
    pub kind: KeyKind,
    /// The key in SSH wire format: the input of the fingerprint Chains uses as DSSE keyid.
    ssh: Vec<u8>,
}

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_ED25519: &str = "1.3.101.112";
const OID_RSA: &str = "1.2.840.113549.1.1.1";

impl PublicKey {
    /// Parses DER SubjectPublicKeyInfo; the error says what the key is when it is not one
    /// chainlet signs with.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, String> {
        use p256::pkcs8::der::Decode as _;
        let spki = p256::pkcs8::spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| format!("the public key is not DER SubjectPublicKeyInfo: {e}"))?;
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or("the public key's bit string is not whole bytes")?;
        let mut ssh = Vec::new();
        let kind = match spki.algorithm.oid.to_string().as_str() {
            OID_EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters_oid()
                    .map(|o| o.to_string())
                    .unwrap_or_default();
                let (kind, name, len) = match curve.as_str() {
                    OID_P256 => (KeyKind::EcdsaP256, "nistp256", 65),
                    OID_P384 => (KeyKind::EcdsaP384, "nistp384", 97),
                    other => {
                        return Err(format!(
                            "an ECDSA key on curve {other}; chainlet signs with P-256 or P-384"
                        ));
                    }
                };
                if bits.len() != len || bits[0] != 4 {
                    return Err(format!(
                        "an ECDSA {name} key that is not an uncompressed point"
                    ));
                }
                put(&mut ssh, format!("ecdsa-sha2-{name}").as_bytes());
                put(&mut ssh, name.as_bytes());
                put(&mut ssh, bits);
                kind
            }
            OID_ED25519 => {
                if bits.len() != 32 {
                    return Err("an Ed25519 key that is not 32 bytes".into());
                }
                put(&mut ssh, b"ssh-ed25519");
                put(&mut ssh, bits);
                KeyKind::Ed25519
            }
            OID_RSA => {
                use rsa::pkcs8::DecodePublicKey as _;
                use rsa::traits::PublicKeyParts as _;
                let key = rsa::PublicKey::from_public_key_der(der)
                    .map_err(|e| format!("an RSA public key that does not parse: {e}"))?;
                put(&mut ssh, b"ssh-rsa");
                put(&mut ssh, &mpint(&key.e().to_be_bytes_trimmed_vartime()));
                put(&mut ssh, &mpint(&key.n().to_be_bytes_trimmed_vartime()));
                KeyKind::Rsa {
                    bits: key.n().bit_width() as usize,
                }
            }
            other => {
                return Err(format!(
                    "a key of algorithm {other}; chainlet signs with ECDSA P-256/P-384, Ed25519 or RSA"
                ));
            }
        };
        Ok(Self {
            der: der.to_vec(),
            kind,
            ssh,
        })
    }

    /// Parses a `PUBLIC KEY` PEM block (what most KMS APIs return).
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let (label, der) = super::keypair::pem_rfc7468_decode(pem)
            .map_err(|_| "the public key is not PEM".to_owned())?;
        if label != "PUBLIC KEY" {
            return Err(format!(
                "the public key's PEM block is {label:?}, expected \"PUBLIC KEY\""
            ));
        }
        Self::from_spki_der(&der)
    }

    /// The SSH SHA256 fingerprint, as Chains computes the DSSE keyid.
    pub fn key_id(&self) -> String {
        format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(&self.ssh))
        )
    }
}

fn put(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

/// An SSH mpint of a non-negative big-endian integer: a leading zero when the top bit is set.
fn mpint(be: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = match be.iter().position(|&b| b != 0) {
        Some(i) => &be[i..],
        None => &[],
    };
    let mut out = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(trimmed);
    out
}

/// One signature from a remote key: the provider sends `digest` (of `hash`) to its service and
/// returns the signature as the service gives it — ASN.1 DER for ECDSA, PKCS#1 v1.5 bytes for
/// RSA. The error is one line for the log; it must not carry a token.
pub trait DigestSign: Send + Sync {
    fn sign_digest(&self, digest: &[u8], hash: Hash) -> Result<Vec<u8>, String>;
}

/// A [`Signer`] over a remote key.
pub struct RemoteSigner {
    reference: String,
    public: PublicKey,
    hash: Hash,
    remote: Box<dyn DigestSign>,
}

impl RemoteSigner {
    /// `reference` names the key in logs and errors (`hashivault://release`); `hash` is what
    /// each message is hashed with before it is sent.
    pub fn new(
        reference: &str,
        public: PublicKey,
        hash: Hash,
        remote: Box<dyn DigestSign>,
    ) -> Result<Self, SigningError> {
        if public.kind == KeyKind::Ed25519 {
            return Err(SigningError::Kms {
                reference: reference.to_owned(),
                reason:
                    "the key is Ed25519, which signs messages, not digests; use an ECDSA or RSA key"
                        .into(),
            });
        }
        Ok(Self {
            reference: reference.to_owned(),
            public,
            hash,
            remote,
        })
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }
}

impl Signer for RemoteSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let digest = self.hash.digest(message);
        self.remote
            .sign_digest(&digest, self.hash)
            .map_err(|reason| SignError {
                signer: self.reference.clone(),
                reason,
            })
    }

    fn public_key_der(&self) -> Vec<u8> {
        self.public.der.clone()
    }

    fn key_id(&self) -> String {
        self.public.key_id()
    }

    fn describe(&self) -> String {
        format!("{} in {}", self.public.kind.name(), self.reference)
    }

    fn parallelism(&self) -> usize {
        8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::KeyPair;

    #[test]
    fn key_id_matches_the_local_signer_for_the_same_key() {
        let local = KeyPair::generate_p256().unwrap();
        let public = PublicKey::from_spki_der(&local.public_key_der()).unwrap();
        assert_eq!(public.kind, KeyKind::EcdsaP256);
        assert_eq!(public.key_id(), local.key_id());
        let from_pem = PublicKey::from_pem(&local.public_key_pem()).unwrap();
        assert_eq!(from_pem, public);
    }

    #[test]
    fn rsa_keys_get_ssh_rsa_fingerprints() {
        // ssh-keygen -l -E sha256 of an RSA key is SHA-256 over "ssh-rsa", e, n as mpints.
        use rsa::pkcs8::EncodePublicKey as _;
        let n = rsa::BoxedUint::from_be_slice_vartime(&[0xC5; 256]);
        let key = rsa::PublicKey::new(n, rsa::BoxedUint::from(65537u32)).unwrap();
        let der = key.to_public_key_der().unwrap();
        let public = PublicKey::from_spki_der(der.as_bytes()).unwrap();
        assert_eq!(public.kind, KeyKind::Rsa { bits: 2048 });
        let mut want = Vec::new();
        put(&mut want, b"ssh-rsa");
        put(&mut want, &[1, 0, 1]);
        let mut n = vec![0u8];
        n.extend_from_slice(&[0xC5; 256]);
        put(&mut want, &n);
        assert_eq!(public.ssh, want);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(PublicKey::from_spki_der(b"").is_err());
        assert!(PublicKey::from_spki_der(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        assert!(
            PublicKey::from_pem("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n")
                .is_err()
        );
    }
}
