//! The Rekor v2 client (rekor-tiles): one `hashedrekord` v0.0.2 entry per signed payload, its
//! answer checked before anything is stored, and an RFC 3161 timestamp for the signing time.
//!
//! # What is sent
//!
//! `POST <url>/api/v2/log/entries` with the protobuf JSON of rekor-tiles'
//! `CreateEntryRequest` (`api/proto/rekor/v2/entry.proto`, `hashedrekord.proto`,
//! `verifier.proto`; bytes as standard base64):
//!
//! ```json
//! {"hashedRekordRequestV002": {
//!    "digest": "<base64 SHA-256 of what was signed>",
//!    "signature": {"content": "<base64 signature>",
//!                  "verifier": {"publicKey": {"rawBytes": "<base64 DER SPKI>"},
//!                               "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}}
//! ```
//!
//! with `"x509Certificate": {"rawBytes": …}` instead of `publicKey` for a signer with a
//! certificate. A raw signature (an image's simple-signing payload, format `tekton`) is over
//! the payload, so the digest is the payload's. A v2 log has no `dsse` type (2.3.0 takes
//! hashedrekord only), so a DSSE envelope is logged as sigstore-go's `pkg/sign/transparency.go`
//! does: a hashedrekord whose digest is SHA-256 of the envelope's PAE and whose signature is the
//! envelope's (first) signature, which is exactly a signature over that digest.
//!
//! hashedrekord needs a prehashed signature: chainlet's ECDSA P-256 signatures are (SHA-256).
//! P-384 keys sign with SHA-256 as Chains does, which the log's algorithm registry refuses
//! (P-384 goes with SHA-384), and Ed25519 signs the message itself: both are refused here,
//! before anything is sent.
//!
//! # What is checked
//!
//! The answer is a `TransparencyLogEntry` (protobuf JSON). Before it is handed on: its
//! `canonicalizedBody` is the entry built from what was sent (kind `hashedrekord` 0.0.2, the
//! same digest, signature and verifier); its leaf hash is included under the proof's root; the
//! proof's checkpoint is signed by the log's key from the trusted root, carries the log's
//! origin (the host of the log's URL, as sigstore-go checks) and the proof's size and root; the
//! log id is the key's.
//!
//! # The timestamp
//!
//! A v2 log gives no integrated time, so the signing time is an RFC 3161 timestamp over the
//! signature bytes (sigstore-go's `pkg/sign/timestamping.go`; cosign 3 and sigstore-go verify
//! it so), asked of the timestamp authority while the entry is uploaded and verified against
//! the authority's chain from the trusted root, or — with none there — the chain the authority
//! serves at `<url>/certchain`, read once and said so in the log.

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::proof::{self, LogKey};
use super::tsa;
use super::{
    InclusionProof, LogEntry, LogSetup, Signed, Transparency, TransparencyError, TsaSetup, quote,
};
use crate::net::{Policy, Request, Transport};
use crate::signing::Signature;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The entry kind and version a v2 log makes of a hashedrekord request.
pub const KIND: &str = "hashedrekord";
pub const KIND_VERSION: &str = "0.0.2";

/// Answers larger than this are not a log entry.
const MAX_ANSWER: u64 = 1 << 20;
/// How long the timestamp authority may take, retries included (a down authority fails the
/// run after this, not at the run's deadline).
const TSA_BUDGET: Duration = Duration::from_secs(30);

/// Opens the client of the v2 log `setup` names. The log's key is required (trust.rs asks for
/// it), and so is a timestamp authority.
pub fn open(
    setup: &LogSetup,
    transport: Transport,
) -> Result<Box<dyn Transparency>, TransparencyError> {
    let setup_err =
        |m: String| TransparencyError::Setup(format!("transparency.url {}: {m}", setup.url));
    let der = setup
        .key
        .as_deref()
        .ok_or_else(|| setup_err("a Rekor v2 log needs its key from a --trusted-root".into()))?;
    let key = LogKey::from_der(der)
        .map_err(|e| setup_err(format!("the trusted root's key for this log: {e}")))?;
    let tsa = setup.timestamp.clone().ok_or_else(|| {
        setup_err("a Rekor v2 log needs a timestamp authority (--timestamp-url)".into())
    })?;
    let origin = origin_of(&setup.url).ok_or_else(|| setup_err("no host in the URL".into()))?;
    Ok(Box::new(RekorV2 {
        url: setup.url.clone(),
        key,
        origin,
        tsa,
        chain: OnceLock::new(),
        transport,
    }))
}

