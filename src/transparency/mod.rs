//! Transparency: the stage between signing and storage that records what was signed in a
//! transparency log and hands the entry on to every backend.
//!
//! A log is a [`Transparency`]: it takes one signed payload with its signer and returns the
//! entry the log made, or `None` when this log records nothing for it. Storage backends only
//! serialise the [`LogEntry`] they are given (Chains' `chains.tekton.dev/transparency`, cosign's
//! bundle annotation, a Sigstore bundle file); they never talk to a log.
//!
//! To add a log: implement [`Transparency`] in `transparency/<name>.rs` and return it from
//! [`open`] for the config that selects it. With `transparency.enabled: "false"` (the default)
//! the stage is [`Disabled`] and nothing changes downstream.

pub mod proof;
pub mod tsa;

use crate::config::Config;
use crate::signing::{Payload, Signature, Signer};

/// One signed payload on its way to the log.
pub struct Signed<'a> {
    pub payload: &'a Payload,
    pub signature: &'a Signature,
    pub signer: &'a dyn Signer,
}

/// A transparency log.
pub trait Transparency: Send + Sync {
    /// What the log is, for logs and errors (`rekor v1 at https://…`).
    fn describe(&self) -> String;
    /// Logs one signed payload; `None` when this log records nothing.
    fn log(&self, signed: &Signed<'_>) -> Result<Option<LogEntry>, TransparencyError>;
}

/// An entry a log returned, checked by the log's client before it is handed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The log's base URL, as `transparency.url` names it.
    pub log_url: String,
    /// The entry's index in the log.
    pub log_index: u64,
    /// The entry's UUID (v1) or leaf hash (v2), hex.
    pub uuid: String,
    /// The log's id: SHA-256 of its public key, hex.
    pub log_id: String,
    /// When the log integrated the entry (seconds since the epoch; 0 for logs without it).
    pub integrated_time: i64,
    /// The canonicalised entry body the log stored.
    pub body: Vec<u8>,
    /// The entry's kind and version (`dsse` `0.0.1`, `hashedrekord` `0.0.2`).
    pub kind: String,
    pub kind_version: String,
    /// The signed entry timestamp (the log's promise of inclusion), if the log gives one.
    pub signed_entry_timestamp: Option<Vec<u8>>,
    pub inclusion_proof: Option<InclusionProof>,
}

/// Proof that an entry is in the log's tree, and the checkpoint that signs that tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    pub log_index: u64,
    pub tree_size: u64,
    pub root_hash: Vec<u8>,
    pub hashes: Vec<Vec<u8>>,
    pub checkpoint: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TransparencyError {
    /// The log refused or failed the upload.
    #[error("transparency log {log}: {message}")]
    Upload { log: String, message: String },
    /// The log's answer does not check out (bad SET, proof or checkpoint).
    #[error("transparency log {log}: its answer does not verify: {message}")]
    Unverified { log: String, message: String },
    #[error("transparency.enabled {value:?}: uploading to a transparency log is not supported yet")]
    NotSupported { value: String },
}

/// The stage when `transparency.enabled` is `false`: nothing is logged.
pub struct Disabled;

impl Transparency for Disabled {
    fn describe(&self) -> String {
        "no transparency log".into()
    }

    fn log(&self, _signed: &Signed<'_>) -> Result<Option<LogEntry>, TransparencyError> {
        Ok(None)
    }
}

/// The transparency stage the config asks for. The config check already refuses `true` and
/// `manual` as not supported yet; this says so again rather than trusting it.
pub fn open(config: &Config) -> Result<Box<dyn Transparency>, TransparencyError> {
    match config.get("transparency.enabled") {
        "false" => Ok(Box::new(Disabled)),
        other => Err(TransparencyError::NotSupported {
            value: other.to_owned(),
        }),
    }
}
