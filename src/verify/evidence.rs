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

mod bundle;
mod cert;
mod entry;

pub use entry::{CosignBundle, cosign_bundle};

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
#[derive(Debug)]
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

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PublicKey({}, {} bytes of DER)",
            self.key.kind(),
            self.spki.len()
        )
    }
}

impl PublicKey {
    /// A PEM `PUBLIC KEY` (cosign.pub) of ECDSA P-256/P-384, RSA or Ed25519, read as
    /// leniently as Go's `pem.Decode` (base64 lines of any length, text around the block).
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let (label, der) =
            entry::pem_der(text.as_bytes()).ok_or("not a PEM public key (no PEM block)")?;
        if label != "PUBLIC KEY" {
            return Err(format!("a PEM {label:?}, not a \"PUBLIC KEY\""));
        }
        let key = CertKey::from_spki_der(&der)
            .ok_or("the public key is not ECDSA P-256, P-384, RSA or Ed25519")?;
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

/// At most this many log entries and timestamps are looked at.
const MAX_ENTRIES: usize = bundle::MAX_ENTRIES;
/// A trusted signing time may lie this far (seconds) after `now`: clock skew.
const SKEW: i64 = 300;

/// Seconds since the epoch as a time (before the epoch: the epoch).
pub(super) fn epoch(at: i64) -> SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(at.max(0) as u64)
}

/// Seconds since the epoch as RFC 3339, for reasons.
pub(super) fn when(at: i64) -> String {
    crate::time::format_rfc3339_seconds(epoch(at))
}

/// Judges one signature. `Err` is a one-line reason naming `evidence.place`.
///
/// What is checked, in order, as sigstore-go's verifier (and cosign 3) does:
/// 1. The signature, with `trust.key`, or (keyless, `trust.identity`) with the stored
///    certificate's key. ECDSA P-256 over SHA-256; P-384 over SHA-384 or SHA-256 (what cosign
///    2 and Chains sign, sigstore-go's compatibility verifier); RSA PKCS#1 v1.5 over SHA-256;
///    Ed25519 over the message itself. A [`SignedBytes::Digest`] is verified as a prehash
///    (never with Ed25519, which signs the message).
/// 2. Unless `trust.tlog` is [`Requirement::Ignored`]: every stored log entry whose log the
///    trusted root lists verifies (signed entry timestamp, inclusion proof and checkpoint,
///    whichever it has) and is for this signature, key or certificate and content; entries
///    of logs the root does not list are skipped (sigstore-go does the same); with
///    [`Requirement::Required`] at least one entry must verify. Entries stored without a
///    trusted root to check them are an error unless the log is ignored.
/// 3. Unless `trust.timestamp` is ignored: every RFC 3161 timestamp verifies over the
///    signature with one of the root's timestamp authorities; required: at least one.
/// 4. Keyless: the trusted signing times are the integrated times that a verified signed
///    entry timestamp vouches for and the verified timestamps' genTime; there must be one (no
///    fallback to the current time, as sigstore-go). The certificate must chain to one of the
///    root's certificate authorities, with the codeSigning usage, at every one of those times
///    (and an integrated time an entry states without a SET must also fall inside the leaf's
///    validity); its embedded SCT must verify with one of the root's CT logs when the root
///    lists any; its email/URI SAN must match `identity.subject` and its OIDC issuer extension
///    `identity.issuer`.
pub fn check(evidence: &Evidence, trust: &Trust, now: SystemTime) -> Result<Checked, String> {
    check_all(evidence, trust, now).map_err(|e| format!("{}: {e}", evidence.place))
}

