//! Checking a transparency log's answer: RFC 6962 / RFC 9162 inclusion proofs, signed-note
//! checkpoints (c2sp.org/signed-note, c2sp.org/tlog-checkpoint) and Rekor v1's signed entry
//! timestamp. Pure functions: the caller brings the bytes and the log's key.
//!
//! # Checkpoint signatures, as the logs write them
//!
//! A checkpoint is a note: `origin\nsize\nbase64(root)\n[extension lines\n]`, a blank line,
//! then lines `— name base64(key hash ‖ signature)`. The key hash is 4 bytes, big-endian.
//!
//! - **Rekor v1** (`sigstore/rekor` `pkg/util/signed_note.go`): the origin is
//!   `<hostname> - <tree id>` and the signature line's name is the hostname alone. The key hash
//!   is the first 4 bytes of SHA-256 of the PKIX (SubjectPublicKeyInfo) DER of the key, for
//!   every key type. ECDSA signs the SHA-256 of the note text (ASN.1 DER signature); Ed25519
//!   signs the note text.
//! - **Rekor v2 / rekor-tiles** (`sigstore/rekor-tiles` `pkg/note/note.go`, used by its
//!   Tessera signer and by sigstore-go `pkg/tlog/entry.go` through `NewNoteVerifier`): the
//!   signature line's name is the origin. For ECDSA the key hash is, as in v1, the first 4 bytes
//!   of SHA-256 of the PKIX DER (not the signed-note spec's form); the signature is sigstore's
//!   `SignMessage` with the key's default hash (`LoadDefaultSignerVerifier`: SHA-256 for P-256,
//!   SHA-384 for P-384), ASN.1 DER. For Ed25519 the key hash follows the signed-note spec:
//!   the first 4 bytes of SHA-256(name ‖ `\n` ‖ 0x01 ‖ 32-byte key), and the signature is plain
//!   Ed25519 over the note text. The full 32-byte hash is that log's id
//!   ([`LogKey::note_key_id`]), where a v1 log's id is SHA-256 of the DER ([`LogKey::log_id`]).

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A checkpoint or signed note larger than this is refused before it is parsed.
const MAX_CHECKPOINT: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("inclusion proof: index {index} is not inside a tree of size {tree_size}")]
    IndexOutsideTree { index: u64, tree_size: u64 },
    #[error(
        "inclusion proof: {got} hashes, but index {index} in a tree of size {tree_size} needs {want}"
    )]
    ProofLength {
        index: u64,
        tree_size: u64,
        got: usize,
        want: usize,
    },
    #[error("inclusion proof: hash {position} is {len} bytes, not 32")]
    HashLength { position: usize, len: usize },
    #[error("inclusion proof: the root hash is {len} bytes, not 32")]
    RootLength { len: usize },
    #[error("inclusion proof: the proof leads to root {computed}, not to {expected}")]
    RootMismatch { computed: String, expected: String },
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("checkpoint: origin {got:?}, expected {want:?}")]
    Origin { got: String, want: String },
    #[error("checkpoint {origin:?}: no signature line by this log's key (key hash {key_hash})")]
    NoSignatureByKey { origin: String, key_hash: String },
    #[error("log public key: {0}")]
    Key(String),
    #[error("{what}: the signature does not verify with the log's key")]
    BadSignature { what: &'static str },
}

use crate::registry::hex;

