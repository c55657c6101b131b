//! A Rekor v1 client (`POST /api/v1/log/entries`): rekor.sigstore.dev, Chains' default log.
//!
//! What goes in, as Chains ≥ 0.29 writes it:
//!
//! - an attestation (a DSSE envelope) as a **`dsse` v0.0.1** entry:
//!   `{"apiVersion":"0.0.1","kind":"dsse","spec":{"proposedContent":{"envelope":"<the envelope
//!   JSON, exactly the bytes storage writes>","verifiers":["<base64 of the key or certificate
//!   PEM>"]}}}`;
//! - a raw signature (an image's simple-signing payload, format `tekton`) as a
//!   **`hashedrekord` v0.0.1** entry: `spec.signature.content` (base64 signature),
//!   `spec.signature.publicKey.content` (base64 PEM) and `spec.data.hash` (`sha256`, hex of
//!   the signed bytes' digest).
//!
//! What comes back is a map of one entry id (64 hex, or 80 on a sharded log: tree id + leaf
//! hash) to `{body, integratedTime, logID, logIndex, verification: {signedEntryTimestamp,
//! inclusionProof}}`. A 409 means the log has the entry already: its `Location` names the
//! entry id, which is read back (`GET /api/v1/log/entries/<id>`) and used like a new one.
//!
//! Nothing is handed on before it checks out: the log id is the log key's, the signed entry
//! timestamp verifies with that key, the body is the entry sent (real Rekor stores the `dsse`
//! entry canonicalised as hashes and signatures; a log that keeps the proposed content must
//! keep exactly ours), and an inclusion proof, when there is one, leads from the body's leaf
//! hash to the root its checkpoint signs. Any of that failing is
//! [`TransparencyError::Unverified`]. The log's key is `setup.key` (a trusted root), else read
//! once from the log itself (`GET /api/v1/log/publicKey`), which the log output says.