/// The checkpoint origin a v2 log at `url` signs under: the URL's host name (no port), as
/// sigstore-go derives it (`url.Hostname()`).
pub fn origin_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_owned())
}

pub struct RekorV2 {
    url: String,
    key: LogKey,
    origin: String,
    tsa: TsaSetup,
    /// The authority's chain: the trusted root's, or read once from the authority.
    chain: OnceLock<Result<Vec<Vec<u8>>, String>>,
    transport: Transport,
}

impl Transparency for RekorV2 {
    fn describe(&self) -> String {
        format!(
            "rekor v2 at {} (timestamps from {})",
            self.url, self.tsa.url
        )
    }

    fn log(&self, signed: &Signed<'_>) -> Result<Option<LogEntry>, TransparencyError> {
        let request = EntryRequest::new(signed).map_err(|m| self.upload_err(m))?;
        let signature = request.signature.clone();
        let (entry, timestamp) = std::thread::scope(|s| {
            let stamping = s.spawn(|| self.timestamp(&signature));
            let entry = self.upload(&request);
            let timestamp = stamping.join().unwrap_or_else(|_| {
                Err(TransparencyError::Timestamp {
                    tsa: self.tsa.url.clone(),
                    message: "the timestamp request failed unexpectedly".into(),
                })
            });
            (entry, timestamp)
        });
        let mut entry = entry?;
        let timestamp = timestamp?;
        tracing::info!(
            log = %self.url,
            log_index = entry.log_index,
            timestamp = timestamp.gen_time,
            "logged in Rekor v2 and timestamped"
        );
        entry.timestamps.push(timestamp.signed_timestamp);
        Ok(Some(entry))
    }
}

impl RekorV2 {
    fn upload_err(&self, message: impl Into<String>) -> TransparencyError {
        TransparencyError::upload(&self.url, message)
    }

    fn unverified(&self, message: impl Into<String>) -> TransparencyError {
        TransparencyError::unverified(&self.url, message)
    }

    fn upload(&self, request: &EntryRequest) -> Result<LogEntry, TransparencyError> {
        let body = request.json();
        let answer = self
            .transport
            .send(
                &Request::new(
                    "POST",
                    format!("{}/api/v2/log/entries", self.url),
                    "POST /api/v2/log/entries",
                )
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .body(&body)
                // The same entry again is the same entry: a retry may only log it twice.
                .policy(Policy::idempotent())
                .max_body(MAX_ANSWER),
            )
            .map_err(|e| self.upload_err(e.to_string()))?;
        if answer.status == 409 {
            return self.reuse(&answer.body, request);
        }
        if !(200..300).contains(&answer.status) {
            return Err(self.upload_err(format!(
                "answered {}: {}",
                answer.status,
                quote(&answer.body)
            )));
        }
        let entry = parse_entry(&answer.body).map_err(|m| self.unverified(m))?;
        self.check(entry, request)
    }

    /// A 409: the log has this entry already (a re-run: chainlet's signatures are
    /// deterministic). The entry, its inclusion proof and the checkpoint are read from the
    /// log's tiles and go through the same checks as a new answer.
    fn reuse(&self, answer: &[u8], request: &EntryRequest) -> Result<LogEntry, TransparencyError> {
        let index = existing_index(answer).ok_or_else(|| {
            self.upload_err(format!(
                "answered 409 without the existing entry's index: {}",
                quote(answer)
            ))
        })?;
        let read = |m: String| self.upload_err(format!("reading back entry {index}: {m}"));
        let checkpoint =
            super::tiles::Tiles::checkpoint(&self.transport, &self.url).map_err(read)?;
        let cp = proof::verify_checkpoint(&checkpoint, Some(&self.origin), &self.key)
            .map_err(|e| self.unverified(format!("its checkpoint: {e}")))?;
        let tiles = super::tiles::Tiles::new(&self.transport, &self.url, cp.size);
        let body = tiles.entry(index).map_err(read)?;
        let hashes = tiles.inclusion_proof(index).map_err(read)?;
        let kind: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let parsed = ParsedEntry {
            log_index: index,
            log_id: self.key.note_key_id(&self.origin).to_vec(),
            kind: kind["kind"].as_str().unwrap_or_default().to_owned(),
            kind_version: kind["apiVersion"].as_str().unwrap_or_default().to_owned(),
            integrated_time: 0,
            body,
            proof: Some(InclusionProof {
                log_index: index,
                tree_size: cp.size,
                root_hash: cp.root_hash.to_vec(),
                hashes: hashes.iter().map(|h| h.to_vec()).collect(),
                checkpoint,
            }),
        };
        let entry = self.check(parsed, request)?;
        tracing::info!(log = %self.url, log_index = index, "the log had this entry already: reused");
        Ok(entry)
    }

