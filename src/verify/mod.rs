//! `chainlet verify`: checking what was stored: image signatures, attestations, Sigstore
//! bundles, and a policy over the attested provenance.
//!
//! [`evidence`] judges one signature (key, certificate identity, log entry, timestamp); this
//! module finds the evidence and checks the statements against the policy.

pub mod evidence;
