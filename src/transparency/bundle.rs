//! What a log entry looks like to verifiers: the Sigstore bundle (v0.3, protobuf JSON, what
//! cosign 3, sigstore-go and GitHub's attestations read) and cosign's older Rekor bundle
//! annotation (`dev.sigstore.cosign/bundle` on `.sig`/`.att` layers, what cosign 2 reads).
//!
//! Pure serialisation: the entry was checked by the log's client before it got here.

use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::LogEntry;
use crate::signing::{Certificate, Signature};

pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// The annotation cosign 2 reads a Rekor entry from.
pub const COSIGN_BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Who signed: a certificate (keyless, Fulcio) or a public key the verifier already has.
pub enum Signer<'a> {
    Certificate(&'a Certificate),
    /// DER SubjectPublicKeyInfo: the bundle carries only a hint (base64 SHA-256 of it).
    PublicKey(&'a [u8]),
}

/// A Sigstore bundle v0.3 for one signature: the DSSE envelope, or for a raw signature over
/// `payload` a message signature with the payload's SHA-256. `entry` may be `None` (no log):
/// the bundle then has no tlog entries, which verifiers accept only when told to skip the log.
pub fn sigstore_bundle(
    signature: &Signature,
    payload: &[u8],
    signer: Signer<'_>,
    entry: Option<&LogEntry>,
) -> Result<Vec<u8>, String> {
    let material = VerificationMaterial {
        public_key: match signer {
            Signer::PublicKey(der) => Some(Hint {
                hint: b64(&Sha256::digest(der)),
            }),
            Signer::Certificate(_) => None,
        },
        certificate: match signer {
            Signer::Certificate(c) => Some(RawBytes {
                raw_bytes: b64(&leaf_der(&c.cert_pem)?),
            }),
            Signer::PublicKey(_) => None,
        },
        tlog_entries: entry.map(tlog_entry).into_iter().collect(),
        timestamp_verification_data: entry.filter(|e| !e.timestamps.is_empty()).map(|e| {
            TimestampData {
                rfc3161_timestamps: e
                    .timestamps
                    .iter()
                    .map(|t| SignedTimestamp {
                        signed_timestamp: b64(t),
                    })
                    .collect(),
            }
        }),
    };
    let (dsse_envelope, message_signature) = match signature {
        Signature::Dsse(envelope) => (
            Some(BundleEnvelope {
                payload: &envelope.payload,
                payload_type: &envelope.payload_type,
                signatures: envelope
                    .signatures
                    .iter()
                    .map(|s| BundleSig { sig: &s.sig })
                    .collect(),
            }),
            None,
        ),
        Signature::Raw(sig) => (
            None,
            Some(MessageSignature {
                message_digest: MessageDigest {
                    algorithm: "SHA2_256",
                    digest: b64(&Sha256::digest(payload)),
                },
                signature: b64(sig),
            }),
        ),
    };
    serde_json::to_vec(&Bundle {
        media_type: BUNDLE_MEDIA_TYPE,
        verification_material: material,
        dsse_envelope,
        message_signature,
    })
    .map_err(|e| format!("serialising a Sigstore bundle: {e}"))
}

/// cosign's Rekor bundle annotation value, for an entry with a signed entry timestamp (a v1
/// log). `None` for entries without one: cosign 2 has no other way to read them.
pub fn cosign_bundle_annotation(entry: &LogEntry) -> Option<String> {
    let set = entry.signed_entry_timestamp.as_ref()?;
    let value = CosignBundle {
        signed_entry_timestamp: b64(set),
        payload: CosignPayload {
            body: b64(&entry.body),
            integrated_time: entry.integrated_time,
            log_index: entry.log_index,
            log_id: &entry.log_id,
        },
    };
    serde_json::to_string(&value).ok()
}

/// The first certificate of a PEM chain, DER.
fn leaf_der(pem: &str) -> Result<Vec<u8>, String> {
    let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes())
        .map_err(|e| format!("the signing certificate is not PEM: {e}"))?;
    if label != "CERTIFICATE" {
        return Err(format!(
            "the signing certificate is a PEM {label:?}, not CERTIFICATE"
        ));
    }
    Ok(der)
}

fn tlog_entry(e: &LogEntry) -> TlogEntry {
    let log_id = hex_decode(&e.log_id).unwrap_or_default();
    TlogEntry {
        log_index: e.log_index.to_string(),
        log_id: KeyId {
            key_id: b64(&log_id),
        },
        kind_version: KindVersion {
            kind: e.kind.clone(),
            version: e.kind_version.clone(),
        },
        integrated_time: e.integrated_time.to_string(),
        inclusion_promise: e.signed_entry_timestamp.as_ref().map(|s| Promise {
            signed_entry_timestamp: b64(s),
        }),
        inclusion_proof: e.inclusion_proof.as_ref().map(|p| Proof {
            log_index: p.log_index.to_string(),
            root_hash: b64(&p.root_hash),
            tree_size: p.tree_size.to_string(),
            hashes: p.hashes.iter().map(|h| b64(h)).collect(),
            checkpoint: Envelope {
                envelope: p.checkpoint.clone(),
            },
        }),
        canonicalized_body: b64(&e.body),
    }
}