    /// Checks a parsed answer against what was sent and the log's key.
    fn check(
        &self,
        raw: ParsedEntry,
        request: &EntryRequest,
    ) -> Result<LogEntry, TransparencyError> {
        check_entry(raw, request, &self.key, &self.origin, &self.url)
            .map_err(|m| self.unverified(m))
    }

    fn timestamp(&self, signature: &[u8]) -> Result<tsa::Timestamp, TransparencyError> {
        let err = |message: String| TransparencyError::Timestamp {
            tsa: self.tsa.url.clone(),
            message,
        };
        let chain = self.chain()?;
        let req = tsa::request(signature).map_err(|e| err(format!("no random nonce: {e}")))?;
        let answer = self
            .transport
            .send(
                &Request::new("POST", self.tsa.url.clone(), "POST timestamp request")
                    .header("Content-Type", "application/timestamp-query")
                    .header("Accept", "application/timestamp-reply")
                    .body(&req.der)
                    .policy(Policy::idempotent().within(TSA_BUDGET))
                    .max_body(MAX_ANSWER),
            )
            .map_err(|e| err(e.to_string()))?;
        if answer.status != 200 {
            return Err(err(format!(
                "answered {}: {}",
                answer.status,
                quote(&answer.body)
            )));
        }
        tsa::verify_response(&answer.body, signature, req.nonce, &chain)
            .map_err(|e| err(format!("its answer does not verify: {e}")))
    }

    /// The authority's chain: the trusted root's, else `<url>/certchain`, read once.
    fn chain(&self) -> Result<Vec<Vec<u8>>, TransparencyError> {
        if !self.tsa.chain.is_empty() {
            return Ok(self.tsa.chain.clone());
        }
        self.chain
            .get_or_init(|| {
                let url = format!("{}/certchain", self.tsa.url);
                let answer = self
                    .transport
                    .send(
                        &Request::new("GET", url.clone(), "GET certchain")
                            .policy(Policy::idempotent().within(TSA_BUDGET))
                            .max_body(MAX_ANSWER),
                    )
                    .map_err(|e| e.to_string())?;
                if answer.status != 200 {
                    return Err(format!("{url} answered {}", answer.status));
                }
                let text = String::from_utf8_lossy(&answer.body);
                let chain = pem_chain(&text).map_err(|e| format!("{url}: {e}"))?;
                tracing::warn!(
                    tsa = %self.tsa.url,
                    certificates = chain.len(),
                    "the timestamp authority's chain came from the authority itself ({url}), \
                     not from a trusted root: its timestamps are checked against what it says it is"
                );
                Ok(chain)
            })
            .clone()
            .map_err(|message| TransparencyError::Timestamp {
                tsa: self.tsa.url.clone(),
                message,
            })
    }
}

/// The index in rekor-tiles' 409 answer ("an equivalent entry already exists in the
/// transparency log with index N").
pub fn existing_index(answer: &[u8]) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_slice(answer).ok()?;
    let message = v["message"].as_str()?;
    let (_, tail) = message.rsplit_once("with index ")?;
    let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Every PEM `CERTIFICATE` block in `text`, DER, in order.
pub fn pem_chain(text: &str) -> Result<Vec<Vec<u8>>, String> {
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let Some(end) = rest[start..].find(END) else {
            return Err("a PEM block without its END line".into());
        };
        let block = &rest[start..start + end + END.len()];
        let (label, der) =
            pem_rfc7468::decode_vec(block.as_bytes()).map_err(|e| format!("not PEM: {e}"))?;
        if label != "CERTIFICATE" {
            return Err(format!("a PEM {label:?}, not a CERTIFICATE"));
        }
        out.push(der);
        rest = &rest[start + end + END.len()..];
    }
    if out.is_empty() {
        return Err("no PEM certificate".into());
    }
    Ok(out)
}