fn check_all(ev: &Evidence, trust: &Trust, now: SystemTime) -> Result<Checked, String> {
    let leaf = match (&trust.key, &trust.identity) {
        (Some(_), Some(_)) => {
            return Err("both a key and a certificate identity to verify with: give one".into());
        }
        (None, None) => {
            return Err("no key or certificate identity to verify the signature with".into());
        }
        (Some(_), None) => None,
        (None, Some(_)) => Some(cert::Leaf::parse(ev.certificate.as_deref().ok_or(
            "the signature has no certificate, and only a certificate identity is trusted",
        )?)?),
    };
    let leaf_key;
    let (key, spki): (&CertKey, &[u8]) = match (&leaf, &trust.key) {
        (Some(l), _) => {
            leaf_key = l.key()?;
            (&leaf_key, &l.spki)
        }
        (None, Some(k)) => (&k.key, &k.spki),
        (None, None) => return Err("no key to verify the signature with".into()),
    };
    verify_signature(key, &ev.signed, &ev.signature)?;
    let signer = entry::Signer {
        spki,
        cert: leaf.as_ref().map(|l| &l.der[..]),
    };

    // Trusted times, with what vouches for each; and integrated times stated without a SET.
    let mut times: Vec<(i64, String)> = Vec::new();
    let mut stated: Vec<i64> = Vec::new();
    let mut log_index = None;
    if trust.tlog != Requirement::Ignored
        && (!ev.tlog.is_empty() || trust.tlog == Requirement::Required)
    {
        let root = trust.root.as_ref().ok_or(if ev.tlog.is_empty() {
            "a transparency log entry is required, and there is no trusted root to check one with"
        } else {
            "it has a transparency log entry and there is no trusted root to check it with \
             (--trusted-root, or --insecure-ignore-tlog)"
        })?;
        if ev.tlog.len() > MAX_ENTRIES {
            return Err(format!(
                "{} transparency log entries, more than {MAX_ENTRIES}",
                ev.tlog.len()
            ));
        }
        let mut unknown = 0;
        for (i, t) in ev.tlog.iter().enumerate() {
            let result = match t {
                TlogEvidence::CosignBundle(b) => {
                    entry::verify_cosign(b, &ev.signature, &signer, &ev.signed, root)
                }
                TlogEvidence::BundleEntry(v) => {
                    entry::verify_bundle_entry(v, &ev.signature, &signer, &ev.signed, root)
                }
            }
            .map_err(|e| format!("transparency log entry {i}: {e}"))?;
            let Some(v) = result else {
                unknown += 1;
                continue;
            };
            log_index.get_or_insert(v.log_index);
            if let Some(t) = v.trusted_time {
                times.push((t, format!("the log's integrated time ({})", when(t))));
            } else if let Some(t) = v.integrated_time {
                stated.push(t);
            }
        }
        if log_index.is_none() && trust.tlog == Requirement::Required {
            return Err(if ev.tlog.is_empty() {
                "no transparency log entry, and one is required".into()
            } else {
                format!(
                    "none of its {unknown} transparency log entries is from a log of {}",
                    root.file
                )
            });
        }
    }

    if trust.timestamp != Requirement::Ignored
        && (!ev.timestamps.is_empty() || trust.timestamp == Requirement::Required)
    {
        let root = trust.root.as_ref().ok_or(if ev.timestamps.is_empty() {
            "an RFC 3161 timestamp is required, and there is no trusted root to check one with"
        } else {
            "it has an RFC 3161 timestamp and there is no trusted root to check it with \
             (--trusted-root)"
        })?;
        if ev.timestamps.is_empty() {
            return Err("no RFC 3161 timestamp, and one is required".into());
        }
        if ev.timestamps.len() > MAX_ENTRIES {
            return Err(format!(
                "{} timestamps, more than {MAX_ENTRIES}",
                ev.timestamps.len()
            ));
        }
        if root.timestamp_authorities.is_empty() {
            return Err(format!(
                "it has an RFC 3161 timestamp and {} lists no timestamp authority",
                root.file
            ));
        }
        for (i, token) in ev.timestamps.iter().enumerate() {
            let mut failures = Vec::new();
            let mut verified = None;
            for tsa in &root.timestamp_authorities {
                match crate::transparency::tsa::verify_token(token, &ev.signature, &tsa.chain) {
                    Ok(t) if !tsa.valid.covers(epoch(t.gen_time)) => failures.push(format!(
                        "{}: not a trusted authority at {}",
                        if tsa.uri.is_empty() {
                            "an authority"
                        } else {
                            &tsa.uri
                        },
                        when(t.gen_time)
                    )),
                    Ok(t) => {
                        verified = Some(t.gen_time);
                        break;
                    }
                    Err(e) => failures.push(e.to_string()),
                }
            }
            let t = verified.ok_or_else(|| {
                format!(
                    "timestamp {i} does not verify with a timestamp authority of {} ({})",
                    root.file,
                    failures.join("; ")
                )
            })?;
            times.push((t, format!("the timestamp's time ({})", when(t))));
        }
    }

    let now = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if let Some((t, what)) = times.iter().find(|(t, _)| *t > now.saturating_add(SKEW)) {
        return Err(format!(
            "{what} is later than now ({}), {} s ahead",
            when(now),
            t - now
        ));
    }
    let signed_at = times.first().map(|(t, _)| *t);

    let (Some(leaf), Some(identity)) = (&leaf, &trust.identity) else {
        return Ok(Checked {
            signer: "key".into(),
            issuer: None,
            log_index,
            signed_at,
        });
    };
    let root = trust
        .root
        .as_ref()
        .ok_or("a certificate identity needs a trusted root with certificate authorities")?;
    if times.is_empty() {
        return Err(
            "no trusted signing time to check the certificate at: it needs a transparency log \
             entry with a signed entry timestamp or an RFC 3161 timestamp, verified"
                .into(),
        );
    }
    let (not_before, not_after) = leaf.validity();
    for t in &stated {
        if *t < not_before || *t > not_after {
            return Err(format!(
                "the log's integrated time {} is outside the certificate's validity ({} to {})",
                when(*t),
                when(not_before),
                when(not_after)
            ));
        }
    }
    let mut issuer_der = Vec::new();
    for (t, what) in &times {
        issuer_der = leaf
            .chain_to(root, *t)
            .map_err(|e| format!("at {what}: {e}"))?;
    }
    if !root.ctlogs.is_empty() {
        leaf.check_sct(&issuer_der, root)?;
    }
    let (subject, issuer) = cert::check_identity(leaf, identity)?;
    Ok(Checked {
        signer: subject,
        issuer: Some(issuer),
        log_index,
        signed_at,
    })
}