/// The RFC 6962 leaf hash of a log entry: SHA-256(0x00 ‖ entry).
pub fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// An RFC 6962 interior node: SHA-256(0x01 ‖ left ‖ right).
fn node_hash(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2): that the leaf with hash `leaf_hash` at
/// `index` is in the tree of `tree_size` leaves whose root is `root`. `proof` holds the
/// sibling hashes from the leaf up, as Rekor returns them.
pub fn verify_inclusion<H: AsRef<[u8]>>(
    leaf_hash: &[u8; 32],
    index: u64,
    tree_size: u64,
    proof: &[H],
    root: &[u8],
) -> Result<(), ProofError> {
    if index >= tree_size {
        return Err(ProofError::IndexOutsideTree { index, tree_size });
    }
    if root.len() != 32 {
        return Err(ProofError::RootLength { len: root.len() });
    }
    // The proof's length is fixed by the index and size: the levels below the point where the
    // leaf's path leaves the right border of the tree, plus the border nodes above it.
    let last = tree_size - 1;
    let inner = (64 - (index ^ last).leading_zeros()) as usize;
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    let want = inner + border;
    if proof.len() != want {
        return Err(ProofError::ProofLength {
            index,
            tree_size,
            got: proof.len(),
            want,
        });
    }
    let mut f_n = index;
    let mut s_n = last;
    let mut r = *leaf_hash;
    for (position, p) in proof.iter().enumerate() {
        let p = p.as_ref();
        if p.len() != 32 {
            return Err(ProofError::HashLength {
                position,
                len: p.len(),
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 || r.as_slice() != root {
        return Err(ProofError::RootMismatch {
            computed: hex(&r),
            expected: hex(root),
        });
    }
    Ok(())
}

/// One signature line of a signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name on the line.
    pub name: String,
    /// The first 4 bytes of the decoded signature: which key signed.
    pub key_hash: [u8; 4],
    /// The signature itself, after the key hash.
    pub signature: Vec<u8>,
}

/// A checkpoint (c2sp.org/tlog-checkpoint) and its signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (Rekor v1: `rekor.sigstore.dev - 1193050959916656506`).
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The tree's root hash.
    pub root_hash: [u8; 32],
    /// The lines after the root hash (extensions), without their newlines.
    pub other_lines: Vec<String>,
    /// The signed text: every note line with its newline, up to the blank line.
    pub body: String,
    /// The signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

fn bad(what: impl Into<String>) -> ProofError {
    ProofError::Checkpoint(what.into())
}

/// A key name as signed-note allows it: not empty, no spaces and no `+`.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(char::is_whitespace) && !name.contains('+')
}

/// Parses a checkpoint: the note text (origin, size, root hash, any further lines), a blank
/// line, and at least one signature line. Signatures are not checked here.
pub fn parse_checkpoint(text: &str) -> Result<Checkpoint, ProofError> {
    if text.len() > MAX_CHECKPOINT {
        return Err(bad(format!(
            "{} bytes, more than the {MAX_CHECKPOINT} allowed",
            text.len()
        )));
    }
    let split = text
        .rfind("\n\n")
        .ok_or_else(|| bad("no blank line between the note text and its signatures"))?;
    let (body, sigs) = (&text[..split + 1], &text[split + 2..]);
    if !sigs.ends_with('\n') {
        return Err(bad("the last signature line does not end in a newline"));
    }
    let mut lines = body.split_terminator('\n');
    let origin = lines.next().unwrap_or_default();
    if origin.is_empty() {
        return Err(bad("the origin line is empty"));
    }
    let size_line = lines.next().ok_or_else(|| bad("no tree size line"))?;
    if size_line.is_empty()
        || !size_line.bytes().all(|b| b.is_ascii_digit())
        || (size_line.len() > 1 && size_line.starts_with('0'))
    {
        return Err(bad(format!(
            "tree size {size_line:?} is not a decimal number"
        )));
    }
    let size: u64 = size_line
        .parse()
        .map_err(|_| bad(format!("tree size {size_line:?} is out of range")))?;
    let root_line = lines.next().ok_or_else(|| bad("no root hash line"))?;
    let root_hash: [u8; 32] = B64
        .decode(root_line)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| bad(format!("root hash {root_line:?} is not base64 of 32 bytes")))?;
    let mut other_lines = Vec::new();
    for line in lines {
        if line.is_empty() {
            return Err(bad("the note text has an empty line"));
        }
        other_lines.push(line.to_owned());
    }
    let mut signatures = Vec::new();
    for line in sigs.split_terminator('\n') {
        let rest = line.strip_prefix("\u{2014} ").ok_or_else(|| {
            bad(format!(
                "signature line {line:?} does not start with \"— \""
            ))
        })?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| bad(format!("signature line {line:?} has no signature")))?;
        if !valid_name(name) {
            return Err(bad(format!(
                "signature key name {name:?} is not a valid name"
            )));
        }
        let raw = B64
            .decode(b64)
            .map_err(|_| bad(format!("signature by {name:?} is not base64")))?;
        let (hash, sig) = raw
            .split_first_chunk::<4>()
            .filter(|(_, sig)| !sig.is_empty())
            .ok_or_else(|| bad(format!("signature by {name:?} is too short")))?;
        signatures.push(NoteSignature {
            name: name.to_owned(),
            key_hash: *hash,
            signature: sig.to_vec(),
        });
    }
    if signatures.is_empty() {
        return Err(bad("no signature lines"));
    }
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size,
        root_hash,
        other_lines,
        body: body.to_owned(),
        signatures,
    })
}