use std::sync::Mutex;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::proof::{self, LogKey};
use super::{InclusionProof, LogEntry, LogSetup, Signed, Transparency, TransparencyError, quote};
use crate::net::{Policy, Request, Transport};
use crate::signing::Signature;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The largest answer read: an entry whose body is a whole proposed DSSE envelope (a log that
/// keeps the proposed content) can be as large as the provenance.
const MAX_ANSWER: u64 = 32 << 20;
/// A Rekor v1 client for one log.
pub struct RekorV1 {
    url: String,
    transport: Transport,
    /// The log's key: from the setup, or read from the log on first use.
    key: Mutex<Option<LogKey>>,
    key_origin: String,
}

/// The client for `setup` (a v1 log), talking through `transport` (the run's deadline).
pub fn open(
    setup: &LogSetup,
    transport: Transport,
) -> Result<Box<dyn Transparency>, TransparencyError> {
    let key = setup
        .key
        .as_deref()
        .map(|der| {
            LogKey::from_der(der).map_err(|e| {
                TransparencyError::Setup(format!(
                    "transparency log {} ({}): {e}",
                    setup.url, setup.origin
                ))
            })
        })
        .transpose()?;
    Ok(Box::new(RekorV1 {
        url: setup.url.trim_end_matches('/').to_owned(),
        transport,
        key: Mutex::new(key),
        key_origin: setup.origin.clone(),
    }))
}

impl Transparency for RekorV1 {
    fn describe(&self) -> String {
        format!("rekor v1 at {}", self.url)
    }

    fn log(&self, signed: &Signed<'_>) -> Result<Option<LogEntry>, TransparencyError> {
        let expected = Expected::of(signed).map_err(|m| self.upload_err(m))?;
        let key = self.key()?;
        let proposed = serde_json::to_vec(&expected.proposed)
            .map_err(|e| self.upload_err(format!("serialising the entry: {e}")))?;
        let url = format!("{}/api/v1/log/entries", self.url);
        let answer = self
            .transport
            .send(
                &Request::new("POST", &url, format!("POST {url}"))
                    .header("Content-Type", "application/json")
                    .header("Accept", "application/json")
                    .body(&proposed)
                    // The log deduplicates: a retried POST that did land answers 409.
                    .policy(Policy::idempotent())
                    .max_body(MAX_ANSWER),
            )
            .map_err(|e| self.upload_err(e.to_string()))?;
        let (answer, reused) = match answer.status {
            200 | 201 => (answer, false),
            409 => {
                let id = answer
                    .header("location")
                    .and_then(entry_id_of_location)
                    .ok_or_else(|| {
                        self.upload_err(format!(
                            "answered 409 (entry exists) without a Location naming it: {}",
                            quote(&answer.body)
                        ))
                    })?;
                tracing::info!(log = %self.url, uuid = %id, "the log has this entry already; reading it");
                let get = format!("{}/api/v1/log/entries/{id}", self.url);
                let found = self
                    .transport
                    .send(
                        &Request::new("GET", &get, format!("GET {get}"))
                            .header("Accept", "application/json")
                            .max_body(MAX_ANSWER),
                    )
                    .map_err(|e| self.upload_err(e.to_string()))?;
                if found.status != 200 {
                    return Err(self.upload_err(format!(
                        "GET {get} answered {}: {}",
                        found.status,
                        quote(&found.body)
                    )));
                }
                (found, true)
            }
            status => {
                return Err(self.upload_err(format!(
                    "POST {url} answered {status}: {}",
                    quote(&answer.body)
                )));
            }
        };
        let raw = parse_answer(&answer.body).map_err(|m| self.unverified(m))?;
        let entry = verify(&raw, &expected, &key, &self.url).map_err(|m| self.unverified(m))?;
        tracing::info!(
            log = %self.url,
            log_index = entry.log_index,
            uuid = %entry.uuid,
            kind = %entry.kind,
            reused,
            "logged"
        );
        Ok(Some(entry))
    }
}

impl RekorV1 {
    fn upload_err(&self, message: impl Into<String>) -> TransparencyError {
        TransparencyError::upload(&self.url, message)
    }

    fn unverified(&self, message: impl Into<String>) -> TransparencyError {
        TransparencyError::unverified(&self.url, message)
    }

    /// The log's key: the trusted one, or the one the log serves (read once).
    fn key(&self) -> Result<LogKey, TransparencyError> {
        let mut slot = self.key.lock().expect("not poisoned");
        if let Some(k) = slot.as_ref() {
            return Ok(k.clone());
        }
        let url = format!("{}/api/v1/log/publicKey", self.url);
        let answer = self
            .transport
            .send(&Request::new("GET", &url, format!("GET {url}")).max_body(64 * 1024))
            .map_err(|e| self.upload_err(e.to_string()))?;
        if answer.status != 200 {
            return Err(self.upload_err(format!(
                "GET {url} answered {}: {}",
                answer.status,
                quote(&answer.body)
            )));
        }
        let pem = std::str::from_utf8(&answer.body)
            .map_err(|_| self.upload_err(format!("GET {url}: the key is not text")))?;
        let key = LogKey::from_pem(pem).map_err(|e| self.upload_err(format!("GET {url}: {e}")))?;
        tracing::info!(
            log = %self.url,
            log_id = %hex(&key.log_id()),
            "the log's public key came from the log itself ({url}), as {} names no key for it; \
             give a --trusted-root to pin it",
            self.key_origin
        );
        *slot = Some(key.clone());
        Ok(key)
    }
}

use crate::registry::hex;

/// A Rekor entry id: 64 hex (the leaf hash) or 80 (tree id + leaf hash).
pub fn is_entry_id(s: &str) -> bool {
    (s.len() == 64 || s.len() == 80) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The entry id a 409's `Location` ends in (`/api/v1/log/entries/<id>`, relative or absolute).
/// Only the id is taken: the entry is read from the log's own URL, never from where the header
/// points.
pub fn entry_id_of_location(location: &str) -> Option<String> {
    let path = location.split(['?', '#']).next()?;
    let id = path.trim_end_matches('/').rsplit('/').next()?;
    is_entry_id(id).then(|| id.to_ascii_lowercase())
}

/// What was sent, and what the log's body must say about it.
struct Expected {
    proposed: Value,
    kind: &'static str,
    /// The signer's key or certificate, DER (what the PEM in the entry must decode to).
    key_der: Vec<u8>,
    content: Content,
}

enum Content {
    HashedRekord {
        /// Hex SHA-256 of the signed bytes.
        digest: String,
        signature_b64: String,
    },
    Dsse {
        /// The envelope JSON sent (the bytes storage writes).
        envelope: String,
        /// Hex SHA-256 of the envelope and of its payload.
        envelope_digest: String,
        payload_digest: String,
        /// The envelope's signatures, base64.
        signatures: Vec<String>,
    },
}

impl Expected {
    fn of(signed: &Signed<'_>) -> Result<Self, String> {
        let (pem, key_der) = match signed.signer.certificate() {
            Some(cert) => {
                let first =
                    first_pem_block(&cert.cert_pem).ok_or("the signing certificate is not PEM")?;
                let (label, der) = pem_rfc7468::decode_vec(first.as_bytes())
                    .map_err(|e| format!("the signing certificate is not PEM: {e}"))?;
                if label != "CERTIFICATE" {
                    return Err(format!("the signing certificate is a PEM {label:?}"));
                }
                (format!("{first}\n"), der)
            }
            None => {
                let der = signed.signer.public_key_der();
                let pem =
                    pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &der)
                        .map_err(|e| format!("encoding the public key as PEM: {e}"))?;
                (pem, der)
            }
        };
        let pem_b64 = B64.encode(pem.as_bytes());
        Ok(match signed.signature {
            Signature::Raw(sig) => {
                let digest = hex(&Sha256::digest(&signed.payload.bytes));
                let signature_b64 = B64.encode(sig);
                Expected {
                    proposed: json!({
                        "apiVersion": "0.0.1",
                        "kind": "hashedrekord",
                        "spec": {
                            "data": { "hash": { "algorithm": "sha256", "value": digest } },
                            "signature": {
                                "content": signature_b64,
                                "publicKey": { "content": pem_b64 },
                            },
                        },
                    }),
                    kind: "hashedrekord",
                    key_der,
                    content: Content::HashedRekord {
                        digest,
                        signature_b64,
                    },
                }
            }
            Signature::Dsse(envelope) => {
                let json = serde_json::to_string(envelope)
                    .map_err(|e| format!("serialising the envelope: {e}"))?;
                let payload = B64
                    .decode(&envelope.payload)
                    .map_err(|_| "the envelope's payload is not base64")?;
                Expected {
                    proposed: json!({
                        "apiVersion": "0.0.1",
                        "kind": "dsse",
                        "spec": {
                            "proposedContent": {
                                "envelope": json,
                                "verifiers": [pem_b64],
                            },
                        },
                    }),
                    kind: "dsse",
                    key_der,
                    content: Content::Dsse {
                        envelope_digest: hex(&Sha256::digest(json.as_bytes())),
                        payload_digest: hex(&Sha256::digest(&payload)),
                        envelope: json,
                        signatures: envelope.signatures.iter().map(|s| s.sig.clone()).collect(),
                    },
                }
            }
        })
    }
}

fn first_pem_block(pem: &str) -> Option<&str> {
    const END: &str = "-----END ";
    let start = pem.find("-----BEGIN ")?;
    let end_at = pem[start..].find(END)? + start;
    let close = pem[end_at + END.len()..].find("-----")? + end_at + END.len() + 5;
    Some(&pem[start..close])
}

/// One entry as the log returned it, before any check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub uuid: String,
    pub body: String,
    pub integrated_time: i64,
    pub log_id: String,
    pub log_index: u64,
    pub set: Option<String>,
    pub proof: Option<RawProof>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawProof {
    pub checkpoint: Option<String>,
    #[serde(default)]
    pub hashes: Vec<String>,
    pub log_index: u64,
    pub root_hash: String,
    pub tree_size: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEntry {
    body: String,
    integrated_time: i64,
    #[serde(rename = "logID")]
    log_id: String,
    log_index: u64,
    #[serde(default)]
    verification: Option<WireVerification>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireVerification {
    signed_entry_timestamp: Option<String>,
    inclusion_proof: Option<RawProof>,
}

/// Parses a log's answer: a JSON object of exactly one entry id → entry. Untrusted input:
/// every failure is a message, never a panic.
pub fn parse_answer(body: &[u8]) -> Result<RawEntry, String> {
    let map: serde_json::Map<String, Value> = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the answer is not a JSON object of entries ({e}): {}",
            quote(body)
        )
    })?;
    if map.len() != 1 {
        return Err(format!(
            "the answer holds {} entries, not the one sent",
            map.len()
        ));
    }
    let (uuid, value) = map.into_iter().next().expect("one entry");
    if !is_entry_id(&uuid) {
        return Err(format!(
            "entry id {:?} is not 64 or 80 hex digits",
            quote(uuid.as_bytes())
        ));
    }
    let wire: WireEntry = serde_json::from_value(value)
        .map_err(|e| format!("entry {uuid} does not read as a Rekor entry: {e}"))?;
    let (set, proof) = match wire.verification {
        Some(v) => (v.signed_entry_timestamp, v.inclusion_proof),
        None => (None, None),
    };
    Ok(RawEntry {
        uuid: uuid.to_ascii_lowercase(),
        body: wire.body,
        integrated_time: wire.integrated_time,
        log_id: wire.log_id,
        log_index: wire.log_index,
        set,
        proof,
    })
}

