//! chainlet: Tekton Chains' job, done inside the TaskRun's pod.
//!
//! One pass, one direction: [`collect`] reads the pod into a [`collect::RunRecord`];
//! [`subjects`] applies Chains' type hinting; [`formats`] builds the payload; [`signing`] signs
//! it; [`storage`] stores it. [`config`] holds Chains' `chains-config` keys. Each stage takes
//! plain data and returns plain data; [`attest`] wires them.
#![forbid(unsafe_code)]

pub mod attest;
pub mod cli;
pub mod collect;
pub mod config;
pub mod formats;
mod fsread;
pub mod keygen;
pub mod kube;
pub mod net;
pub mod registry;
pub mod signing;
pub mod storage;
pub mod subjects;

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
