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

pub mod bundle;
pub mod pbjson;
pub mod proof;
pub mod rekor_v1;
pub mod rekor_v2;
pub mod tiles;
pub mod trust;
pub mod tsa;

use std::collections::BTreeMap;

use crate::config::Config;
use crate::signing::{Payload, Signature, Signer};

pub use trust::{ApiVersion, LogSetup, TrustFlags, TsaSetup};

/// The annotation a user sets on a run to have it logged under `transparency.enabled: manual`.
pub const UPLOAD_ANNOTATION: &str = "chains.tekton.dev/transparency-upload";
/// The annotation Chains (and storage tekton) writes with the entry's URL once logged.
pub const ENTRY_ANNOTATION: &str = "chains.tekton.dev/transparency";

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
    /// RFC 3161 timestamps over the signature from a timestamp authority, each the DER
    /// `TimeStampResp` it answered (what a bundle's `signedTimestamp` holds): the signing time
    /// for a v2 log, which has no integrated time.
    pub timestamps: Vec<Vec<u8>>,
}

impl LogEntry {
    /// Where Chains says the entry is: `<log>/api/v1/log/entries?logIndex=<N>`, the value of
    /// `chains.tekton.dev/transparency`.
    pub fn chains_url(&self) -> String {
        format!(
            "{}/api/v1/log/entries?logIndex={}",
            self.log_url.trim_end_matches('/'),
            self.log_index
        )
    }
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
    /// The timestamp authority refused or failed, or its answer does not verify.
    #[error("timestamp authority {tsa}: {message}")]
    Timestamp { tsa: String, message: String },
    #[error("transparency.enabled {value:?}: not a value chainlet knows (true, manual, false)")]
    NotSupported { value: String },
    /// The stage cannot be set up (missing trust, bad files, manual without the API).
    #[error("{0}")]
    Setup(String),
}

impl TransparencyError {
    /// The log at `log` refused or failed the upload.
    pub fn upload(log: &str, message: impl Into<String>) -> Self {
        TransparencyError::Upload {
            log: log.to_owned(),
            message: message.into(),
        }
    }

    /// The answer of the log at `log` does not check out.
    pub fn unverified(log: &str, message: impl Into<String>) -> Self {
        TransparencyError::Unverified {
            log: log.to_owned(),
            message: message.into(),
        }
    }
}

/// How much of a log's or authority's answer an error quotes.
pub(crate) const MAX_QUOTE: usize = 200;

/// At most [`MAX_QUOTE`] characters of an answer, on one line, for errors.
pub(crate) fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_QUOTE)
        .collect();
    if text.chars().count() > MAX_QUOTE {
        out.push('…');
    }
    let out = out.trim().to_owned();
    if out.is_empty() {
        "(no body)".into()
    } else {
        out
    }
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

/// What opening the stage may use besides the config.
pub struct OpenContext<'a> {
    pub flags: TrustFlags<'a>,
    /// The run's annotations as the API returned them; `None` when the run was not read.
    pub annotations: Option<&'a BTreeMap<String, String>>,
    /// The run's deadline and TLS trust, for the log's transport.
    pub deadline: std::time::Instant,
    pub extra_cas: Vec<crate::net::tls::ExtraCa>,
}

/// The transparency stage the config asks for: [`Disabled`], or a client of the log that
/// `transparency.url` (and a signing config) name, set up by [`trust::resolve`].
pub fn open(
    config: &Config,
    ctx: &OpenContext<'_>,
) -> Result<Box<dyn Transparency>, TransparencyError> {
    match config.get("transparency.enabled") {
        "false" => return Ok(Box::new(Disabled)),
        "true" => {}
        "manual" => {
            let Some(annotations) = ctx.annotations else {
                return Err(TransparencyError::Setup(
                    "transparency.enabled \"manual\" logs only runs annotated \
                     chains.tekton.dev/transparency-upload: \"true\", which needs the run read \
                     from the Kubernetes API (a service-account token, --taskrun-api on)"
                        .into(),
                ));
            };
            if !wants_manual_upload(annotations) {
                tracing::info!(
                    "transparency.enabled is manual and the run is not annotated \
                     {UPLOAD_ANNOTATION}: \"true\" (or is already logged): not logging"
                );
                return Ok(Box::new(Disabled));
            }
        }
        other => {
            return Err(TransparencyError::NotSupported {
                value: other.to_owned(),
            });
        }
    }
    let setup = trust::resolve(config.get("transparency.url"), &ctx.flags)
        .map_err(|e| TransparencyError::Setup(e.to_string()))?;
    let mut plain_http = Vec::new();
    for url in
        std::iter::once(setup.url.as_str()).chain(setup.timestamp.as_ref().map(|t| t.url.as_str()))
    {
        // A URL the user wrote with http:// is theirs to choose (in-cluster Rekor often is).
        if let Some(rest) = url.strip_prefix("http://") {
            let host = rest.split('/').next().unwrap_or_default();
            let hp = crate::net::HostPort::parse(host)
                .map_err(|e| TransparencyError::Setup(format!("transparency.url {url:?}: {e}")))?;
            plain_http.push(hp);
        }
    }
    let transport = crate::net::Transport::new(crate::net::Options {
        deadline: ctx.deadline,
        plain_http,
        trust: crate::net::tls::Trust::system_and(ctx.extra_cas.clone(), "--registry-ca"),
    });
    match setup.version {
        ApiVersion::V1 => rekor_v1::open(&setup, transport),
        ApiVersion::V2 => rekor_v2::open(&setup, transport),
    }
}

/// `manual`: the run asks to be logged and is not logged yet.
pub fn wants_manual_upload(annotations: &BTreeMap<String, String>) -> bool {
    annotations
        .get(UPLOAD_ANNOTATION)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        && !annotations.contains_key(ENTRY_ANNOTATION)
}