/// The entry chainlet proposes to the log for `signed` (the request body, as JSON).
pub fn proposed_entry(signed: &Signed<'_>) -> Result<Value, String> {
    Expected::of(signed).map(|e| e.proposed)
}

/// Everything [`RekorV1`] checks in a log's answer to the entry for `signed`: parsed, the SET,
/// the body, the inclusion proof and checkpoint, with `key` as the log's key.
pub fn check_answer(
    answer: &[u8],
    signed: &Signed<'_>,
    key: &LogKey,
    log_url: &str,
) -> Result<LogEntry, String> {
    let expected = Expected::of(signed)?;
    let raw = parse_answer(answer)?;
    verify(&raw, &expected, key, log_url)
}

/// Checks an entry against the log's key and what was sent, and makes it a [`LogEntry`].
fn verify(
    raw: &RawEntry,
    expected: &Expected,
    key: &LogKey,
    log_url: &str,
) -> Result<LogEntry, String> {
    let log_id = hex(&key.log_id());
    if !raw.log_id.eq_ignore_ascii_case(&log_id) {
        return Err(format!(
            "entry {} names log id {}, not this log's key ({log_id})",
            raw.uuid,
            quote(raw.log_id.as_bytes())
        ));
    }
    let body = B64
        .decode(&raw.body)
        .map_err(|_| format!("entry {}: its body is not base64", raw.uuid))?;
    // What storage writes is the body encoded again: the SET must verify over exactly that.
    let body_b64 = B64.encode(&body);
    if raw.integrated_time <= 0 {
        return Err(format!(
            "entry {}: integratedTime {} is not a time",
            raw.uuid, raw.integrated_time
        ));
    }
    let set_b64 = raw
        .set
        .as_deref()
        .ok_or_else(|| format!("entry {} comes without a signed entry timestamp", raw.uuid))?;
    let set = B64.decode(set_b64).map_err(|_| {
        format!(
            "entry {}: its signed entry timestamp is not base64",
            raw.uuid
        )
    })?;
    proof::verify_set(
        &set,
        &body_b64,
        raw.integrated_time,
        &log_id,
        raw.log_index,
        key,
    )
    .map_err(|e| format!("entry {} (logIndex {}): {e}", raw.uuid, raw.log_index))?;
    check_body(&body, expected).map_err(|m| format!("entry {}: {m}", raw.uuid))?;

    let inclusion_proof = match &raw.proof {
        Some(p) => {
            Some(check_proof(p, &body, key).map_err(|m| format!("entry {}: {m}", raw.uuid))?)
        }
        None => None,
    };
    Ok(LogEntry {
        log_url: log_url.to_owned(),
        log_index: raw.log_index,
        uuid: raw.uuid.clone(),
        log_id,
        integrated_time: raw.integrated_time,
        body,
        kind: expected.kind.to_owned(),
        kind_version: "0.0.1".to_owned(),
        signed_entry_timestamp: Some(set),
        inclusion_proof,
        timestamps: Vec::new(),
    })
}

