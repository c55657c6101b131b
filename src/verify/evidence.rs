//! One stored signature and what vouches for it: the signer's key or certificate, the
//! transparency log's entry and timestamps. [`check`] decides whether it is trusted.
//!
//! The callers ([`super`]) find the evidence (cosign's `.sig`/`.att` layers and their
//! annotations, OCI 1.1 referrers holding Sigstore bundles, local files) and read what was
//! signed; this file only judges it. Everything here is untrusted input: every parser returns
//! an error, never panics.

use std::time::SystemTime;

use crate::pki::{CertKey, Hash};
use crate::transparency::trust::TrustedRoot;

/// What the signature is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedBytes {
    /// The exact bytes (a simple-signing payload, or a DSSE envelope's PAE).
    Message(Vec<u8>),
    /// Only a digest of them (a Sigstore bundle's `messageSignature`).
    Digest(Hash, Vec<u8>),
}

/// A transparency log entry as it was stored next to the signature.
#[derive(Debug, Clone, PartialEq)]
pub enum TlogEvidence {
    /// cosign's `dev.sigstore.cosign/bundle` layer annotation (a Rekor v1 SET and its payload).
    CosignBundle(Vec<u8>),
    /// One of a Sigstore bundle's `verificationMaterial.tlogEntries`.
    BundleEntry(serde_json::Value),
}

/// One signature with everything stored beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// Where it was found, for reasons: `registry/repo:sha256-….att layer 2`, a file name.
    pub place: String,
    pub signed: SignedBytes,
    /// The raw signature (ECDSA ASN.1 DER, Ed25519 64 bytes, RSA PKCS#1 v1.5).
    pub signature: Vec<u8>,
    /// The signing certificate (DER), when one was stored (keyless).
    pub certificate: Option<Vec<u8>>,
    /// Its chain (DER, issuer first), when stored.
    pub chain: Vec<Vec<u8>>,
    pub tlog: Vec<TlogEvidence>,
    /// RFC 3161 timestamps over the signature (DER `TimeStampResp` or bare token).
    pub timestamps: Vec<Vec<u8>>,
}

/// A string a certificate's field must match.
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    /// A regular expression, anchored as cosign's `--certificate-identity-regexp` is not: it
    /// matches anywhere unless it says `^…$`.
    Regexp(String),
}

/// Which keyless signers are trusted: a Fulcio certificate's subject alternative name and its
/// OIDC issuer extension.
#[derive(Debug, Clone)]
pub struct Identity {
    pub subject: Matcher,
    pub issuer: Matcher,
}

/// Whether a transparency log entry (or timestamp) must be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Checked when present, not required.
    IfPresent,
    /// Must be present and verify.
    Required,
    /// Not looked at (cosign's `--insecure-ignore-tlog`).
    Ignored,
}

/// What the verifier trusts.
pub struct Trust {
    /// A public key (`--key`): signatures must verify with it.
    pub key: Option<PublicKey>,
    /// A keyless identity: the certificate must chain to `root`'s Fulcio CAs and match.
    pub identity: Option<Identity>,
    /// Logs, timestamp authorities and Fulcio CAs (`--trusted-root`).
    pub root: Option<TrustedRoot>,
    pub tlog: Requirement,
    pub timestamp: Requirement,
}

/// A verification key read from a PEM file.
pub struct PublicKey {
    pub key: CertKey,
    /// DER SubjectPublicKeyInfo, for hints and the keyid.
    pub spki: Vec<u8>,
}

impl PublicKey {
    /// A PEM `PUBLIC KEY` (cosign.pub) of ECDSA P-256/P-384 or RSA.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let (label, der) = pem_rfc7468::decode_vec(text.trim().as_bytes())
            .map_err(|e| format!("not a PEM public key: {e}"))?;
        if label != "PUBLIC KEY" {
            return Err(format!("a PEM {label:?}, not a \"PUBLIC KEY\""));
        }
        let key = CertKey::from_spki_der(&der)
            .ok_or("the public key is not ECDSA P-256, P-384 or RSA")?;
        Ok(Self { key, spki: der })
    }
}

/// What a trusted signature tells the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Who signed: `key` or the certificate's identity (`user@example.com`, a SPIFFE or
    /// Kubernetes service-account URI), with its issuer.
    pub signer: String,
    pub issuer: Option<String>,
    /// The log entry's index, when one was checked.
    pub log_index: Option<u64>,
    /// The trusted signing time (the log's integrated time or a timestamp's genTime), seconds
    /// since the epoch, when one was checked.
    pub signed_at: Option<i64>,
}

/// Judges one signature. `Err` is a one-line reason naming `evidence.place`.
pub fn check(evidence: &Evidence, trust: &Trust, now: SystemTime) -> Result<Checked, String> {
    let _ = now;
    let at = &evidence.place;
    if trust.identity.is_some() || evidence.certificate.is_some() && trust.key.is_none() {
        return Err(format!(
            "{at}: certificate identities are not supported yet"
        ));
    }
    if trust.tlog == Requirement::Required || trust.timestamp == Requirement::Required {
        return Err(format!(
            "{at}: transparency log and timestamp checks are not supported yet"
        ));
    }
    let Some(key) = &trust.key else {
        return Err(format!("{at}: no key to verify the signature with"));
    };
    let ok = match &evidence.signed {
        SignedBytes::Message(m) => key.key.verify(Hash::Sha256, m, &evidence.signature).is_ok(),
        SignedBytes::Digest(_, _) => false,
    };
    if !ok {
        return Err(format!("{at}: the signature does not verify with the key"));
    }
    Ok(Checked {
        signer: "key".into(),
        issuer: None,
        log_index: None,
        signed_at: None,
    })
}

/// What a Sigstore bundle (v0.1–v0.3, protobuf JSON) holds: the signed content and its
/// evidence.
#[derive(Debug, Clone, PartialEq)]
pub enum BundleContent {
    /// A DSSE envelope: its payload type and payload (the PAE is in the evidence).
    Dsse {
        payload_type: String,
        payload: Vec<u8>,
    },
    /// A message signature over an artifact with this digest.
    MessageDigest(Hash, Vec<u8>),
}

/// Parses a Sigstore bundle into its content and evidence.
pub fn from_bundle(bytes: &[u8], place: &str) -> Result<(BundleContent, Evidence), String> {
    let _ = bytes;
    Err(format!("{place}: Sigstore bundles are not supported yet"))
}