/// Lower-case hex to bytes; `None` for anything else.
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bundle<'a> {
    media_type: &'static str,
    verification_material: VerificationMaterial,
    #[serde(skip_serializing_if = "Option::is_none")]
    dsse_envelope: Option<BundleEnvelope<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_signature: Option<MessageSignature>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VerificationMaterial {
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<Hint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<RawBytes>,
    tlog_entries: Vec<TlogEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp_verification_data: Option<TimestampData>,
}

#[derive(Serialize)]
struct Hint {
    hint: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TlogEntry {
    log_index: String,
    log_id: KeyId,
    kind_version: KindVersion,
    integrated_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    inclusion_promise: Option<Promise>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inclusion_proof: Option<Proof>,
    canonicalized_body: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyId {
    key_id: String,
}

#[derive(Serialize)]
struct KindVersion {
    kind: String,
    version: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Promise {
    signed_entry_timestamp: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Proof {
    log_index: String,
    root_hash: String,
    tree_size: String,
    hashes: Vec<String>,
    checkpoint: Envelope,
}

#[derive(Serialize)]
struct Envelope {
    envelope: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TimestampData {
    rfc3161_timestamps: Vec<SignedTimestamp>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignedTimestamp {
    signed_timestamp: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BundleEnvelope<'a> {
    payload: &'a str,
    payload_type: &'a str,
    signatures: Vec<BundleSig<'a>>,
}

#[derive(Serialize)]
struct BundleSig<'a> {
    sig: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageSignature {
    message_digest: MessageDigest,
    signature: String,
}

#[derive(Serialize)]
struct MessageDigest {
    algorithm: &'static str,
    digest: String,
}

#[derive(Serialize)]
struct CosignBundle<'a> {
    #[serde(rename = "SignedEntryTimestamp")]
    signed_entry_timestamp: String,
    #[serde(rename = "Payload")]
    payload: CosignPayload<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CosignPayload<'a> {
    body: String,
    integrated_time: i64,
    log_index: u64,
    #[serde(rename = "logID")]
    log_id: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transparency::InclusionProof;

    fn entry() -> LogEntry {
        LogEntry {
            log_url: "https://rekor.example".into(),
            log_index: 7,
            uuid: "ab".repeat(32),
            log_id: "c0d2".into(),
            integrated_time: 1_700_000_000,
            body: b"{\"kind\":\"hashedrekord\"}".to_vec(),
            kind: "hashedrekord".into(),
            kind_version: "0.0.1".into(),
            signed_entry_timestamp: Some(vec![1, 2, 3]),
            inclusion_proof: Some(InclusionProof {
                log_index: 3,
                tree_size: 4,
                root_hash: vec![9; 32],
                hashes: vec![vec![8; 32]],
                checkpoint: "rekor.example - 1\n4\nCQ==\n\n— rekor.example abc=\n".into(),
            }),
            timestamps: vec![vec![0x30, 0x00]],
        }
    }

    #[test]
    fn a_raw_signature_becomes_a_message_signature_with_the_key_hint() {
        let bundle = sigstore_bundle(
            &Signature::Raw(vec![0xAA]),
            b"payload",
            Signer::PublicKey(b"der"),
            Some(&entry()),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
        assert_eq!(v["mediaType"], BUNDLE_MEDIA_TYPE);
        assert_eq!(
            v["verificationMaterial"]["publicKey"]["hint"],
            b64(&Sha256::digest(b"der"))
        );
        let t = &v["verificationMaterial"]["tlogEntries"][0];
        assert_eq!(t["logIndex"], "7");
        assert_eq!(t["logId"]["keyId"], b64(&[0xc0, 0xd2]));
        assert_eq!(t["integratedTime"], "1700000000");
        assert_eq!(t["inclusionProof"]["logIndex"], "3");
        assert_eq!(t["inclusionPromise"]["signedEntryTimestamp"], "AQID");
        assert_eq!(
            v["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"],
            "MAA="
        );
        assert_eq!(v["messageSignature"]["signature"], "qg==");
        assert_eq!(
            v["messageSignature"]["messageDigest"]["digest"],
            b64(&Sha256::digest(b"payload"))
        );
    }

    #[test]
    fn the_cosign_annotation_needs_a_set() {
        let mut e = entry();
        let a: serde_json::Value =
            serde_json::from_str(&cosign_bundle_annotation(&e).unwrap()).unwrap();
        assert_eq!(a["Payload"]["logIndex"], 7);
        assert_eq!(a["Payload"]["logID"], "c0d2");
        assert_eq!(a["SignedEntryTimestamp"], "AQID");
        e.signed_entry_timestamp = None;
        assert!(cosign_bundle_annotation(&e).is_none());
    }
}