/// Step 1 of [`check`]: the signature over what was signed.
fn verify_signature(key: &CertKey, signed: &SignedBytes, sig: &[u8]) -> Result<(), String> {
    let ok = match (signed, key) {
        (SignedBytes::Message(m), CertKey::P384(_)) => key
            .verify(Hash::Sha384, m, sig)
            .or_else(|_| key.verify(Hash::Sha256, m, sig))
            .is_ok(),
        (SignedBytes::Message(m), _) => key.verify(Hash::Sha256, m, sig).is_ok(),
        (SignedBytes::Digest(..), CertKey::Ed25519(_)) => {
            return Err(
                "an Ed25519 signature is over the message itself, and only its digest is stored"
                    .into(),
            );
        }
        (SignedBytes::Digest(h, d), _) => key.verify_digest(*h, d, sig).is_ok(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the signature does not verify with the {} {} key",
            key.kind(),
            if matches!(key, CertKey::Rsa(_)) {
                "PKCS#1 v1.5"
            } else {
                ""
            }
        )
        .replace("  ", " "))
    }
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
///
/// Reads `mediaType` `application/vnd.dev.sigstore.bundle+json;version=0.1`/`0.2`/`0.3` and
/// `application/vnd.dev.sigstore.bundle.v0.3+json`; the signer from `certificate` or
/// `x509CertificateChain` (its first certificate; the rest become [`Evidence::chain`], which
/// [`check`] does not trust) or, with a `publicKey` hint only, no certificate (the hint is not
/// trusted: the key comes from [`Trust::key`]); each `tlogEntries` element as
/// [`TlogEvidence::BundleEntry`]; `timestampVerificationData.rfc3161Timestamps`. A
/// `dsseEnvelope` must have exactly one signature (the bundle specification and sigstore-go
/// require it: nothing is chosen among several); [`Evidence::signed`] is then its PAE. A
/// `messageSignature` gives [`SignedBytes::Digest`] of its `messageDigest`.
pub fn from_bundle(bytes: &[u8], place: &str) -> Result<(BundleContent, Evidence), String> {
    bundle::parse(bytes, place)
}

#[cfg(test)]
mod tests;