/// Who verifies the entry's signature, as the log is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verifier {
    /// DER SubjectPublicKeyInfo.
    PublicKey(Vec<u8>),
    /// DER certificate.
    Certificate(Vec<u8>),
}

/// One hashedrekord v0.0.2 request: the digest of what was signed, the signature, its verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRequest {
    pub digest: Vec<u8>,
    pub signature: Vec<u8>,
    pub verifier: Verifier,
    pub key_details: &'static str,
}

impl EntryRequest {
    /// The request for one signed payload: refused for keys a v2 log cannot take.
    pub fn new(signed: &Signed<'_>) -> Result<Self, String> {
        let key_der = signed.signer.public_key_der();
        let key_details = key_details(&key_der)?;
        let signature = signed.signature.raw()?;
        let digest = match &signed.signature {
            Signature::Dsse(envelope) => {
                let pae = crate::signing::dsse::pae(&envelope.payload_type, &signed.payload.bytes);
                Sha256::digest(pae).to_vec()
            }
            Signature::Raw(_) => Sha256::digest(&signed.payload.bytes).to_vec(),
        };
        let verifier = match signed.signer.certificate() {
            Some(c) => {
                let (label, der) = pem_rfc7468::decode_vec(c.cert_pem.trim().as_bytes())
                    .map_err(|e| format!("the signing certificate is not PEM: {e}"))?;
                if label != "CERTIFICATE" {
                    return Err(format!("the signing certificate is a PEM {label:?}"));
                }
                Verifier::Certificate(der)
            }
            None => Verifier::PublicKey(key_der),
        };
        Ok(Self {
            digest,
            signature,
            verifier,
            key_details,
        })
    }

    /// The `CreateEntryRequest` JSON.
    pub fn json(&self) -> Vec<u8> {
        serde_json::to_vec(&CreateEntryRequest {
            hashed_rekord_request_v002: HashedRekordRequest {
                digest: B64.encode(&self.digest),
                signature: self.signature_json(),
            },
        })
        .unwrap_or_default()
    }

    fn signature_json(&self) -> SignatureJson {
        let (public_key, x509_certificate) = match &self.verifier {
            Verifier::PublicKey(der) => (
                Some(RawBytes {
                    raw_bytes: B64.encode(der),
                }),
                None,
            ),
            Verifier::Certificate(der) => (
                None,
                Some(RawBytes {
                    raw_bytes: B64.encode(der),
                }),
            ),
        };
        SignatureJson {
            content: B64.encode(&self.signature),
            verifier: VerifierJson {
                public_key,
                x509_certificate,
                key_details: self.key_details,
            },
        }
    }

    /// The entry the log makes of this request (its `canonicalizedBody`, as JSON).
    pub fn expected_body(&self) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": KIND_VERSION,
            "kind": KIND,
            "spec": {"hashedRekordV002": {
                "data": {"algorithm": "SHA2_256", "digest": B64.encode(&self.digest)},
                "signature": self.signature_json(),
            }},
        })
    }
}

/// `keyDetails` of a signer's key, for the keys whose signatures a v2 log takes.
fn key_details(der: &[u8]) -> Result<&'static str, String> {
    use p256::pkcs8::DecodePublicKey as _;
    if p256::ecdsa::VerifyingKey::from_public_key_der(der).is_ok() {
        return Ok("PKIX_ECDSA_P256_SHA_256");
    }
    if p384::ecdsa::VerifyingKey::from_public_key_der(der).is_ok() {
        return Err(
            "a Rekor v2 log takes ECDSA P-384 signatures over SHA-384 only, and this \
                    signer's (as Chains') are over SHA-256: sign with a P-256 key"
                .into(),
        );
    }
    if ed25519_dalek::VerifyingKey::from_public_key_der(der).is_ok() {
        return Err(
            "a Rekor v2 log takes prehashed signatures only (hashedrekord), and \
                    Ed25519 signs the message itself: sign with a P-256 key"
                .into(),
        );
    }
    Err(
        "the signer's key is not an ECDSA P-256 key, the one kind a Rekor v2 log takes from \
         chainlet"
            .into(),
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateEntryRequest {
    hashed_rekord_request_v002: HashedRekordRequest,
}

#[derive(Serialize)]
struct HashedRekordRequest {
    digest: String,
    signature: SignatureJson,
}

#[derive(Serialize)]
struct SignatureJson {
    content: String,
    verifier: VerifierJson,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VerifierJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<RawBytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x509_certificate: Option<RawBytes>,
    key_details: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: String,
}

/// A `TransparencyLogEntry` as the log answered it, decoded but not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEntry {
    pub log_index: u64,
    pub log_id: Vec<u8>,
    pub kind: String,
    pub kind_version: String,
    pub integrated_time: i64,
    pub body: Vec<u8>,
    pub proof: Option<InclusionProof>,
}

