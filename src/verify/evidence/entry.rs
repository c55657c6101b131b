//! Transparency log entries stored beside a signature: cosign's Rekor bundle annotation and a
//! Sigstore bundle's `tlogEntries`. Each is checked against the trusted root's log key (signed
//! entry timestamp, inclusion proof and checkpoint, whichever are there) and must be an entry
//! for this very signature: its body names the same signature, the same key or certificate and
//! the same signed content.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::SignedBytes;
use crate::pki::Hash;
use crate::registry::hex;
use crate::transparency::bundle::hex_decode;
use crate::transparency::proof::{self, LogKey};
use crate::transparency::trust::{TrustedLog, TrustedRoot};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Who signed, as the entry must name it.
pub(super) struct Signer<'a> {
    /// The verifying key's DER SubjectPublicKeyInfo.
    pub spki: &'a [u8],
    /// The signing certificate's DER, when the signature was checked with it.
    pub cert: Option<&'a [u8]>,
}

/// What one entry vouches for.
#[derive(Debug)]
pub(super) struct Verified {
    pub log_index: u64,
    /// The integrated time, when a signed entry timestamp vouches for it.
    pub trusted_time: Option<i64>,
    /// The integrated time as the entry states it (0 and absent: `None`).
    pub integrated_time: Option<i64>,
}

/// cosign's `dev.sigstore.cosign/bundle` annotation, parsed (nothing checked yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignBundle {
    /// The signed entry timestamp (decoded).
    pub set: Vec<u8>,
    /// `Payload.body` exactly as stored: what the SET signs.
    pub body_b64: String,
    /// The decoded body (the entry's canonical JSON).
    pub body: Vec<u8>,
    pub integrated_time: i64,
    pub log_index: u64,
    /// `Payload.logID`, hex, as stored.
    pub log_id: String,
}

#[derive(Deserialize)]
struct RawCosignBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    set: String,
    #[serde(rename = "Payload")]
    payload: RawCosignPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCosignPayload {
    body: String,
    integrated_time: i64,
    log_index: u64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// Parses the value of cosign's `dev.sigstore.cosign/bundle` annotation. Any input: an error,
/// never a panic.
pub fn cosign_bundle(bytes: &[u8]) -> Result<CosignBundle, String> {
    let raw: RawCosignBundle = serde_json::from_slice(bytes)
        .map_err(|e| format!("the cosign bundle annotation is not a Rekor bundle: {e}"))?;
    let set = B64
        .decode(raw.set.trim())
        .map_err(|_| "the cosign bundle's SignedEntryTimestamp is not base64")?;
    let body = B64
        .decode(&raw.payload.body)
        .map_err(|_| "the cosign bundle's Payload.body is not base64")?;
    Ok(CosignBundle {
        set,
        body_b64: raw.payload.body,
        body,
        integrated_time: raw.payload.integrated_time,
        log_index: raw.payload.log_index,
        log_id: raw.payload.log_id,
    })
}

/// The log's key must have been the log's (`publicKey.validFor`) when it integrated the entry.
fn key_valid_at(log: &TrustedLog, integrated: i64, root: &TrustedRoot) -> Result<(), String> {
    if log.valid.covers(super::epoch(integrated)) {
        Ok(())
    } else {
        Err(format!(
            "the log's key in {} is not valid at the entry's integrated time {}",
            root.file,
            super::when(integrated)
        ))
    }
}

/// The trusted root's log with this log id (its `logId.keyId`, or SHA-256 of its key).
fn find_log<'r>(root: &'r TrustedRoot, id: &[u8]) -> Option<(&'r TrustedLog, LogKey)> {
    root.logs.iter().find_map(|l| {
        let key = LogKey::from_der(&l.public_key).ok()?;
        let known = (!l.log_id.is_empty() && l.log_id == id)
            || key.log_id()[..] == *id
            || Sha256::digest(&l.public_key)[..] == *id;
        known.then_some((l, key))
    })
}