/// The names a log signs its checkpoint under: the origin (Rekor v2, the signed-note spec) and,
/// for a Rekor v1 origin `<host> - <tree id>`, the host.
fn signer_names(origin: &str) -> Vec<&str> {
    let mut names = vec![origin];
    if let Some((host, tree)) = origin.rsplit_once(" - ")
        && !tree.is_empty()
        && tree.bytes().all(|b| b.is_ascii_digit())
    {
        names.push(host);
    }
    names
}

/// Parses a checkpoint and checks it: its origin is `origin_expected` when that is given, and
/// a signature line under the log's name with `key`'s key hash verifies over the note text.
pub fn verify_checkpoint(
    text: &str,
    origin_expected: Option<&str>,
    key: &LogKey,
) -> Result<Checkpoint, ProofError> {
    let checkpoint = parse_checkpoint(text)?;
    if let Some(want) = origin_expected
        && checkpoint.origin != want
    {
        return Err(ProofError::Origin {
            got: checkpoint.origin,
            want: want.to_owned(),
        });
    }
    let names = signer_names(&checkpoint.origin);
    let mut candidates = checkpoint.signatures.iter().filter(|s| {
        names.contains(&s.name.as_str()) && key.note_key_hashes(&s.name).contains(&s.key_hash)
    });
    let Some(first) = candidates.next() else {
        return Err(ProofError::NoSignatureByKey {
            origin: checkpoint.origin.clone(),
            key_hash: key
                .note_key_hashes(&checkpoint.origin)
                .first()
                .map(|h| hex(h))
                .unwrap_or_default(),
        });
    };
    let body = checkpoint.body.as_bytes();
    if std::iter::once(first)
        .chain(candidates)
        .any(|s| key.verify(body, &s.signature).is_ok())
    {
        Ok(checkpoint)
    } else {
        Err(ProofError::BadSignature { what: "checkpoint" })
    }
}

#[derive(Clone)]
enum Verifier {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A transparency log's public key: ECDSA P-256, ECDSA P-384 or Ed25519.
#[derive(Clone)]
pub struct LogKey {
    /// The key's SubjectPublicKeyInfo DER, encoded again as Go's `x509.MarshalPKIXPublicKey`
    /// writes it (uncompressed points), so that hashes of it match the log's.
    der: Vec<u8>,
    verifier: Verifier,
}

impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.verifier {
            Verifier::P256(_) => "ECDSA P-256",
            Verifier::P384(_) => "ECDSA P-384",
            Verifier::Ed25519(_) => "Ed25519",
        };
        write!(f, "LogKey({kind}, log id {})", hex(&self.log_id()))
    }
}