/// Decodes a `TransparencyLogEntry` (protobuf JSON: int64 as strings or numbers, bytes as
/// base64, fields at their default left out). Any input: an error, never a panic.
pub fn parse_entry(body: &[u8]) -> Result<ParsedEntry, String> {
    let raw: RawEntry = serde_json::from_slice(body)
        .map_err(|e| format!("the answer is not a TransparencyLogEntry: {e}"))?;
    let b64 = |s: &str, what: &str| {
        B64.decode(s.trim())
            .map_err(|e| format!("{what} is not base64: {e}"))
    };
    let kind_version = raw.kind_version.unwrap_or_default();
    let proof = match raw.inclusion_proof {
        Some(p) => Some(InclusionProof {
            log_index: p.log_index.0,
            tree_size: p.tree_size.0,
            root_hash: b64(&p.root_hash, "inclusionProof.rootHash")?,
            hashes: p
                .hashes
                .iter()
                .map(|h| b64(h, "inclusionProof.hashes"))
                .collect::<Result<_, _>>()?,
            checkpoint: p.checkpoint.unwrap_or_default().envelope,
        }),
        None => None,
    };
    Ok(ParsedEntry {
        log_index: raw.log_index.0,
        log_id: match raw.log_id {
            Some(id) => b64(&id.key_id, "logId.keyId")?,
            None => Vec::new(),
        },
        kind: kind_version.kind,
        kind_version: kind_version.version,
        integrated_time: i64::try_from(raw.integrated_time.0)
            .map_err(|_| "integratedTime is out of range".to_owned())?,
        body: b64(&raw.canonicalized_body, "canonicalizedBody")?,
        proof,
    })
}

/// Checks a parsed entry: the body is `request`'s, the leaf is included under the proof's
/// root, the checkpoint is the log's (`origin`, signed by `key`) for that tree, the log id is
/// the key's. Gives the entry as storage serialises it.
pub fn check_entry(
    raw: ParsedEntry,
    request: &EntryRequest,
    key: &LogKey,
    origin: &str,
    log_url: &str,
) -> Result<LogEntry, String> {
    if raw.kind != KIND || raw.kind_version != KIND_VERSION {
        return Err(format!(
            "the entry is {} {}, not the {KIND} {KIND_VERSION} sent",
            raw.kind, raw.kind_version
        ));
    }
    let body: serde_json::Value = serde_json::from_slice(&raw.body)
        .map_err(|e| format!("canonicalizedBody is not JSON: {e}"))?;
    if body != request.expected_body() {
        return Err("canonicalizedBody is not the entry that was sent".into());
    }
    let want_id = key.note_key_id(origin);
    if raw.log_id != want_id && raw.log_id != key.log_id() {
        return Err(format!(
            "logId {} is not the trusted root's key ({})",
            hex(&raw.log_id),
            hex(&want_id)
        ));
    }
    let proof = raw
        .proof
        .ok_or_else(|| "the entry has no inclusion proof".to_owned())?;
    if proof.log_index != raw.log_index {
        return Err(format!(
            "the inclusion proof is for index {}, the entry is at {}",
            proof.log_index, raw.log_index
        ));
    }
    let leaf = proof::leaf_hash(&raw.body);
    proof::verify_inclusion(
        &leaf,
        proof.log_index,
        proof.tree_size,
        &proof.hashes,
        &proof.root_hash,
    )
    .map_err(|e| e.to_string())?;
    let checkpoint = proof::verify_checkpoint(&proof.checkpoint, Some(origin), key)
        .map_err(|e| e.to_string())?;
    if checkpoint.size != proof.tree_size || checkpoint.root_hash[..] != proof.root_hash[..] {
        return Err(format!(
            "the checkpoint is for a tree of size {} with another root than the proof's (size {})",
            checkpoint.size, proof.tree_size
        ));
    }
    Ok(LogEntry {
        log_url: log_url.to_owned(),
        log_index: raw.log_index,
        uuid: hex(&leaf),
        log_id: hex(&raw.log_id),
        integrated_time: raw.integrated_time,
        body: raw.body,
        kind: raw.kind,
        kind_version: raw.kind_version,
        signed_entry_timestamp: None,
        inclusion_proof: Some(proof),
        timestamps: Vec::new(),
    })
}

