//! What discovery hands to judging: each stored signature or attestation with its evidence,
//! and the parsers for what cosign stores (DSSE envelopes, layer annotations). Shared by the
//! registry ([`super::registry`]) and local files ([`super::local`]).
//!
//! All input is untrusted: every parser returns an error naming the place, never panics.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Deserialize;

use super::evidence::{BundleContent, Evidence, SignedBytes, TlogEvidence};
use crate::signing::dsse;

pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
pub const TIMESTAMP_ANNOTATION: &str = "dev.sigstore.cosign/rfc3161timestamp";

/// One stored thing to judge.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Where: `registry/repo:sha256-….att layer 1`, a file name.
    pub place: String,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A DSSE envelope: its payload, and one piece of evidence per signature in it (any one
    /// that is trusted is enough).
    Attestation {
        payload_type: String,
        payload: Vec<u8>,
        evidence: Vec<Evidence>,
    },
    /// An image signature over a simple-signing payload.
    Signature {
        payload: Vec<u8>,
        evidence: Evidence,
    },
    /// A message signature over an artifact whose digest was checked already (a blob's
    /// Sigstore bundle).
    Blob { evidence: Evidence },
    /// Something stored as a signature or attestation that could not be read: why.
    Broken(String),
}

impl Found {
    pub fn broken(place: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            place: place.into(),
            kind: Kind::Broken(why.into()),
        }
    }
}

/// Standard base64, or URL-safe (DSSE allows either), padded or not.
pub fn b64(s: &str) -> Result<Vec<u8>, String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s = s.trim();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
        .ok_or_else(|| "not base64".to_owned())
}

#[derive(Deserialize)]
struct RawEnvelope {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    #[serde(default)]
    signatures: Vec<RawSig>,
}

#[derive(Deserialize)]
struct RawSig {
    #[serde(default)]
    sig: String,
}

/// The parts of evidence stored beside a signature (cosign's layer annotations).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Beside {
    pub certificate: Option<Vec<u8>>,
    pub chain: Vec<Vec<u8>>,
    pub tlog: Vec<TlogEvidence>,
    pub timestamps: Vec<Vec<u8>>,
}

/// A DSSE envelope as an attestation: the PAE of its payload is what each signature signs.
pub fn envelope(bytes: &[u8], place: &str, beside: &Beside) -> Found {
    let env: RawEnvelope = match serde_json::from_slice(bytes) {
        Ok(e) => e,
        Err(e) => return Found::broken(place, format!("not a DSSE envelope: {e}")),
    };
    let payload = match b64(&env.payload) {
        Ok(p) => p,
        Err(e) => return Found::broken(place, format!("the envelope's payload is {e}")),
    };
    if env.signatures.is_empty() {
        return Found::broken(place, "the envelope has no signatures");
    }
    let signed = dsse::pae(&env.payload_type, &payload);
    let mut evidence = Vec::new();
    for (i, s) in env.signatures.iter().enumerate() {
        let Ok(sig) = b64(&s.sig) else {
            return Found::broken(place, format!("signature {} is not base64", i + 1));
        };
        evidence.push(Evidence {
            place: place.to_owned(),
            signed: SignedBytes::Message(signed.clone()),
            signature: sig,
            certificate: beside.certificate.clone(),
            chain: beside.chain.clone(),
            tlog: beside.tlog.clone(),
            timestamps: beside.timestamps.clone(),
        });
    }
    Found {
        place: place.to_owned(),
        kind: Kind::Attestation {
            payload_type: env.payload_type,
            payload,
            evidence,
        },
    }
}

/// An image signature: the payload and its base64 signature.
pub fn signature(payload: Vec<u8>, signature_b64: &str, place: &str, beside: &Beside) -> Found {
    let sig = match b64(signature_b64) {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => return Found::broken(place, "the signature is empty"),
        Err(e) => return Found::broken(place, format!("the signature is {e}")),
    };
    Found {
        place: place.to_owned(),
        kind: Kind::Signature {
            evidence: Evidence {
                place: place.to_owned(),
                signed: SignedBytes::Message(payload.clone()),
                signature: sig,
                certificate: beside.certificate.clone(),
                chain: beside.chain.clone(),
                tlog: beside.tlog.clone(),
                timestamps: beside.timestamps.clone(),
            },
            payload,
        },
    }
}