impl LogKey {
    /// A key from its DER SubjectPublicKeyInfo.
    pub fn from_der(der: &[u8]) -> Result<Self, ProofError> {
        use ed25519_dalek::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
        let encoded = |r: Result<p256::pkcs8::Document, _>| {
            r.map(|d: p256::pkcs8::Document| d.as_bytes().to_vec())
                .map_err(|e: p256::pkcs8::spki::Error| ProofError::Key(e.to_string()))
        };
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(Self {
                der: encoded(k.to_public_key_der())?,
                verifier: Verifier::P256(k),
            });
        }
        if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(Self {
                der: encoded(k.to_public_key_der())?,
                verifier: Verifier::P384(k),
            });
        }
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            let d = k
                .to_public_key_der()
                .map_err(|e| ProofError::Key(e.to_string()))?;
            return Ok(Self {
                der: d.as_bytes().to_vec(),
                verifier: Verifier::Ed25519(k),
            });
        }
        Err(ProofError::Key(format!(
            "{} bytes of DER are not an ECDSA P-256, ECDSA P-384 or Ed25519 SubjectPublicKeyInfo",
            der.len()
        )))
    }

    /// A key from a PEM `PUBLIC KEY` block (the form of Rekor's `/api/v1/log/publicKey`).
    pub fn from_pem(pem: &str) -> Result<Self, ProofError> {
        let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes())
            .map_err(|e| ProofError::Key(format!("not PEM: {e}")))?;
        if label != "PUBLIC KEY" {
            return Err(ProofError::Key(format!(
                "PEM block {label:?} is not a PUBLIC KEY"
            )));
        }
        Self::from_der(&der)
    }

    /// The key's SubjectPublicKeyInfo DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The log id of a Rekor v1 log (and of an ECDSA Rekor v2 log): SHA-256 of the DER.
    pub fn log_id(&self) -> [u8; 32] {
        Sha256::digest(&self.der).into()
    }

    /// The full hash a Rekor v2 log (rekor-tiles) names its key by, whose first 4 bytes are the
    /// checkpoint key hash: for ECDSA the [`log_id`](Self::log_id); for Ed25519
    /// SHA-256(name ‖ `\n` ‖ 0x01 ‖ key), the signed-note spec's form.
    pub fn note_key_id(&self, name: &str) -> [u8; 32] {
        match &self.verifier {
            Verifier::Ed25519(k) => {
                let mut h = Sha256::new();
                h.update(name.as_bytes());
                h.update(b"\n");
                h.update([1u8]);
                h.update(k.as_bytes());
                h.finalize().into()
            }
            _ => self.log_id(),
        }
    }

    /// The checkpoint key hashes this key may sign under with key name `name`: the v2 form
    /// first, then (for Ed25519, where they differ) Rekor v1's.
    fn note_key_hashes(&self, name: &str) -> Vec<[u8; 4]> {
        let first4 = |h: [u8; 32]| [h[0], h[1], h[2], h[3]];
        let v2 = first4(self.note_key_id(name));
        let v1 = first4(self.log_id());
        if v1 == v2 { vec![v2] } else { vec![v2, v1] }
    }

    /// Verifies `sig` over `message`: ECDSA (ASN.1 DER signature) over SHA-256 of the message
    /// for P-256 and SHA-384 for P-384; Ed25519 over the message.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), ProofError> {
        use p256::ecdsa::signature::Verifier as _;
        let ok =
            match &self.verifier {
                Verifier::P256(k) => p256::ecdsa::Signature::from_der(sig)
                    .is_ok_and(|s| k.verify(message, &s).is_ok()),
                Verifier::P384(k) => p384::ecdsa::Signature::from_der(sig)
                    .is_ok_and(|s| k.verify(message, &s).is_ok()),
                Verifier::Ed25519(k) => ed25519_dalek::Signature::from_slice(sig)
                    .is_ok_and(|s| k.verify(message, &s).is_ok()),
            };
        if ok {
            Ok(())
        } else {
            Err(ProofError::BadSignature { what: "signature" })
        }
    }
}

/// Appends `s` as a JSON string as RFC 8785 writes it: `"` and `\` escaped, control characters
/// as `\b \t \n \f \r` or `\u00xx`, everything else as itself.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The bytes a Rekor v1 signed entry timestamp signs: the RFC 8785 canonical JSON of
/// `{"body","integratedTime","logID","logIndex"}` (keys sorted, no spaces).
pub fn set_payload(
    body_b64: &str,
    integrated_time: i64,
    log_id_hex: &str,
    log_index: u64,
) -> String {
    let mut out = String::with_capacity(body_b64.len() + log_id_hex.len() + 80);
    out.push_str("{\"body\":");
    json_string(&mut out, body_b64);
    out.push_str(&format!(",\"integratedTime\":{integrated_time},\"logID\":"));
    json_string(&mut out, log_id_hex);
    out.push_str(&format!(",\"logIndex\":{log_index}}}"));
    out
}