use crate::registry::hex;

/// An int64/uint64 in protobuf JSON: a string or a number.
type Int = crate::transparency::pbjson::Int<u64>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    #[serde(default)]
    log_index: Int,
    log_id: Option<RawLogId>,
    kind_version: Option<RawKindVersion>,
    #[serde(default)]
    integrated_time: Int,
    inclusion_proof: Option<crate::transparency::pbjson::InclusionProofJson>,
    #[serde(default)]
    canonicalized_body: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    #[serde(default)]
    key_id: String,
}

#[derive(Deserialize, Default)]
struct RawKindVersion {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    version: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::EncodePublicKey as _;

    fn request() -> EntryRequest {
        EntryRequest {
            digest: vec![0xd1; 32],
            signature: vec![0x30, 0x06, 1, 2, 3, 4, 5, 6],
            verifier: Verifier::PublicKey(vec![0x30, 0x59, 7]),
            key_details: "PKIX_ECDSA_P256_SHA_256",
        }
    }

    /// A log key, and the answer a one-entry log with that key gives for `request`.
    fn answer(req: &EntryRequest, origin: &str) -> (LogKey, Value) {
        let sk = p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap();
        let der = sk.verifying_key().to_public_key_der().unwrap();
        let key = LogKey::from_der(der.as_bytes()).unwrap();
        let body = serde_json::to_vec(&req.expected_body()).unwrap();
        let root = proof::leaf_hash(&body);
        let note = format!("{origin}\n1\n{}\n", B64.encode(root));
        let sig: p256::ecdsa::Signature = sk.sign(note.as_bytes());
        let mut line = key.note_key_id(origin)[..4].to_vec();
        line.extend_from_slice(sig.to_der().as_bytes());
        let checkpoint = format!("{note}\n\u{2014} {origin} {}\n", B64.encode(line));
        let answer = serde_json::json!({
            "logIndex": "0",
            "logId": {"keyId": B64.encode(key.log_id())},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
            "inclusionProof": {"logIndex": "0", "rootHash": B64.encode(root), "treeSize": "1",
                               "hashes": [], "checkpoint": {"envelope": checkpoint}},
            "canonicalizedBody": B64.encode(&body),
        });
        (key, answer)
    }

    type Value = serde_json::Value;