/// Checks cosign's annotation. `Ok(None)`: its log is not in the trusted root.
pub(super) fn verify_cosign(
    bytes: &[u8],
    signature: &[u8],
    signer: &Signer<'_>,
    signed: &SignedBytes,
    root: &TrustedRoot,
) -> Result<Option<Verified>, String> {
    let b = cosign_bundle(bytes)?;
    let id = hex_decode(&b.log_id.to_ascii_lowercase())
        .ok_or_else(|| format!("logID {:?} is not hex", b.log_id))?;
    let Some((log, key)) = find_log(root, &id) else {
        return Ok(None);
    };
    key_valid_at(log, b.integrated_time, root)?;
    proof::verify_set(
        &b.set,
        &b.body_b64,
        b.integrated_time,
        &b.log_id,
        b.log_index,
        &key,
    )
    .map_err(|e| format!("logIndex {}: {e}", b.log_index))?;
    let body: Value = serde_json::from_slice(&b.body)
        .map_err(|_| format!("logIndex {}: the entry's body is not JSON", b.log_index))?;
    match_body(&body, signature, signer, signed)
        .map_err(|e| format!("logIndex {}: {e}", b.log_index))?;
    let time = (b.integrated_time != 0).then_some(b.integrated_time);
    Ok(Some(Verified {
        log_index: b.log_index,
        trusted_time: time,
        integrated_time: time,
    }))
}

/// An int64/uint64 in protobuf JSON: a string or a number.
type Int = crate::transparency::pbjson::Int<i64>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    #[serde(default)]
    log_index: Int,
    log_id: Option<RawKeyId>,
    kind_version: Option<RawKindVersion>,
    #[serde(default)]
    integrated_time: Int,
    inclusion_promise: Option<RawPromise>,
    inclusion_proof: Option<crate::transparency::pbjson::InclusionProofJson>,
    canonicalized_body: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKeyId {
    #[serde(default)]
    key_id: String,
}