/// Verifies a Rekor v1 signed entry timestamp: `set` (the decoded signature) over
/// [`set_payload`] of the entry as Rekor returned it (`body_b64` is the base64 body string,
/// `log_id_hex` the log id in hex, `log_index` the global index).
pub fn verify_set(
    set: &[u8],
    body_b64: &str,
    integrated_time: i64,
    log_id_hex: &str,
    log_index: u64,
    key: &LogKey,
) -> Result<(), ProofError> {
    let payload = set_payload(body_b64, integrated_time, log_id_hex, log_index);
    key.verify(payload.as_bytes(), set)
        .map_err(|_| ProofError::BadSignature {
            what: "signed entry timestamp",
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    use crate::test_support::fixtures;

    fn rekor_key(dir: &std::path::Path) -> LogKey {
        let pem = std::fs::read_to_string(dir.join("rekor/rekor-prod.pub")).unwrap();
        LogKey::from_pem(&pem).unwrap()
    }

    fn other_key() -> LogKey {
        let der = B64
            .decode("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEI3sxu+p/GFrJyfgmSWr4qMzwbnd/pRAShSG6tHcrlhBSoRCAiVYOoQR7514Uz6ft2tQlnoJLHmHcFqqy0/ERJA==")
            .unwrap();
        LogKey::from_der(&der).unwrap()
    }

    /// One tlog entry of a v0.3 bundle, as the verifier would take it apart.
    struct Entry {
        body_b64: String,
        log_index: u64,
        log_id_hex: String,
        integrated_time: i64,
        set: Vec<u8>,
        proof_index: u64,
        tree_size: u64,
        root: Vec<u8>,
        hashes: Vec<Vec<u8>>,
        checkpoint: String,
    }

    fn entry(path: &std::path::Path) -> Entry {
        let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let e = &v["verificationMaterial"]["tlogEntries"][0];
        let num = |v: &Value| v.as_str().unwrap().parse::<u64>().unwrap();
        let b64 = |v: &Value| B64.decode(v.as_str().unwrap()).unwrap();
        let p = &e["inclusionProof"];
        Entry {
            body_b64: e["canonicalizedBody"].as_str().unwrap().to_owned(),
            log_index: num(&e["logIndex"]),
            log_id_hex: hex(&b64(&e["logId"]["keyId"])),
            integrated_time: num(&e["integratedTime"]) as i64,
            set: b64(&e["inclusionPromise"]["signedEntryTimestamp"]),
            proof_index: num(&p["logIndex"]),
            tree_size: num(&p["treeSize"]),
            root: b64(&p["rootHash"]),
            hashes: p["hashes"].as_array().unwrap().iter().map(b64).collect(),
            checkpoint: p["checkpoint"]["envelope"].as_str().unwrap().to_owned(),
        }
    }

    /// Everything in one entry verifies, and each one-field change is refused.
    fn check_entry(dir: &std::path::Path, e: &Entry, proof_len: usize) {
        let key = rekor_key(dir);
        assert_eq!(hex(&key.log_id()), e.log_id_hex);
        let leaf = leaf_hash(&B64.decode(&e.body_b64).unwrap());
        assert_eq!(e.hashes.len(), proof_len);
        verify_inclusion(&leaf, e.proof_index, e.tree_size, &e.hashes, &e.root).unwrap();
        let cp = verify_checkpoint(&e.checkpoint, None, &key).unwrap();
        assert_eq!(cp.size, e.tree_size);
        assert_eq!(cp.root_hash.as_slice(), e.root.as_slice());
        assert!(cp.origin.starts_with("rekor.sigstore.dev - "));
        verify_checkpoint(&e.checkpoint, Some(&cp.origin), &key).unwrap();
        verify_set(
            &e.set,
            &e.body_b64,
            e.integrated_time,
            &e.log_id_hex,
            e.log_index,
            &key,
        )
        .unwrap();

        // Inclusion: index ±1, another size, a root byte, each proof hash, a short proof.
        for index in [e.proof_index - 1, e.proof_index + 1] {
            assert!(verify_inclusion(&leaf, index, e.tree_size, &e.hashes, &e.root).is_err());
        }
        assert!(
            verify_inclusion(&leaf, e.proof_index, e.tree_size + 1, &e.hashes, &e.root).is_err()
        );
        let mut root = e.root.clone();
        root[7] ^= 1;
        assert!(matches!(
            verify_inclusion(&leaf, e.proof_index, e.tree_size, &e.hashes, &root),
            Err(ProofError::RootMismatch { .. })
        ));
        for i in 0..e.hashes.len() {
            let mut hashes = e.hashes.clone();
            hashes[i][0] ^= 0x80;
            assert!(verify_inclusion(&leaf, e.proof_index, e.tree_size, &hashes, &e.root).is_err());
        }
        let short = &e.hashes[..e.hashes.len() - 1];
        assert!(matches!(
            verify_inclusion(&leaf, e.proof_index, e.tree_size, short, &e.root),
            Err(ProofError::ProofLength { .. })
        ));
        let mut other_leaf = leaf;
        other_leaf[31] ^= 1;
        assert!(
            verify_inclusion(&other_leaf, e.proof_index, e.tree_size, &e.hashes, &e.root).is_err()
        );

        // Checkpoint: the size, a root character, the origin, the expected origin, the key.
        let size = e.tree_size.to_string();
        let edited = e
            .checkpoint
            .replacen(&size, &(e.tree_size + 1).to_string(), 1);
        assert!(matches!(
            verify_checkpoint(&edited, None, &key),
            Err(ProofError::BadSignature { .. })
        ));
        let root_b64 = B64.encode(&e.root);
        let mut root_edit = root_b64.clone().into_bytes();
        root_edit[3] = if root_edit[3] == b'A' { b'B' } else { b'A' };
        let edited = e
            .checkpoint
            .replacen(&root_b64, std::str::from_utf8(&root_edit).unwrap(), 1);
        assert!(verify_checkpoint(&edited, None, &key).is_err());
        let edited = e
            .checkpoint
            .replacen("rekor.sigstore.dev - ", "rekor.sigstore.dev - 1", 1);
        assert!(verify_checkpoint(&edited, None, &key).is_err());
        assert!(matches!(
            verify_checkpoint(&e.checkpoint, Some("rekor.sigstore.dev"), &key),
            Err(ProofError::Origin { .. })
        ));
        assert!(matches!(
            verify_checkpoint(&e.checkpoint, None, &other_key()),
            Err(ProofError::NoSignatureByKey { .. })
        ));

        // SET: each field, a signature byte, the key.
        let set = |set: &[u8], body: &str, t: i64, id: &str, i: u64, k: &LogKey| {
            verify_set(set, body, t, id, i, k).is_err()
        };
        let (s, b, t, id, i) = (
            &e.set[..],
            &e.body_b64[..],
            e.integrated_time,
            &e.log_id_hex[..],
            e.log_index,
        );
        assert!(set(s, b, t, id, i + 1, &key));
        assert!(set(s, b, t, id, i - 1, &key));
        assert!(set(s, b, t + 1, id, i, &key));
        assert!(set(s, &b[1..], t, id, i, &key));
        assert!(set(s, b, t, &id.to_uppercase(), i, &key));
        assert!(set(s, b, t, id, i, &other_key()));
        for at in [8, e.set.len() - 1] {
            let mut sig = e.set.clone();
            sig[at] ^= 1;
            assert!(set(&sig, b, t, id, i, &key));
        }
    }

    #[test]
    fn oci_attestation_entry_verifies() {
        let Some(dir) = fixtures() else { return };
        let e = entry(&dir.join("rekor/oci-attestation.sigstore.json"));
        check_entry(&dir, &e, 16);
    }

    #[test]
    fn managed_key_entry_verifies() {
        let Some(dir) = fixtures() else { return };
        let e = entry(&dir.join("bundles/managed-key-happy-path/bundle.sigstore.json"));
        check_entry(&dir, &e, 20);
    }

    #[test]
    fn legacy_cosign_bundle_set_verifies() {
        let Some(dir) = fixtures() else { return };
        let key = rekor_key(&dir);
        let text = std::fs::read(dir.join("rekor/sigstore-rs-bundle-rekord-783606.json")).unwrap();
        let v: Value = serde_json::from_slice(&text).unwrap();
        let set = B64
            .decode(v["SignedEntryTimestamp"].as_str().unwrap())
            .unwrap();
        let p = &v["Payload"];
        let body = p["body"].as_str().unwrap();
        let t = p["integratedTime"].as_i64().unwrap();
        let id = p["logID"].as_str().unwrap();
        let i = p["logIndex"].as_u64().unwrap();
        verify_set(&set, body, t, id, i, &key).unwrap();
        assert!(verify_set(&set, body, t, id, i + 1, &key).is_err());
        assert!(verify_set(&set, body, t - 1, id, i, &key).is_err());
        assert!(verify_set(&set, body, t, id, i, &other_key()).is_err());
        let mut bad = set.clone();
        bad[10] ^= 4;
        assert!(verify_set(&bad, body, t, id, i, &key).is_err());
    }

    #[test]
    fn set_payload_is_canonical_json() {
        assert_eq!(
            set_payload("eyJh", 1634714179, "c0d2", 783606),
            r#"{"body":"eyJh","integratedTime":1634714179,"logID":"c0d2","logIndex":783606}"#
        );
        assert_eq!(
            set_payload("a\"\\\n\u{1}é", -1, "", 0),
            "{\"body\":\"a\\\"\\\\\\n\\u0001é\",\"integratedTime\":-1,\"logID\":\"\",\"logIndex\":0}"
        );
    }

    /// RFC 6962 trees built here, every index of every size up to 20: the proof verifies, and
    /// the proof of any other index does not.
    #[test]
    fn inclusion_in_small_trees() {
        fn root(leaves: &[[u8; 32]]) -> [u8; 32] {
            if leaves.len() == 1 {
                return leaves[0];
            }
            let k = leaves.len().next_power_of_two() / 2;
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
        fn path(leaves: &[[u8; 32]], m: usize) -> Vec<[u8; 32]> {
            if leaves.len() == 1 {
                return vec![];
            }
            let k = leaves.len().next_power_of_two() / 2;
            if m < k {
                let mut p = path(&leaves[..k], m);
                p.push(root(&leaves[k..]));
                p
            } else {
                let mut p = path(&leaves[k..], m - k);
                p.push(root(&leaves[..k]));
                p
            }
        }
        for n in 1..=20usize {
            let leaves: Vec<[u8; 32]> = (0..n).map(|i| leaf_hash(&[i as u8])).collect();
            let r = root(&leaves);
            for m in 0..n {
                let p = path(&leaves, m);
                verify_inclusion(&leaves[m], m as u64, n as u64, &p, &r).unwrap();
                for other in (0..n).filter(|&o| o != m) {
                    assert!(verify_inclusion(&leaves[other], m as u64, n as u64, &p, &r).is_err());
                }
            }
        }
        assert!(matches!(
            verify_inclusion::<[u8; 32]>(&[0; 32], 0, 0, &[], &[0; 32]),
            Err(ProofError::IndexOutsideTree { .. })
        ));
        verify_inclusion::<[u8; 32]>(&[7; 32], 0, 1, &[], &[7; 32]).unwrap();
        // The largest trees: the leaf's path leaves the border at the top level.
        for (index, size) in [(1 << 63, u64::MAX), (0, u64::MAX), (u64::MAX - 1, u64::MAX)] {
            assert!(matches!(
                verify_inclusion::<[u8; 32]>(&[0; 32], index, size, &[], &[0; 32]),
                Err(ProofError::ProofLength { .. })
            ));
        }
    }

    /// A note signed as rekor-tiles signs one, with each key type.
    fn sign_note(origin: &str, body: &str, key_hash: [u8; 4], sig: &[u8]) -> String {
        let mut raw = key_hash.to_vec();
        raw.extend_from_slice(sig);
        format!("{body}\n\u{2014} {origin} {}\n", B64.encode(raw))
    }

    #[test]
    fn rekor_v2_checkpoints_with_each_key_type() {
        use ed25519_dalek::Signer as _;
        use p256::pkcs8::EncodePublicKey as _;
        let origin = "log2025-1.rekor.sigstore.dev";
        let body = format!("{origin}\n42\n{}\n", B64.encode([9u8; 32]));

        let ed = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let ed_key =
            LogKey::from_der(ed.verifying_key().to_public_key_der().unwrap().as_bytes()).unwrap();
        let mut h = Sha256::new();
        h.update(format!("{origin}\n").as_bytes());
        h.update([1]);
        h.update(ed.verifying_key().as_bytes());
        let id: [u8; 32] = h.finalize().into();
        assert_eq!(ed_key.note_key_id(origin), id);
        let sig = ed.sign(body.as_bytes()).to_bytes();
        let note = sign_note(origin, &body, [id[0], id[1], id[2], id[3]], &sig);
        let cp = verify_checkpoint(&note, Some(origin), &ed_key).unwrap();
        assert_eq!((cp.size, cp.root_hash), (42, [9; 32]));
        assert!(cp.other_lines.is_empty());
        // The same signature under the Ed25519 key's DER hash (a Rekor v1 Ed25519 log).
        let v1 = ed_key.log_id();
        let note_v1 = sign_note(origin, &body, [v1[0], v1[1], v1[2], v1[3]], &sig);
        verify_checkpoint(&note_v1, Some(origin), &ed_key).unwrap();
        let note_other = sign_note(origin, &body, [0, 0, 0, 0], &sig);
        assert!(verify_checkpoint(&note_other, None, &ed_key).is_err());

        let p384 = p384::ecdsa::SigningKey::from_slice(&[3; 48]).unwrap();
        let p384_key =
            LogKey::from_der(p384.verifying_key().to_public_key_der().unwrap().as_bytes()).unwrap();
        let sig: p384::ecdsa::Signature = p384.sign(body.as_bytes());
        let id = p384_key.log_id();
        assert_eq!(p384_key.note_key_id(origin), id);
        let note = sign_note(
            origin,
            &body,
            [id[0], id[1], id[2], id[3]],
            sig.to_der().as_bytes(),
        );
        verify_checkpoint(&note, Some(origin), &p384_key).unwrap();
        let tampered = note.replacen("\n42\n", "\n43\n", 1);
        assert!(verify_checkpoint(&tampered, None, &p384_key).is_err());
        // A name other than the origin is not the log's signature.
        let note = sign_note(
            "someone-else",
            &body,
            [id[0], id[1], id[2], id[3]],
            sig.to_der().as_bytes(),
        );
        assert!(matches!(
            verify_checkpoint(&note, None, &p384_key),
            Err(ProofError::NoSignatureByKey { .. })
        ));
    }

    #[test]
    fn checkpoint_parse_errors() {
        let root = B64.encode([1u8; 32]);
        let sig = format!("\u{2014} o {}\n", B64.encode([1u8; 8]));
        let ok = format!("o\n5\n{root}\next\n\n{sig}");
        let cp = parse_checkpoint(&ok).unwrap();
        assert_eq!(cp.other_lines, vec!["ext".to_owned()]);
        assert_eq!(cp.signatures[0].key_hash, [1; 4]);
        for bad in [
            String::new(),
            format!("o\n5\n{root}\n"),
            format!("o\n05\n{root}\n\n{sig}"),
            format!("o\n-5\n{root}\n\n{sig}"),
            format!("o\n99999999999999999999\n{root}\n\n{sig}"),
            format!("o\n5\nAAAA\n\n{sig}"),
            format!("\n5\n{root}\n\n{sig}"),
            format!("o\n5\n{root}\n\n- o AAAAAAAA\n"),
            format!("o\n5\n{root}\n\n\u{2014} o AAAA\n"),
            format!("o\n5\n{root}\n\n\u{2014} o+x AAAAAAAA\n"),
            format!("o\n5\n{root}\n\n{}", sig.trim_end()),
        ] {
            let e = parse_checkpoint(&bad).unwrap_err();
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }

    #[test]
    fn log_keys() {
        let Some(dir) = fixtures() else { return };
        let key = rekor_key(&dir);
        assert_eq!(
            hex(&key.log_id()),
            "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"
        );
        let pem = std::fs::read_to_string(dir.join("keys/sigstore-ed25519.pub")).unwrap();
        let ed = LogKey::from_pem(&pem).unwrap();
        let msg = std::fs::read(dir.join("keys/sigstore-sign-me.txt")).unwrap();
        let sig =
            std::fs::read_to_string(dir.join("keys/sigstore-ed25519.sign-me.sig.b64")).unwrap();
        let sig = B64.decode(sig.trim()).unwrap();
        ed.verify(&msg, &sig).unwrap();
        assert!(ed.verify(b"sign mE", &sig).is_err());
        let pem = std::fs::read_to_string(dir.join("keys/sigstore-ecdsa-p256.pub")).unwrap();
        let ec = LogKey::from_pem(&pem).unwrap();
        let sig =
            std::fs::read_to_string(dir.join("keys/sigstore-ecdsa-p256.sign-me.sig.b64")).unwrap();
        let sig = B64.decode(sig.trim()).unwrap();
        ec.verify(&msg, &sig).unwrap();
        assert!(ec.verify(&msg, &sig[..sig.len() - 1]).is_err());
        assert!(LogKey::from_der(b"\x30\x00").is_err());
        assert!(
            LogKey::from_pem("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n")
                .is_err()
        );
    }
}
