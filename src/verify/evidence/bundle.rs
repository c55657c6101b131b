//! Sigstore bundles (v0.1, v0.2, v0.3; protobuf JSON) taken apart into the signed content
//! and its [`Evidence`].

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use super::{BundleContent, Evidence, SignedBytes};
use crate::pki::Hash;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A bundle larger than this is refused before it is parsed.
pub const MAX_BUNDLE: usize = 32 << 20;
/// At most this many log entries and timestamps (sigstore-go's limits are of this order).
pub const MAX_ENTRIES: usize = 32;

/// The media types read: v0.1 and v0.2 with a version parameter, v0.3 in both spellings.
fn version_of(media_type: &str) -> Option<&'static str> {
    match media_type {
        "application/vnd.dev.sigstore.bundle+json;version=0.1" => Some("0.1"),
        "application/vnd.dev.sigstore.bundle+json;version=0.2" => Some("0.2"),
        "application/vnd.dev.sigstore.bundle+json;version=0.3"
        | "application/vnd.dev.sigstore.bundle.v0.3+json" => Some("0.3"),
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    #[serde(default)]
    media_type: String,
    verification_material: Option<RawMaterial>,
    dsse_envelope: Option<RawEnvelope>,
    message_signature: Option<RawMessageSignature>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMaterial {
    public_key: Option<Value>,
    x509_certificate_chain: Option<RawChain>,
    certificate: Option<RawBytes>,
    #[serde(default)]
    tlog_entries: Vec<Value>,
    timestamp_verification_data: Option<RawTimestamps>,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    #[serde(default)]
    raw_bytes: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTimestamps {
    #[serde(default)]
    rfc3161_timestamps: Vec<RawTimestamp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTimestamp {
    #[serde(default)]
    signed_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    #[serde(default)]
    payload: String,
    #[serde(default)]
    payload_type: String,
    #[serde(default)]
    signatures: Vec<RawSig>,
}

#[derive(Deserialize)]
struct RawSig {
    #[serde(default)]
    sig: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessageSignature {
    message_digest: Option<RawDigest>,
    #[serde(default)]
    signature: String,
}

#[derive(Deserialize)]
struct RawDigest {
    #[serde(default)]
    algorithm: String,
    #[serde(default)]
    digest: String,
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, String> {
    B64.decode(s.trim())
        .map_err(|_| format!("{what} is not base64"))
}

/// Parses a Sigstore bundle into its content and evidence (see [`super::from_bundle`]).
pub(super) fn parse(bytes: &[u8], place: &str) -> Result<(BundleContent, Evidence), String> {
    let at = |m: String| format!("{place}: {m}");
    if bytes.len() > MAX_BUNDLE {
        return Err(at(format!(
            "{} bytes, more than the {MAX_BUNDLE} a Sigstore bundle may have",
            bytes.len()
        )));
    }
    let raw: RawBundle =
        serde_json::from_slice(bytes).map_err(|e| at(format!("not a Sigstore bundle: {e}")))?;
    if version_of(&raw.media_type).is_none() {
        return Err(at(format!(
            "mediaType {:?} is not a Sigstore bundle v0.1, v0.2 or v0.3",
            raw.media_type
        )));
    }
    let material = raw
        .verification_material
        .ok_or_else(|| at("no verificationMaterial".into()))?;
    let (certificate, chain) = match (&material.certificate, &material.x509_certificate_chain) {
        (Some(c), _) => (
            Some(b64(&c.raw_bytes, "certificate.rawBytes").map_err(at)?),
            Vec::new(),
        ),
        (None, Some(ch)) => {
            let mut certs = Vec::new();
            for (i, c) in ch.certificates.iter().enumerate().take(MAX_ENTRIES) {
                certs.push(
                    b64(
                        &c.raw_bytes,
                        &format!("x509CertificateChain.certificates[{i}]"),
                    )
                    .map_err(at)?,
                );
            }
            if certs.is_empty() {
                return Err(at("x509CertificateChain has no certificates".into()));
            }
            let leaf = certs.remove(0);
            (Some(leaf), certs)
        }
        (None, None) => {
            if material.public_key.is_none() {
                return Err(at(
                    "verificationMaterial has neither a public key, a certificate nor a chain"
                        .into(),
                ));
            }
            (None, Vec::new())
        }
    };
    if material.tlog_entries.len() > MAX_ENTRIES {
        return Err(at(format!(
            "{} tlog entries, more than {MAX_ENTRIES}",
            material.tlog_entries.len()
        )));
    }
    let mut timestamps = Vec::new();
    if let Some(t) = &material.timestamp_verification_data {
        if t.rfc3161_timestamps.len() > MAX_ENTRIES {
            return Err(at(format!(
                "{} timestamps, more than {MAX_ENTRIES}",
                t.rfc3161_timestamps.len()
            )));
        }
        for (i, ts) in t.rfc3161_timestamps.iter().enumerate() {
            timestamps
                .push(b64(&ts.signed_timestamp, &format!("rfc3161Timestamps[{i}]")).map_err(at)?);
        }
    }
    let tlog = material
        .tlog_entries
        .into_iter()
        .map(super::TlogEvidence::BundleEntry)
        .collect();
    let (content, signed, signature) = match (raw.dsse_envelope, raw.message_signature) {
        (Some(env), None) => {
            // A DSSE envelope in a bundle has exactly one signature (the bundle spec; sigstore-go
            // refuses others): no choosing among several.
            if env.signatures.len() != 1 {
                return Err(at(format!(
                    "the DSSE envelope has {} signatures; a Sigstore bundle's has exactly one",
                    env.signatures.len()
                )));
            }
            let payload = b64(&env.payload, "dsseEnvelope.payload").map_err(at)?;
            let signature =
                b64(&env.signatures[0].sig, "dsseEnvelope.signatures[0].sig").map_err(at)?;
            let pae = crate::signing::dsse::pae(&env.payload_type, &payload);
            (
                BundleContent::Dsse {
                    payload_type: env.payload_type,
                    payload,
                },
                SignedBytes::Message(pae),
                signature,
            )
        }
        (None, Some(ms)) => {
            let d = ms
                .message_digest
                .ok_or_else(|| at("messageSignature has no messageDigest".into()))?;
            let hash = match d.algorithm.as_str() {
                "SHA2_256" => Hash::Sha256,
                "SHA2_384" => Hash::Sha384,
                "SHA2_512" => Hash::Sha512,
                other => {
                    return Err(at(format!(
                        "messageDigest algorithm {other:?} is not SHA2_256, SHA2_384 or SHA2_512"
                    )));
                }
            };
            let digest = b64(&d.digest, "messageDigest.digest").map_err(at)?;
            if digest.len() != hash.digest(b"").len() {
                return Err(at(format!(
                    "messageDigest is {} bytes, not a {} digest",
                    digest.len(),
                    d.algorithm
                )));
            }
            let signature = b64(&ms.signature, "messageSignature.signature").map_err(at)?;
            (
                BundleContent::MessageDigest(hash, digest.clone()),
                SignedBytes::Digest(hash, digest),
                signature,
            )
        }
        (Some(_), Some(_)) => {
            return Err(at(
                "it has both a dsseEnvelope and a messageSignature".into()
            ));
        }
        (None, None) => {
            return Err(at(
                "it has neither a dsseEnvelope nor a messageSignature".into()
            ));
        }
    };
    if signature.is_empty() {
        return Err(at("the signature is empty".into()));
    }
    Ok((
        content,
        Evidence {
            place: place.to_owned(),
            signed,
            signature,
            certificate,
            chain,
            tlog,
            timestamps,
        },
    ))
}
