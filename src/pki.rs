//! X.509 certificate chains: the public key a certificate holds, verifying what it signed,
//! and checking a chain up to its root at a given time. Used for the timestamp authority's
//! chain (`transparency::tsa`) and the Fulcio signing certificate (`signing::fulcio`).

use der::asn1::{AnyRef, ObjectIdentifier};
use der::{Decode as _, Encode as _};
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use x509_cert::Certificate;

pub const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
pub const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
pub const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
pub const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
pub const RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
pub const RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
pub const EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

/// Why a chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    Chain(String),
    Unsupported(String),
}

impl std::fmt::Display for ChainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainError::Chain(m) => f.write_str(m),
            ChainError::Unsupported(m) => write!(f, "{m} is not supported"),
        }
    }
}

/// A signature that does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadSignature;

/// A digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub fn from_oid(oid: ObjectIdentifier) -> Option<Self> {
        match oid {
            SHA256 => Some(Self::Sha256),
            SHA384 => Some(Self::Sha384),
            SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The hash of a certificate signature algorithm (ECDSA or RSA PKCS#1 v1.5 with SHA-2).
    pub fn of_signature_algorithm(oid: ObjectIdentifier) -> Option<Self> {
        match oid {
            ECDSA_SHA256 | RSA_SHA256 => Some(Self::Sha256),
            ECDSA_SHA384 | RSA_SHA384 => Some(Self::Sha384),
            ECDSA_SHA512 | RSA_SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha384 => Sha384::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// A certificate's (or a bare key's) public key, for the signatures it makes.
pub enum CertKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Rsa(Box<rsa::PublicKey>),
    /// Ed25519 signs the message itself: [`CertKey::verify`] ignores the hash for it, and
    /// [`CertKey::verify_digest`] refuses it.
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl CertKey {
    /// The key of `cert`; `whose` names it in errors ("an issuer's").
    pub fn of(cert: &Certificate, whose: &str) -> Result<Self, ChainError> {
        let spki = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| ChainError::Chain(format!("{whose} public key: {e}")))?;
        Self::from_spki_der(&spki).ok_or_else(|| {
            ChainError::Unsupported(format!(
                "{whose} public key (not ECDSA P-256, P-384, RSA or Ed25519)"
            ))
        })
    }

    /// A DER SubjectPublicKeyInfo of ECDSA P-256, P-384, RSA or Ed25519.
    pub fn from_spki_der(spki: &[u8]) -> Option<Self> {
        use p256::pkcs8::DecodePublicKey as _;
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(spki) {
            return Some(Self::P256(k));
        }
        if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(spki) {
            return Some(Self::P384(k));
        }
        if let Ok(k) = rsa::PublicKey::from_public_key_der(spki) {
            return Some(Self::Rsa(Box::new(k)));
        }
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(spki) {
            return Some(Self::Ed25519(k));
        }
        None
    }

    /// What kind of key this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::P256(_) => "ECDSA P-256",
            Self::P384(_) => "ECDSA P-384",
            Self::Rsa(_) => "RSA",
            Self::Ed25519(_) => "Ed25519",
        }
    }

    /// Verifies `sig` (ECDSA ASN.1 DER, RSA PKCS#1 v1.5, Ed25519) over `hash` of `message`
    /// (Ed25519: over `message` itself).
    pub fn verify(&self, hash: Hash, message: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
        if let Self::Ed25519(k) = self {
            return ed25519_dalek::Signature::from_slice(sig)
                .ok()
                .filter(|s| ed25519_dalek::Verifier::verify(k, message, s).is_ok())
                .map(|_| ())
                .ok_or(BadSignature);
        }
        self.verify_digest(hash, &hash.digest(message), sig)
    }

    /// Verifies `sig` over a message whose `hash` is `digest` (a prehash). Ed25519 signs the
    /// message, not a digest: always [`BadSignature`].
    pub fn verify_digest(&self, hash: Hash, digest: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        if digest.len() != hash.digest(b"").len() {
            return Err(BadSignature);
        }
        let ok = match self {
            Self::P256(k) => p256::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| k.verify_prehash(digest, &s).is_ok()),
            Self::P384(k) => p384::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| k.verify_prehash(digest, &s).is_ok()),
            Self::Rsa(k) => {
                let scheme = match hash {
                    Hash::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
                    Hash::Sha384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
                    Hash::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
                };
                k.verify(scheme, digest, sig).is_ok()
            }
            Self::Ed25519(_) => false,
        };
        if ok { Ok(()) } else { Err(BadSignature) }
    }
}

