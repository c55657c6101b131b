//! In-memory private keys: ECDSA P-256, ECDSA P-384 and Ed25519, loaded from PKCS#8 (or SEC1
//! for EC keys).

use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use p256::ecdsa::signature::hazmat::PrehashSigner as _;
use p256::pkcs8::{EncodePublicKey as _, der::Decode as _};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::{Signer, SigningError};

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_ED25519: &str = "1.3.101.112";

/// A private key with the public half and its display name. The secret parts zeroize on drop
/// (the RustCrypto key types do that themselves) and `Debug` never shows them.
pub struct KeyPair {
    key: Key,
    source: &'static str,
}

enum Key {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair({})", self.describe())
    }
}

impl KeyPair {
    /// Parses a PEM private key: `PRIVATE KEY` (PKCS#8 v1 or v2) or `EC PRIVATE KEY` (SEC1).
    /// `path` only names the file in errors; `source` names the key's origin in logs.
    pub fn from_pem(pem: &str, path: &Path, source: &'static str) -> Result<Self, SigningError> {
        let corrupt = |reason: &str| SigningError::Corrupt {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let (label, der) = pem_rfc7468_decode(pem).map_err(|_| corrupt("not a PEM private key"))?;
        match label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&der, path, source),
            "EC PRIVATE KEY" => {
                if let Ok(k) = p256::SecretKey::from_sec1_der(&der) {
                    return Ok(Self::new(Key::P256(k.into()), source));
                }
                if let Ok(k) = p384::SecretKey::from_sec1_der(&der) {
                    return Ok(Self::new(Key::P384(k.into()), source));
                }
                Err(SigningError::Unsupported {
                    path: path.to_owned(),
                    reason: "EC key on a curve other than P-256 or P-384".into(),
                })
            }
            "ENCRYPTED PRIVATE KEY" => Err(SigningError::Unsupported {
                path: path.to_owned(),
                reason: "x509.pem must be an unencrypted PKCS#8 key (BEGIN PRIVATE KEY); \
                         use cosign.key + cosign.password for an encrypted key"
                    .into(),
            }),
            other => Err(corrupt(&format!(
                "PEM block is {other:?}, expected \"PRIVATE KEY\""
            ))),
        }
    }

    /// Parses a DER PKCS#8 `PrivateKeyInfo` (v1, or v2 with the public key as Ed25519 keys
    /// from sigstore-rs carry it).
    pub fn from_pkcs8_der(
        der: &[u8],
        path: &Path,
        source: &'static str,
    ) -> Result<Self, SigningError> {
        let corrupt = |reason: &str| SigningError::Corrupt {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let info = p256::pkcs8::PrivateKeyInfoRef::from_der(der)
            .map_err(|_| corrupt("not a PKCS#8 private key"))?;
        let alg = info.algorithm.oid.to_string();
        let key = match alg.as_str() {
            OID_EC_PUBLIC_KEY => {
                let curve = info
                    .algorithm
                    .parameters_oid()
                    .map(|o| o.to_string())
                    .unwrap_or_default();
                match curve.as_str() {
                    OID_P256 => Key::P256(
                        p256::ecdsa::SigningKey::from_pkcs8_der(der)
                            .map_err(|_| corrupt("invalid ECDSA P-256 key"))?,
                    ),
                    OID_P384 => Key::P384(
                        p384::ecdsa::SigningKey::from_pkcs8_der(der)
                            .map_err(|_| corrupt("invalid ECDSA P-384 key"))?,
                    ),
                    _ => {
                        return Err(SigningError::Unsupported {
                            path: path.to_owned(),
                            reason: format!(
                                "ECDSA curve {curve}; chainlet signs with P-256, P-384 or Ed25519"
                            ),
                        });
                    }
                }
            }
            OID_ED25519 => Key::Ed25519(
                ed25519_dalek::SigningKey::from_pkcs8_der(der)
                    .map_err(|_| corrupt("invalid Ed25519 key"))?,
            ),
            other => {
                return Err(SigningError::Unsupported {
                    path: path.to_owned(),
                    reason: format!(
                        "key algorithm {}; chainlet signs with ECDSA P-256, P-384 or Ed25519",
                        algorithm_name(other)
                    ),
                });
            }
        };
        Ok(Self::new(key, source))
    }

    /// A fresh random ECDSA P-256 key, as `cosign generate-key-pair` makes. Fails only when
    /// the operating system's random source does.
    pub fn generate_p256() -> Result<Self, getrandom::Error> {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            getrandom::fill(bytes.as_mut())?;
            if let Ok(k) = p256::ecdsa::SigningKey::from_slice(bytes.as_ref()) {
                return Ok(Self::new(Key::P256(k), "generated"));
            }
        }
    }

    /// The private key as DER PKCS#8, in memory that is wiped on drop.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        use p256::pkcs8::EncodePrivateKey as _;
        let doc = match &self.key {
            Key::P256(k) => k.to_pkcs8_der(),
            Key::P384(k) => k.to_pkcs8_der(),
            Key::Ed25519(k) => k.to_pkcs8_der(),
        }
        .expect("encoding a valid key as PKCS#8 cannot fail");
        Zeroizing::new(doc.as_bytes().to_vec())
    }

    /// The public key as a `PUBLIC KEY` PEM block, as cosign writes `cosign.pub`.
    pub fn public_key_pem(&self) -> String {
        pem_encode("PUBLIC KEY", &self.public_key_der())
    }

    fn new(key: Key, source: &'static str) -> Self {
        Self { key, source }
    }

    fn algorithm(&self) -> &'static str {
        match self.key {
            Key::P256(_) => "ecdsa-p256",
            Key::P384(_) => "ecdsa-p384",
            Key::Ed25519(_) => "ed25519",
        }
    }

    /// The public key in SSH wire format (RFC 4253 / RFC 5656 / RFC 8709), the input of the
    /// fingerprint Chains uses as DSSE keyid.
    fn ssh_public_key(&self) -> Vec<u8> {
        fn put(out: &mut Vec<u8>, s: &[u8]) {
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s);
        }
        let mut out = Vec::new();
        match &self.key {
            Key::P256(k) => {
                put(&mut out, b"ecdsa-sha2-nistp256");
                put(&mut out, b"nistp256");
                put(&mut out, k.verifying_key().to_sec1_point(false).as_bytes());
            }
            Key::P384(k) => {
                put(&mut out, b"ecdsa-sha2-nistp384");
                put(&mut out, b"nistp384");
                put(&mut out, k.verifying_key().to_sec1_point(false).as_bytes());
            }
            Key::Ed25519(k) => {
                put(&mut out, b"ssh-ed25519");
                put(&mut out, k.verifying_key().as_bytes());
            }
        }
        out
    }
}