    #[test]
    fn the_request_is_rekor_tiles_create_entry_request_in_protobuf_json() {
        let json: Value = serde_json::from_slice(&request().json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"hashedRekordRequestV002": {
                "digest": B64.encode([0xd1; 32]),
                "signature": {
                    "content": "MAYBAgMEBQY=",
                    "verifier": {"publicKey": {"rawBytes": "MFkH"},
                                 "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}})
        );
        let mut with_cert = request();
        with_cert.verifier = Verifier::Certificate(vec![1]);
        let json: Value = serde_json::from_slice(&with_cert.json()).unwrap();
        let verifier = &json["hashedRekordRequestV002"]["signature"]["verifier"];
        assert_eq!(verifier["x509Certificate"]["rawBytes"], "AQ==");
        assert!(verifier.get("publicKey").is_none());
    }

    #[test]
    fn a_checked_answer_becomes_the_entry() {
        let req = request();
        let (key, answer) = answer(&req, "rekor.example");
        let parsed = parse_entry(&serde_json::to_vec(&answer).unwrap()).unwrap();
        let entry =
            check_entry(parsed, &req, &key, "rekor.example", "https://rekor.example").unwrap();
        assert_eq!(entry.kind_version, "0.0.2");
        assert_eq!(entry.integrated_time, 0);
        assert_eq!(entry.uuid.len(), 64);
        assert_eq!(entry.log_id, hex(&key.log_id()));
        assert!(entry.signed_entry_timestamp.is_none());
    }

    #[test]
    fn answers_that_do_not_match_are_refused() {
        let req = request();
        let (key, good) = answer(&req, "rekor.example");
        let check = |answer: &Value, origin: &str, req: &EntryRequest| {
            parse_entry(&serde_json::to_vec(answer).unwrap())
                .and_then(|p| check_entry(p, req, &key, origin, "https://rekor.example"))
                .unwrap_err()
        };
        // Another origin than the log's URL host.
        assert!(check(&good, "other.example", &req).contains("origin"));
        // Another entry than the one sent.
        let mut other = req.clone();
        other.digest = vec![0xd2; 32];
        assert!(check(&good, "rekor.example", &other).contains("not the entry that was sent"));
        // A tree size the checkpoint does not sign.
        let mut bad = good.clone();
        bad["inclusionProof"]["treeSize"] = "2".into();
        assert!(check(&bad, "rekor.example", &req).contains("inclusion proof"));
        // Another log id.
        let mut bad = good.clone();
        bad["logId"]["keyId"] = B64.encode([0u8; 32]).into();
        assert!(check(&bad, "rekor.example", &req).contains("logId"));
        // No proof.
        let mut bad = good.clone();
        bad.as_object_mut().unwrap().remove("inclusionProof");
        assert!(check(&bad, "rekor.example", &req).contains("no inclusion proof"));
        // Another key signed the checkpoint.
        let other_key = {
            let sk = p256::ecdsa::SigningKey::from_slice(&[6u8; 32]).unwrap();
            LogKey::from_der(sk.verifying_key().to_public_key_der().unwrap().as_bytes()).unwrap()
        };
        let parsed = parse_entry(&serde_json::to_vec(&good).unwrap()).unwrap();
        let mut wrong = parsed.clone();
        wrong.log_id = other_key.log_id().to_vec();
        assert!(
            check_entry(wrong, &req, &other_key, "rekor.example", "u")
                .unwrap_err()
                .contains("checkpoint")
        );
    }

    #[test]
    fn int64_fields_may_be_numbers_strings_or_absent() {
        let e = parse_entry(br#"{"logIndex": 5, "integratedTime": "7"}"#).unwrap();
        assert_eq!((e.log_index, e.integrated_time), (5, 7));
        let e = parse_entry(b"{}").unwrap();
        assert_eq!((e.log_index, e.proof), (0, None));
        assert!(parse_entry(br#"{"logIndex": "x"}"#).is_err());
        assert!(parse_entry(br#"{"canonicalizedBody": "!"}"#).is_err());
    }

    #[test]
    fn the_origin_is_the_urls_host() {
        assert_eq!(
            origin_of("http://127.0.0.1:3000").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            origin_of("https://log2025-1.rekor.sigstore.dev/").as_deref(),
            Some("log2025-1.rekor.sigstore.dev")
        );
        assert_eq!(origin_of("http://[::1]:8080/x").as_deref(), Some("::1"));
        assert_eq!(origin_of("http://"), None);
    }

    #[test]
    fn keys_a_v2_log_cannot_take_are_refused_before_upload() {
        let p384 = p384::ecdsa::SigningKey::from_slice(&[3u8; 48]).unwrap();
        let der = p384.verifying_key().to_public_key_der().unwrap();
        assert!(key_details(der.as_bytes()).unwrap_err().contains("P-384"));
        assert!(key_details(b"junk").is_err());
        let p256 = p256::ecdsa::SigningKey::from_slice(&[3u8; 32]).unwrap();
        let der = p256.verifying_key().to_public_key_der().unwrap();
        assert_eq!(
            key_details(der.as_bytes()).unwrap(),
            "PKIX_ECDSA_P256_SHA_256"
        );
    }

    #[test]
    fn a_pem_chain_is_every_certificate_in_order() {
        let pem = |der: &[u8]| {
            pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der).unwrap()
        };
        let text = format!("{}{}", pem(&[1, 2]), pem(&[3]));
        assert_eq!(pem_chain(&text).unwrap(), vec![vec![1, 2], vec![3]]);
        assert!(pem_chain("").is_err());
        assert!(pem_chain("-----BEGIN CERTIFICATE-----\nAQ==\n").is_err());
    }
}