/// The TBSCertificate bytes of a certificate's DER, as they were signed.
pub fn tbs_bytes(cert_der: &[u8]) -> Result<Vec<u8>, ChainError> {
    let bad = |e: der::Error| ChainError::Chain(format!("a certificate is not DER: {e}"));
    let outer = AnyRef::from_der(cert_der).map_err(bad)?;
    let mut reader = der::SliceReader::new(outer.value()).map_err(bad)?;
    AnyRef::decode(&mut reader)
        .and_then(|tbs| tbs.to_der())
        .map_err(bad)
}

/// Checks a chain (leaf first, root last) at time `at` (seconds since the epoch): the leaf has
/// extended key usage `leaf_eku` (named `eku_name` in errors) and every certificate is valid at
/// `at`; each is signed by the next, which is a CA; the last is self-signed (the anchor, which
/// the caller took from a trusted root).
pub fn check_chain(
    chain: &[(Certificate, &[u8])],
    at: i64,
    leaf_eku: ObjectIdentifier,
    eku_name: &str,
) -> Result<(), ChainError> {
    if chain.is_empty() {
        return Err(ChainError::Chain("no certificate".into()));
    }
    let mut has_eku = false;
    for (i, (cert, cert_der)) in chain.iter().enumerate() {
        let tbs = cert.tbs_certificate();
        let subject = tbs.subject().to_string();
        let validity = tbs.validity();
        let secs = |t: x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
        if at < secs(validity.not_before) || at > secs(validity.not_after) {
            return Err(ChainError::Chain(format!(
                "{subject:?} is not valid at {at}"
            )));
        }
        let mut is_ca = false;
        for ext in tbs.extensions().into_iter().flatten() {
            match ext.extn_id {
                EKU if i == 0 => {
                    let eku =
                        x509_cert::ext::pkix::ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())
                            .map_err(|e| {
                                ChainError::Chain(format!("{subject:?} extended key usage: {e}"))
                            })?;
                    has_eku = eku.0.contains(&leaf_eku);
                }
                BASIC_CONSTRAINTS if i > 0 => {
                    let bc =
                        x509_cert::ext::pkix::BasicConstraints::from_der(ext.extn_value.as_bytes())
                            .map_err(|e| {
                                ChainError::Chain(format!("{subject:?} basic constraints: {e}"))
                            })?;
                    is_ca = bc.ca;
                }
                _ => {}
            }
        }
        if i > 0 && !is_ca {
            return Err(ChainError::Chain(format!("{subject:?} is not a CA")));
        }
        // The issuer: the next certificate, or the root itself.
        let issuer = chain.get(i + 1).map_or(cert, |(c, _)| c);
        if i + 1 == chain.len() && tbs.issuer() != tbs.subject() {
            return Err(ChainError::Chain(format!(
                "it ends at {subject:?}, which is not self-signed (its issuer {:?} is not given)",
                tbs.issuer().to_string()
            )));
        }
        if tbs.issuer() != issuer.tbs_certificate().subject() {
            return Err(ChainError::Chain(format!(
                "{subject:?} is not issued by {:?}",
                issuer.tbs_certificate().subject().to_string()
            )));
        }
        let oid = cert.signature_algorithm().oid;
        let hash = Hash::of_signature_algorithm(oid).ok_or_else(|| {
            ChainError::Unsupported(format!("certificate signature algorithm {oid}"))
        })?;
        let sig = cert.signature().as_bytes().ok_or_else(|| {
            ChainError::Chain(format!("{subject:?} signature is not whole bytes"))
        })?;
        CertKey::of(issuer, "an issuer's")?
            .verify(hash, &tbs_bytes(cert_der)?, sig)
            .map_err(|BadSignature| {
                ChainError::Chain(format!("{subject:?} signature does not verify"))
            })?;
    }
    if !has_eku {
        return Err(ChainError::Chain(format!(
            "the leaf certificate has no {eku_name} extended key usage"
        )));
    }
    Ok(())
}