fn hex32(s: &str, what: &str) -> Result<Vec<u8>, String> {
    super::bundle::hex_decode(&s.to_ascii_lowercase())
        .filter(|v| v.len() == 32)
        .ok_or_else(|| format!("{what} {} is not 64 hex digits", quote(s.as_bytes())))
}

/// The inclusion proof leads from the body's leaf hash to its root, and the checkpoint, signed
/// by the log, commits to that root and tree size.
fn check_proof(p: &RawProof, body: &[u8], key: &LogKey) -> Result<InclusionProof, String> {
    let root = hex32(&p.root_hash, "the inclusion proof's rootHash")?;
    let hashes = p
        .hashes
        .iter()
        .map(|h| hex32(h, "an inclusion proof hash"))
        .collect::<Result<Vec<_>, _>>()?;
    proof::verify_inclusion(
        &proof::leaf_hash(body),
        p.log_index,
        p.tree_size,
        &hashes,
        &root,
    )
    .map_err(|e| e.to_string())?;
    let checkpoint = p
        .checkpoint
        .as_deref()
        .ok_or("the inclusion proof comes without a checkpoint")?;
    let cp = proof::verify_checkpoint(checkpoint, None, key).map_err(|e| e.to_string())?;
    if cp.size != p.tree_size || cp.root_hash[..] != root[..] {
        return Err(format!(
            "the checkpoint signs tree size {} with another root than the proof's (size {})",
            cp.size, p.tree_size
        ));
    }
    Ok(InclusionProof {
        log_index: p.log_index,
        tree_size: p.tree_size,
        root_hash: root,
        hashes,
        checkpoint: checkpoint.to_owned(),
    })
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// The DER inside base64 of a PEM (a verifier or publicKey.content).
fn pem_b64_der(b64: &str) -> Option<Vec<u8>> {
    let pem = B64.decode(b64).ok()?;
    let text = std::str::from_utf8(&pem).ok()?;
    pem_rfc7468::decode_vec(first_pem_block(text)?.as_bytes())
        .ok()
        .map(|(_, der)| der)
}

/// The stored body is the entry we sent: its kind, and the hash, signature and key we sent.
fn check_body(body: &[u8], expected: &Expected) -> Result<(), String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| "the log's body is not JSON".to_owned())?;
    let kind = str_at(&v, &["kind"]).unwrap_or_default();
    let version = str_at(&v, &["apiVersion"]).unwrap_or_default();
    if kind != expected.kind || version != "0.0.1" {
        return Err(format!(
            "the log stored a {} {} entry, not the {} 0.0.1 sent",
            quote(kind.as_bytes()),
            quote(version.as_bytes()),
            expected.kind
        ));
    }
    let spec = v.get("spec").ok_or("the log's body has no spec")?;
    let same_key = |b64: Option<&str>| {
        b64.and_then(pem_b64_der)
            .is_some_and(|d| d == expected.key_der)
    };
    match &expected.content {
        Content::HashedRekord {
            digest,
            signature_b64,
        } => {
            let alg = str_at(spec, &["data", "hash", "algorithm"]);
            let value = str_at(spec, &["data", "hash", "value"]);
            if alg != Some("sha256") || !value.is_some_and(|h| h.eq_ignore_ascii_case(digest)) {
                return Err("the log stored another payload hash than the one sent".into());
            }
            if str_at(spec, &["signature", "content"]) != Some(signature_b64.as_str()) {
                return Err("the log stored another signature than the one sent".into());
            }
            if !same_key(str_at(spec, &["signature", "publicKey", "content"])) {
                return Err("the log stored another public key than the signer's".into());
            }
        }
        Content::Dsse {
            envelope,
            envelope_digest,
            payload_digest,
            signatures,
        } => {
            if let Some(proposed) = spec.get("proposedContent") {
                // A log that keeps what was proposed must keep exactly ours.
                if str_at(proposed, &["envelope"]) != Some(envelope.as_str()) {
                    return Err("the log stored another envelope than the one sent".into());
                }
                let verifiers = proposed
                    .get("verifiers")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if verifiers.len() != 1 || !same_key(verifiers[0].as_str()) {
                    return Err("the log stored other verifiers than the signer's key".into());
                }
                return Ok(());
            }
            // Rekor's canonical form: the envelope's and payload's hashes, and each signature
            // with the key that verified it.
            let hash_ok = |field: &str, want: &str| {
                str_at(spec, &[field, "algorithm"]) == Some("sha256")
                    && str_at(spec, &[field, "value"]).is_some_and(|h| h.eq_ignore_ascii_case(want))
            };
            if !hash_ok("envelopeHash", envelope_digest) {
                return Err("the log stored another envelope hash than the one sent".into());
            }
            if !hash_ok("payloadHash", payload_digest) {
                return Err("the log stored another payload hash than the one sent".into());
            }
            let stored = spec
                .get("signatures")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut got: Vec<&str> = Vec::new();
            for s in &stored {
                if !same_key(s.get("verifier").and_then(Value::as_str)) {
                    return Err(
                        "the log stored a signature verifier that is not the signer's".into(),
                    );
                }
                got.push(
                    s.get("signature")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                );
            }
            let mut want: Vec<&str> = signatures.iter().map(String::as_str).collect();
            got.sort_unstable();
            want.sort_unstable();
            if got != want {
                return Err("the log stored other signatures than the envelope's".into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_from_locations() {
        let id = "ab".repeat(32);
        let sharded = format!("{}{id}", "24296fb24b8ad77a");
        assert_eq!(
            entry_id_of_location(&format!("/api/v1/log/entries/{id}")),
            Some(id.clone())
        );
        assert_eq!(
            entry_id_of_location(&format!(
                "https://rekor.example/api/v1/log/entries/{sharded}"
            )),
            Some(sharded)
        );
        assert_eq!(entry_id_of_location("/api/v1/log/entries/xyz"), None);
        assert_eq!(entry_id_of_location(""), None);
        assert_eq!(entry_id_of_location(&"a".repeat(63)), None);
    }

    #[test]
    fn answers_of_other_shapes_are_messages() {
        for bad in [
            &b""[..],
            b"null",
            b"[]",
            b"{}",
            b"{\"zz\":{}}",
            b"\x00<html>",
        ] {
            assert!(parse_answer(bad).is_err(), "{bad:?}");
        }
        let id = "0".repeat(64);
        let two = format!(
            r#"{{"{id}":{{"body":"","integratedTime":1,"logID":"","logIndex":1}},"{}":{{}}}}"#,
            "1".repeat(64)
        );
        assert!(
            parse_answer(two.as_bytes())
                .unwrap_err()
                .contains("2 entries")
        );
        let one = format!(
            r#"{{"{id}":{{"body":"e30=","integratedTime":1,"logID":"aa","logIndex":7,
            "verification":{{"signedEntryTimestamp":"AQ==","inclusionProof":{{"logIndex":3,
            "treeSize":4,"rootHash":"00","hashes":["11"],"checkpoint":"c"}}}}}}}}"#
        );
        let e = parse_answer(one.as_bytes()).unwrap();
        assert_eq!(e.log_index, 7);
        assert_eq!(e.proof.unwrap().log_index, 3);
    }

    use crate::signing::{self, Encoding, KeyPair, Payload};
    use p256::ecdsa::signature::Signer as _;

    /// A log of our own: its key signs SETs and checkpoints as Rekor v1 does.
    struct Log {
        key: p256::ecdsa::SigningKey,
    }

    impl Log {
        fn new() -> Self {
            Log {
                key: p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap(),
            }
        }

        fn log_key(&self) -> LogKey {
            use p256::pkcs8::EncodePublicKey as _;
            LogKey::from_der(
                self.key
                    .verifying_key()
                    .to_public_key_der()
                    .unwrap()
                    .as_bytes(),
            )
            .unwrap()
        }

        fn sign(&self, msg: &[u8]) -> String {
            let sig: p256::ecdsa::Signature = self.key.sign(msg);
            B64.encode(sig.to_der().as_bytes())
        }

        /// The answer a log gives for `body`, at global index 1000 and tree index 0 of a tree
        /// of one.
        fn answer(&self, body: &[u8]) -> Value {
            let log_id = hex(&self.log_key().log_id());
            let body_b64 = B64.encode(body);
            let set = proof::set_payload(&body_b64, 1_700_000_000, &log_id, 1000);
            let root = proof::leaf_hash(body);
            let note = format!("rekor.test - 42\n1\n{}\n", B64.encode(root));
            let sig: p256::ecdsa::Signature = self.key.sign(note.as_bytes());
            let line =
                B64.encode([&self.log_key().log_id()[..4], sig.to_der().as_bytes()].concat());
            json!({ "ab".repeat(32): {
                "body": body_b64,
                "integratedTime": 1_700_000_000,
                "logID": log_id,
                "logIndex": 1000,
                "verification": {
                    "signedEntryTimestamp": self.sign(set.as_bytes()),
                    "inclusionProof": {
                        "logIndex": 0, "treeSize": 1, "hashes": [],
                        "rootHash": hex(&root),
                        "checkpoint": format!("{note}\n\u{2014} rekor.test {line}\n"),
                    },
                },
            }})
        }
    }

    fn signed_with(kp: &KeyPair, payload: &Payload, f: impl FnOnce(&Signed<'_>)) {
        let signature = signing::sign(kp, payload).unwrap();
        f(&Signed {
            payload,
            signature: &signature,
            signer: kp,
        });
    }

    fn payloads() -> [Payload; 2] {
        [
            Payload {
                bytes: b"{\"critical\":{}}".to_vec(),
                encoding: Encoding::Raw,
            },
            Payload {
                bytes: b"{\"_type\":\"https://in-toto.io/Statement/v1\"}".to_vec(),
                encoding: Encoding::Dsse {
                    payload_type: signing::dsse::INTOTO_PAYLOAD_TYPE,
                },
            },
        ]
    }

    fn check(log: &Log, answer: &Value, signed: &Signed<'_>) -> Result<LogEntry, String> {
        check_answer(
            &serde_json::to_vec(answer).unwrap(),
            signed,
            &log.log_key(),
            "https://rekor.test",
        )
    }

    fn canonical(proposed: &Value) -> Vec<u8> {
        serde_json::to_vec(proposed).unwrap()
    }

    #[test]
    fn an_answer_that_checks_out_becomes_the_entry() {
        let log = Log::new();
        let kp = KeyPair::generate_p256().unwrap();
        for payload in payloads() {
            signed_with(&kp, &payload, |signed| {
                let proposed = proposed_entry(signed).unwrap();
                let e = check(&log, &log.answer(&canonical(&proposed)), signed).unwrap();
                assert_eq!(e.log_index, 1000);
                assert_eq!(e.inclusion_proof.as_ref().unwrap().log_index, 0);
                assert_eq!(e.uuid, "ab".repeat(32));
                assert_eq!(e.kind, proposed["kind"].as_str().unwrap());
                assert_eq!(
                    e.chains_url(),
                    "https://rekor.test/api/v1/log/entries?logIndex=1000"
                );
            });
        }
    }

    #[test]
    fn rekors_canonical_dsse_body_is_accepted_and_checked() {
        let log = Log::new();
        let kp = KeyPair::generate_p256().unwrap();
        let payload = &payloads()[1];
        signed_with(&kp, payload, |signed| {
            let proposed = proposed_entry(signed).unwrap();
            let envelope = proposed["spec"]["proposedContent"]["envelope"]
                .as_str()
                .unwrap();
            let env: Value = serde_json::from_str(envelope).unwrap();
            let body = |sig: &str, payload_hash: &str| {
                canonical(&json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
                    "envelopeHash": {"algorithm": "sha256", "value": hex(&Sha256::digest(envelope.as_bytes()))},
                    "payloadHash": {"algorithm": "sha256", "value": payload_hash},
                    "signatures": [{"signature": sig,
                                    "verifier": B64.encode(kp.public_key_pem().as_bytes())}],
                }}))
            };
            let sig = env["signatures"][0]["sig"].as_str().unwrap();
            let good_hash = hex(&Sha256::digest(&payload.bytes));
            check(&log, &log.answer(&body(sig, &good_hash)), signed).unwrap();
            let err = check(&log, &log.answer(&body(sig, &"0".repeat(64))), signed).unwrap_err();
            assert!(err.contains("payload hash"), "{err}");
            let err = check(&log, &log.answer(&body("AAAA", &good_hash)), signed).unwrap_err();
            assert!(err.contains("signatures"), "{err}");
        });
    }

    #[test]
    fn answers_that_do_not_check_out_are_refused() {
        let log = Log::new();
        let kp = KeyPair::generate_p256().unwrap();
        let other = KeyPair::generate_p256().unwrap();
        let [raw, dsse] = payloads();
        signed_with(&kp, &raw, |signed| {
            let proposed = proposed_entry(signed).unwrap();
            let good = log.answer(&canonical(&proposed));
            let id = "ab".repeat(32);
            let mut cases: Vec<(&str, Value)> = Vec::new();
            // Another body, properly signed by the log: not what was sent.
            let mut p = proposed.clone();
            p["spec"]["data"]["hash"]["value"] = json!("0".repeat(64));
            cases.push(("payload hash", log.answer(&canonical(&p))));
            let mut p = proposed.clone();
            p["spec"]["signature"]["publicKey"]["content"] =
                json!(B64.encode(other.public_key_pem().as_bytes()));
            cases.push(("public key", log.answer(&canonical(&p))));
            let mut p = proposed.clone();
            p["kind"] = json!("rekord");
            cases.push(("rekord", log.answer(&canonical(&p))));
            // The SET over other values.
            let mut a = good.clone();
            a[&id]["integratedTime"] = json!(1_700_000_001);
            cases.push(("signed entry timestamp", a));
            let mut a = good.clone();
            a[&id]["verification"]["signedEntryTimestamp"] = json!(log.sign(b"x"));
            cases.push(("signed entry timestamp", a));
            let mut a = good.clone();
            a[&id]["verification"]
                .as_object_mut()
                .unwrap()
                .remove("signedEntryTimestamp");
            cases.push(("without a signed entry timestamp", a));
            let mut a = good.clone();
            a[&id]["logID"] = json!("0".repeat(64));
            cases.push(("log id", a));
            // A proof to another root, a checkpoint signed by someone else.
            let mut a = good.clone();
            a[&id]["verification"]["inclusionProof"]["rootHash"] = json!("11".repeat(32));
            cases.push(("inclusion proof", a));
            let mut a = good.clone();
            let cp = a[&id]["verification"]["inclusionProof"]["checkpoint"]
                .as_str()
                .unwrap()
                .replace("rekor.test - 42", "rekor.test - 43");
            a[&id]["verification"]["inclusionProof"]["checkpoint"] = json!(cp);
            cases.push(("checkpoint", a));
            for (why, answer) in cases {
                let err = check(&log, &answer, signed).unwrap_err();
                assert!(err.contains(why), "{why}: {err}");
            }
            // Another log's key: the SET does not verify.
            let stranger = Log {
                key: p256::ecdsa::SigningKey::from_slice(&[6u8; 32]).unwrap(),
            };
            assert!(check(&stranger, &good, signed).is_err());
        });
        signed_with(&kp, &dsse, |signed| {
            let mut p = proposed_entry(signed).unwrap();
            let env = p["spec"]["proposedContent"]["envelope"]
                .as_str()
                .unwrap()
                .replace("sig", "sig ");
            p["spec"]["proposedContent"]["envelope"] = json!(env);
            let err = check(&log, &log.answer(&canonical(&p)), signed).unwrap_err();
            assert!(err.contains("envelope"), "{err}");
        });
    }

    /// A signer with a certificate (as Fulcio's will be): the entry names the certificate.
    struct CertSigner(KeyPair, crate::signing::Certificate);

    impl crate::signing::Signer for CertSigner {
        fn sign(&self, m: &[u8]) -> Result<Vec<u8>, crate::signing::SignError> {
            self.0.sign(m)
        }
        fn public_key_der(&self) -> Vec<u8> {
            self.0.public_key_der()
        }
        fn key_id(&self) -> String {
            self.0.key_id()
        }
        fn describe(&self) -> String {
            "test".into()
        }
        fn certificate(&self) -> Option<&crate::signing::Certificate> {
            Some(&self.1)
        }
    }

    #[test]
    fn a_signer_with_a_certificate_is_logged_with_the_leaf_certificate() {
        use crate::signing::Signer as _;
        let leaf = pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, b"leaf")
            .unwrap();
        let root = pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, b"root")
            .unwrap();
        let signer = CertSigner(
            KeyPair::generate_p256().unwrap(),
            crate::signing::Certificate {
                cert_pem: format!("{leaf}{root}"),
                chain_pem: root.clone(),
            },
        );
        let log = Log::new();
        for payload in payloads() {
            let signature = signing::sign(&signer, &payload).unwrap();
            let signed = Signed {
                payload: &payload,
                signature: &signature,
                signer: &signer,
            };
            let proposed = proposed_entry(&signed).unwrap();
            let pem = proposed["spec"]["signature"]["publicKey"]["content"]
                .as_str()
                .or(proposed["spec"]["proposedContent"]["verifiers"][0].as_str())
                .unwrap();
            assert_eq!(pem_b64_der(pem).unwrap(), b"leaf");
            check(&log, &log.answer(&canonical(&proposed)), &signed).unwrap();
            assert!(signer.certificate().is_some());
        }
    }

    #[test]
    fn quotes_are_short_and_one_line() {
        let q = quote(&[b'x'; 1000]);
        assert!(q.chars().count() <= super::super::MAX_QUOTE + 1);
        assert!(!quote(b"a\nb\r\nc").contains('\n'));
        assert_eq!(quote(b""), "(no body)");
    }
}