#[derive(Deserialize)]
struct RawKindVersion {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPromise {
    #[serde(default)]
    signed_entry_timestamp: String,
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, String> {
    B64.decode(s.trim())
        .map_err(|_| format!("{what} is not base64"))
}

fn unsigned(n: Int, what: &str) -> Result<u64, String> {
    u64::try_from(n.0).map_err(|_| format!("{what} {} is negative", n.0))
}

/// A Rekor v1 checkpoint's origin: `<host> - <tree id>`.
fn is_v1_origin(checkpoint: &str) -> bool {
    let first = checkpoint.split('\n').next().unwrap_or_default();
    first.rsplit_once(" - ").is_some_and(|(host, tree)| {
        !host.is_empty() && !tree.is_empty() && tree.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Checks one Sigstore bundle `tlogEntries` element. `Ok(None)`: its log is not in the
/// trusted root.
pub(super) fn verify_bundle_entry(
    value: &Value,
    signature: &[u8],
    signer: &Signer<'_>,
    signed: &SignedBytes,
    root: &TrustedRoot,
) -> Result<Option<Verified>, String> {
    let raw: RawEntry = serde_json::from_value(value.clone())
        .map_err(|e| format!("not a transparency log entry: {e}"))?;
    let log_index = unsigned(raw.log_index, "logIndex")?;
    let at = |m: String| format!("logIndex {log_index}: {m}");
    let id = b64(
        &raw.log_id.ok_or_else(|| at("no logId".into()))?.key_id,
        "logId.keyId",
    )
    .map_err(at)?;
    let kv = raw
        .kind_version
        .ok_or_else(|| at("no kindVersion".into()))?;
    let body_b64 = raw
        .canonicalized_body
        .ok_or_else(|| at("no canonicalizedBody".into()))?;
    let body = b64(&body_b64, "canonicalizedBody").map_err(at)?;
    let Some((log, key)) = find_log(root, &id) else {
        return Ok(None);
    };
    let json: Value =
        serde_json::from_slice(&body).map_err(|_| at("canonicalizedBody is not JSON".into()))?;
    let kind = json.get("kind").and_then(Value::as_str).unwrap_or_default();
    let version = json
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind != kv.kind || version != kv.version {
        return Err(at(format!(
            "kindVersion says {} {}, the body is {kind:?} {version:?}",
            kv.kind, kv.version
        )));
    }
    let spec = json.get("spec");
    let v2 =
        spec.is_some_and(|s| s.get("hashedRekordV002").is_some() || s.get("dsseV002").is_some());
    let integrated = raw.integrated_time.0;
    if integrated != 0 {
        key_valid_at(log, integrated, root).map_err(at)?;
    }
    if raw.inclusion_promise.is_none() && raw.inclusion_proof.is_none() {
        return Err(at(
            "it has neither an inclusion promise (signed entry timestamp) nor an inclusion proof"
                .into(),
        ));
    }
    if v2 && raw.inclusion_proof.is_none() {
        return Err(at("a Rekor v2 entry needs an inclusion proof".into()));
    }
    let mut trusted_time = None;
    if let Some(p) = &raw.inclusion_promise {
        if v2 {
            return Err(at("a Rekor v2 entry has no signed entry timestamp".into()));
        }
        let set = b64(&p.signed_entry_timestamp, "signedEntryTimestamp").map_err(at)?;
        // The SET signs the body as Rekor returned it: the standard base64 of its bytes.
        proof::verify_set(
            &set,
            &B64.encode(&body),
            integrated,
            &hex(&id),
            log_index,
            &key,
        )
        .map_err(|e| at(e.to_string()))?;
        trusted_time = (integrated != 0).then_some(integrated);
    }
    if let Some(p) = &raw.inclusion_proof {
        let (index, size) = (p.log_index.0, p.tree_size.0);
        if v2 && index != log_index {
            return Err(at(format!(
                "the inclusion proof is for index {index}, the entry is at {log_index}"
            )));
        }
        let root_hash = b64(&p.root_hash, "inclusionProof.rootHash").map_err(at)?;
        let hashes = p
            .hashes
            .iter()
            .map(|h| b64(h, "an inclusion proof hash"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(at)?;
        proof::verify_inclusion(&proof::leaf_hash(&body), index, size, &hashes, &root_hash)
            .map_err(|e| at(e.to_string()))?;
        let text = p
            .checkpoint
            .as_ref()
            .map(|c| c.envelope.as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| at("the inclusion proof has no checkpoint".into()))?;
        // A Rekor v1 checkpoint names the log `<host> - <tree id>`; a v2 log's origin is the
        // host of its URL (sigstore-go: the trusted root's baseUrl).
        let origin = if is_v1_origin(text) {
            None
        } else {
            let o = crate::transparency::rekor_v2::origin_of(&log.base_url).ok_or_else(|| {
                at(format!(
                    "the trusted root gives no URL for log {}, so its checkpoint origin is unknown",
                    hex(&id)
                ))
            })?;
            Some(o)
        };
        let cp = proof::verify_checkpoint(text, origin.as_deref(), &key)
            .map_err(|e| at(e.to_string()))?;
        if cp.size != size || cp.root_hash[..] != root_hash[..] {
            return Err(at(format!(
                "the checkpoint signs a tree of size {} with another root than the proof's (size {size})",
                cp.size
            )));
        }
    }
    match_body(&json, signature, signer, signed).map_err(at)?;
    Ok(Some(Verified {
        log_index,
        trusted_time,
        integrated_time: (integrated != 0).then_some(integrated),
    }))
}

/// A DSSE PAE taken apart: `DSSEv1 <len> <type> <len> <payload>`, lengths exact.
pub(super) fn parse_pae(m: &[u8]) -> Option<(&str, &[u8])> {
    let rest = m.strip_prefix(b"DSSEv1 ")?;
    let (type_len, rest) = decimal(rest)?;
    let rest = rest.strip_prefix(b" ")?;
    if rest.len() < type_len {
        return None;
    }
    let (payload_type, rest) = rest.split_at(type_len);
    let rest = rest.strip_prefix(b" ")?;
    let (len, rest) = decimal(rest)?;
    let payload = rest.strip_prefix(b" ")?;
    (payload.len() == len).then_some((std::str::from_utf8(payload_type).ok()?, payload))
}

fn decimal(s: &[u8]) -> Option<(usize, &[u8])> {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 || n > 19 || (n > 1 && s[0] == b'0') {
        return None;
    }
    let v = std::str::from_utf8(&s[..n]).ok()?.parse().ok()?;
    Some((v, &s[n..]))
}

fn hash_named(name: &str) -> Option<Hash> {
    match name {
        "sha256" | "SHA2_256" => Some(Hash::Sha256),
        "sha384" | "SHA2_384" => Some(Hash::Sha384),
        "sha512" | "SHA2_512" => Some(Hash::Sha512),
        _ => None,
    }
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// The digest of what was signed, with `hash`: of the message, or the stored digest (which
/// must be of that hash).
fn signed_digest(signed: &SignedBytes, hash: Hash) -> Option<Vec<u8>> {
    match signed {
        SignedBytes::Message(m) => Some(hash.digest(m)),
        SignedBytes::Digest(h, d) => (*h == hash).then(|| d.clone()),
    }
}

/// The DER in a PEM block (`PUBLIC KEY` or `CERTIFICATE`), as Go's `pem.Decode` reads it.
pub(super) fn pem_der(pem: &[u8]) -> Option<(String, Vec<u8>)> {
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find("-----BEGIN ")?;
    let label_end = start + 11 + text[start + 11..].find("-----")?;
    let label = &text[start + 11..label_end];
    let end_marker = format!("-----END {label}-----");
    // The end marker is looked for after the BEGIN line, which may not share its dashes.
    let body_start = label_end + 5;
    let body_end = body_start + text.get(body_start..)?.find(&end_marker)?;
    let b64: String = text[body_start..body_end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    Some((label.to_owned(), B64.decode(b64).ok()?))
}

/// Whether a key or certificate the entry names (DER, `label` `PUBLIC KEY` or `CERTIFICATE`)
/// is the signer's.
fn same_signer(label: &str, der: &[u8], signer: &Signer<'_>) -> bool {
    match label {
        "CERTIFICATE" => {
            // The certificate checked, or (a signature checked with a key) one for that key.
            signer.cert == Some(der)
                || (signer.cert.is_none()
                    && super::cert::Leaf::parse(der).is_ok_and(|l| l.spki == signer.spki))
        }
        "PUBLIC KEY" => der == signer.spki,
        _ => false,
    }
}

fn pem_b64_is_signer(b64_pem: Option<&str>, signer: &Signer<'_>) -> bool {
    b64_pem
        .and_then(|s| B64.decode(s.trim()).ok())
        .and_then(|pem| pem_der(&pem))
        .is_some_and(|(label, der)| same_signer(&label, &der, signer))
}

/// A Rekor v2 `verifier`: `publicKey.rawBytes` or `x509Certificate.rawBytes`.
fn v2_verifier_is_signer(v: Option<&Value>, signer: &Signer<'_>) -> bool {
    let Some(v) = v else { return false };
    if let Some(der) = str_at(v, &["publicKey", "rawBytes"]).and_then(|s| B64.decode(s).ok()) {
        return same_signer("PUBLIC KEY", &der, signer);
    }
    if let Some(der) = str_at(v, &["x509Certificate", "rawBytes"]).and_then(|s| B64.decode(s).ok())
    {
        return same_signer("CERTIFICATE", &der, signer);
    }
    false
}

/// The payload of a DSSE signature, from its PAE.
fn dsse_payload(signed: &SignedBytes) -> Result<&[u8], String> {
    match signed {
        SignedBytes::Message(m) => parse_pae(m).map(|(_, p)| p).ok_or_else(|| {
            "the entry is for a DSSE envelope, the signature is not over one".into()
        }),
        SignedBytes::Digest(..) => {
            Err("the entry is for a DSSE envelope, the signature is over a digest".into())
        }
    }
}

/// A `{algorithm, value}` (hex, v1) or `{algorithm, digest}` (base64, v2) hash is `want`'s.
fn hash_is(h: Option<&Value>, signed_payload: &[u8], what: &str) -> Result<(), String> {
    let h = h.ok_or_else(|| format!("the entry has no {what}"))?;
    let alg = str_at(h, &["algorithm"])
        .and_then(hash_named)
        .ok_or_else(|| format!("the entry's {what} has an unknown algorithm"))?;
    let got = match (str_at(h, &["value"]), str_at(h, &["digest"])) {
        (Some(v), _) => hex_decode(&v.to_ascii_lowercase()),
        (None, Some(d)) => B64.decode(d).ok(),
        _ => None,
    }
    .ok_or_else(|| format!("the entry's {what} is not a digest"))?;
    if got != alg.digest(signed_payload) {
        return Err(format!("the entry's {what} is not the signed payload's"));
    }
    Ok(())
}

/// Checks that an entry body (Rekor v1 `hashedrekord`/`rekord` 0.0.1, `dsse` 0.0.1, `intoto`
/// 0.0.2; Rekor v2 `hashedrekord`/`dsse` 0.0.2) is for this signature, key and content.
pub(super) fn match_body(
    body: &Value,
    signature: &[u8],
    signer: &Signer<'_>,
    signed: &SignedBytes,
) -> Result<(), String> {
    let kind = str_at(body, &["kind"]).unwrap_or_default();
    let version = str_at(body, &["apiVersion"]).unwrap_or_default();
    let spec = body.get("spec").ok_or("the entry's body has no spec")?;
    let same_sig = |b64_sig: Option<&str>| {
        b64_sig
            .and_then(|s| B64.decode(s.trim()).ok())
            .is_some_and(|s| s == signature)
    };
    match (kind, version) {
        ("hashedrekord" | "rekord", "0.0.1") => {
            if !same_sig(str_at(spec, &["signature", "content"])) {
                return Err("the entry holds another signature".into());
            }
            if !pem_b64_is_signer(str_at(spec, &["signature", "publicKey", "content"]), signer) {
                return Err("the entry names another key or certificate".into());
            }
            let alg = str_at(spec, &["data", "hash", "algorithm"])
                .and_then(hash_named)
                .ok_or("the entry's data hash has an unknown algorithm")?;
            let value = str_at(spec, &["data", "hash", "value"])
                .and_then(|v| hex_decode(&v.to_ascii_lowercase()))
                .ok_or("the entry's data hash is not hex")?;
            if signed_digest(signed, alg) != Some(value) {
                return Err("the entry's data hash is not the signed content's".into());
            }
        }
        ("hashedrekord", "0.0.2") => {
            let hr = spec
                .get("hashedRekordV002")
                .ok_or("the entry has no hashedRekordV002")?;
            if !same_sig(str_at(hr, &["signature", "content"])) {
                return Err("the entry holds another signature".into());
            }
            if !v2_verifier_is_signer(hr.pointer("/signature/verifier"), signer) {
                return Err("the entry names another key or certificate".into());
            }
            let alg = str_at(hr, &["data", "algorithm"])
                .and_then(hash_named)
                .ok_or("the entry's data digest has an unknown algorithm")?;
            let digest = str_at(hr, &["data", "digest"])
                .and_then(|d| B64.decode(d).ok())
                .ok_or("the entry's data digest is not base64")?;
            if signed_digest(signed, alg) != Some(digest) {
                return Err("the entry's data digest is not the signed content's".into());
            }
        }
        ("dsse", "0.0.1") => {
            let payload = dsse_payload(signed)?;
            if let Some(proposed) = spec.get("proposedContent") {
                // A log that keeps the proposed envelope: it must be this one.
                let env: Value = str_at(proposed, &["envelope"])
                    .and_then(|e| serde_json::from_str(e).ok())
                    .ok_or("the entry's proposed envelope is not JSON")?;
                let SignedBytes::Message(pae) = signed else {
                    return Err(
                        "the entry is for a DSSE envelope, the signature is over a digest".into(),
                    );
                };
                let env_pae = str_at(&env, &["payloadType"])
                    .zip(str_at(&env, &["payload"]).and_then(|p| B64.decode(p).ok()))
                    .map(|(t, p)| crate::signing::dsse::pae(t, &p));
                if env_pae.as_deref() != Some(&pae[..]) {
                    return Err("the entry's envelope is another payload".into());
                }
                let sigs = env.get("signatures").and_then(Value::as_array);
                if !sigs.is_some_and(|s| s.iter().any(|s| same_sig(str_at(s, &["sig"])))) {
                    return Err("the entry's envelope holds another signature".into());
                }
                let verifiers = proposed.get("verifiers").and_then(Value::as_array);
                if !verifiers
                    .is_some_and(|v| v.iter().any(|v| pem_b64_is_signer(v.as_str(), signer)))
                {
                    return Err("the entry names another key or certificate".into());
                }
                return Ok(());
            }
            hash_is(spec.get("payloadHash"), payload, "payloadHash")?;
            let sigs = spec.get("signatures").and_then(Value::as_array);
            let ours = sigs.is_some_and(|s| {
                s.iter().any(|s| {
                    same_sig(str_at(s, &["signature"]))
                        && pem_b64_is_signer(str_at(s, &["verifier"]), signer)
                })
            });
            if !ours {
                return Err("the entry holds another signature or key".into());
            }
        }
        ("dsse", "0.0.2") => {
            let payload = dsse_payload(signed)?;
            let d = spec.get("dsseV002").ok_or("the entry has no dsseV002")?;
            hash_is(d.get("payloadHash"), payload, "payloadHash")?;
            let sigs = d.get("signatures").and_then(Value::as_array);
            let ours = sigs.is_some_and(|s| {
                s.iter().any(|s| {
                    same_sig(str_at(s, &["content"]))
                        && v2_verifier_is_signer(s.get("verifier"), signer)
                })
            });
            if !ours {
                return Err("the entry holds another signature or key".into());
            }
        }
        ("intoto", "0.0.2") => {
            let payload = dsse_payload(signed)?;
            let content = spec.get("content").ok_or("the entry has no content")?;
            hash_is(content.get("payloadHash"), payload, "payloadHash")?;
            let sigs = content
                .pointer("/envelope/signatures")
                .and_then(Value::as_array);
            // intoto v0.0.2 stores each signature base64-encoded twice.
            let ours = sigs.is_some_and(|s| {
                s.iter().any(|s| {
                    let sig = str_at(s, &["sig"])
                        .and_then(|v| B64.decode(v.trim()).ok())
                        .and_then(|v| String::from_utf8(v).ok());
                    same_sig(sig.as_deref()) && pem_b64_is_signer(str_at(s, &["publicKey"]), signer)
                })
            });
            if !ours {
                return Err("the entry holds another signature or key".into());
            }
        }
        (kind, version) => {
            return Err(format!(
                "a {kind:?} {version:?} entry is not supported (hashedrekord, dsse, intoto 0.0.2)"
            ));
        }
    }
    Ok(())
}