impl Signer for KeyPair {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, super::SignError> {
        Ok(match &self.key {
            // Chains and cosign sign with SHA-256 for every ECDSA curve (sigstore's signers
            // are loaded with crypto.SHA256), so P-384 signs a SHA-256 prehash too.
            Key::P256(k) => {
                let sig: p256::ecdsa::Signature = k
                    .sign_prehash(&Sha256::digest(message))
                    .expect("signing a 32-byte prehash cannot fail");
                sig.to_der().as_bytes().to_vec()
            }
            Key::P384(k) => {
                let sig: p384::ecdsa::Signature = k
                    .sign_prehash(&Sha256::digest(message))
                    .expect("signing a 32-byte prehash cannot fail");
                sig.to_der().as_bytes().to_vec()
            }
            Key::Ed25519(k) => {
                use ed25519_dalek::Signer as _;
                k.sign(message).to_bytes().to_vec()
            }
        })
    }

    fn public_key_der(&self) -> Vec<u8> {
        let doc = match &self.key {
            Key::P256(k) => k.verifying_key().to_public_key_der(),
            Key::P384(k) => k.verifying_key().to_public_key_der(),
            Key::Ed25519(k) => {
                use ed25519_dalek::pkcs8::EncodePublicKey as _;
                k.verifying_key().to_public_key_der()
            }
        }
        .expect("encoding a valid public key cannot fail");
        doc.as_bytes().to_vec()
    }

    fn key_id(&self) -> String {
        let digest = Sha256::digest(self.ssh_public_key());
        format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
        )
    }

    fn describe(&self) -> String {
        format!("{} from {}", self.algorithm(), self.source)
    }
}

fn algorithm_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.1" => "RSA".into(),
        "1.3.101.113" => "Ed448".into(),
        other => format!("with OID {other}"),
    }
}

/// Decodes the first PEM block into (label, DER), ignoring anything after it (a certificate
/// after the key, as Go's `pem.Decode` does). The DER is wiped on drop.
pub(crate) fn pem_rfc7468_decode(pem: &str) -> Result<(String, Zeroizing<Vec<u8>>), ()> {
    let start = pem.find("-----BEGIN ").ok_or(())?;
    let rest = &pem[start..];
    let label_end = rest[11..].find("-----").ok_or(())? + 11;
    let end_marker = format!("-----END {}-----", &rest[11..label_end]);
    let end = rest.find(&end_marker).ok_or(())? + end_marker.len();
    let (label, der) = pem_rfc7468::decode_vec(&rest.as_bytes()[..end]).map_err(|_| ())?;
    Ok((label.to_owned(), Zeroizing::new(der)))
}

/// Encodes DER as a PEM block with 64-character lines and a trailing newline, as Go's
/// `encoding/pem` writes it.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
