//! chainlet: Tekton Chains' job, done inside the TaskRun's pod.
//!
//! # One pass, one direction
//!
//! ```text
//! config → collect → subjects → formats → signing → transparency → storage
//! ```
//!
//! [`config`] resolves Chains' `chains-config` keys; [`collect`] reads the pod (and, with API
//! access, the TaskRun or PipelineRun) into a [`collect::RunRecord`] or
//! [`collect::PipelineRecord`]; [`subjects`] applies Chains' type hinting; [`formats`] builds
//! the payloads; [`signing`] signs them; [`transparency`] logs what was signed; [`storage`]
//! stores the signed artifacts. Each stage takes plain data and returns plain data, and no
//! stage imports a later one. [`attest`] only wires them; its [`attest::pipeline`] is the
//! sign → log → store half that TaskRuns and PipelineRuns share. The network clients
//! ([`registry`], [`kube`]) sit beside the stages that use them.
//!
//! # Adding a signer, a log or a backend
//!
//! Each is one new file behind one small trait, registered by the name users write in
//! `chains-config`, the way Chains registers its signers and backends:
//!
//! - **a signer** (`artifacts.*.signer`): implement [`signing::Signer`] (`sign` may fail; a
//!   signer may carry a [`signing::Certificate`]; `parallelism` lets a remote signer sign many
//!   images at once) in `signing/<name>.rs`, and add a [`signing::Registration`] to
//!   [`signing::SIGNERS`];
//! - **a transparency log**: implement [`transparency::Transparency`] (take a signed payload,
//!   return its [`transparency::LogEntry`]) in `transparency/<name>.rs`, and return it from
//!   [`transparency::open`] for the config that selects it;
//! - **a storage backend** (`artifacts.*.storage`): implement [`storage::Backend`] (`store`,
//!   and where it runs in the order with `place`; optionally `warm_up`, `preflight`,
//!   `record_failure`) in `storage/<name>.rs`, and add a [`storage::Registration`] to
//!   [`storage::BACKENDS`].
//!
//! Then flip the value from "not supported yet" to supported in `config/keys.rs`. Nothing in
//! [`attest`] changes; `tests/seams/` plugs a test signer, log and backend into the pipeline
//! to show it.
#![forbid(unsafe_code)]

pub mod attest;
pub mod cli;
pub mod cloud;
pub mod collect;
pub mod config;
pub mod formats;
mod fsread;
pub mod kafka;
pub mod keygen;
pub mod kube;
pub mod net;
pub mod pki;
pub mod registry;
pub mod signing;
pub mod step_results;
pub mod storage;
pub mod subjects;
#[cfg(test)]
mod test_support;
pub mod time;
pub mod transparency;
pub mod verify;

/// An error on its way to the exit code: 1 for a failed run, 2 for bad usage or configuration.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    /// A run that failed (exit 1).
    pub fn run(e: impl std::fmt::Display) -> Self {
        Self {
            code: 1,
            message: one_line(&e.to_string()),
        }
    }

    /// Bad usage or configuration (exit 2).
    pub fn usage(e: impl std::fmt::Display) -> Self {
        Self {
            code: 2,
            message: one_line(&e.to_string()),
        }
    }
}

/// Errors are promised to be one line; anything multi-line from a library is folded.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Writes to stdout. A closed pipe (`chainlet version | head -c1`) is not an error: the reader
/// has what it wanted.
pub fn print(text: &str) -> Result<(), Failure> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::run(e)),
        _ => Ok(()),
    }
}