/// What a Sigstore bundle holds, as found.
pub fn bundle(bytes: &[u8], place: &str) -> Found {
    match super::evidence::from_bundle(bytes, place) {
        Err(e) => Found::broken(place, strip_place(&e, place)),
        Ok((
            BundleContent::Dsse {
                payload_type,
                payload,
            },
            evidence,
        )) => Found {
            place: place.to_owned(),
            kind: Kind::Attestation {
                payload_type,
                payload,
                evidence: vec![evidence],
            },
        },
        Ok((BundleContent::MessageDigest(..), _)) => Found::broken(
            place,
            "a message-signature bundle without its payload is not supported yet for images",
        ),
    }
}

/// A reason from [`super::evidence`] starts with the place; the report names it once.
pub fn strip_place(reason: &str, place: &str) -> String {
    reason
        .strip_prefix(place)
        .and_then(|r| r.strip_prefix(": "))
        .unwrap_or(reason)
        .to_owned()
}

/// Reads cosign's layer annotations: certificate and chain (PEM), the Rekor bundle (JSON) and
/// the RFC 3161 timestamp (`{"SignedRFC3161Timestamp": base64}`).
pub fn annotations(a: &BTreeMap<String, String>) -> Result<Beside, String> {
    let mut beside = Beside::default();
    if let Some(pem) = a
        .get(CERTIFICATE_ANNOTATION)
        .filter(|s| !s.trim().is_empty())
    {
        let mut certs = pem_certificates(pem)
            .map_err(|e| format!("annotation {CERTIFICATE_ANNOTATION}: {e}"))?;
        if certs.len() != 1 {
            return Err(format!(
                "annotation {CERTIFICATE_ANNOTATION} holds {} certificates, not one",
                certs.len()
            ));
        }
        beside.certificate = certs.pop();
    }
    if let Some(pem) = a.get(CHAIN_ANNOTATION).filter(|s| !s.trim().is_empty()) {
        beside.chain =
            pem_certificates(pem).map_err(|e| format!("annotation {CHAIN_ANNOTATION}: {e}"))?;
    }
    if let Some(b) = a.get(BUNDLE_ANNOTATION).filter(|s| !s.trim().is_empty()) {
        beside
            .tlog
            .push(TlogEvidence::CosignBundle(b.as_bytes().to_vec()));
    }
    if let Some(t) = a.get(TIMESTAMP_ANNOTATION).filter(|s| !s.trim().is_empty()) {
        #[derive(Deserialize)]
        struct Ts {
            #[serde(rename = "SignedRFC3161Timestamp")]
            signed: String,
        }
        let ts: Ts = serde_json::from_str(t).map_err(|_| {
            format!("annotation {TIMESTAMP_ANNOTATION} is not {{\"SignedRFC3161Timestamp\": …}}")
        })?;
        beside.timestamps.push(
            b64(&ts.signed)
                .map_err(|e| format!("annotation {TIMESTAMP_ANNOTATION}: the timestamp is {e}"))?,
        );
    }
    Ok(beside)
}

/// Every `CERTIFICATE` block of a PEM text, as DER.
pub fn pem_certificates(text: &str) -> Result<Vec<Vec<u8>>, String> {
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(end) = rest.find(END) {
        let block = &rest[..end + END.len()];
        let block = block
            .find("-----BEGIN")
            .map(|i| &block[i..])
            .unwrap_or(block);
        let (label, der) = pem_rfc7468::decode_vec(block.trim().as_bytes())
            .map_err(|e| format!("not a PEM certificate: {e}"))?;
        if label != "CERTIFICATE" {
            return Err(format!("a PEM {label:?}, not a CERTIFICATE"));
        }
        out.push(der);
        rest = &rest[end + END.len()..];
    }
    if out.is_empty() {
        return Err("no PEM certificate".into());
    }
    Ok(out)
}
