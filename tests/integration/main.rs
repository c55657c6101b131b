//! The integration tests, one binary: chainlet run as a pod runs it, against the real cosign,
//! a real registry and a real Kubernetes API server. The harness (`common`) is built once and
//! its servers are shared: one API server for every test here, a namespace per test.

mod common;

mod archivista;
mod chains_fixtures;
mod cosign_verify;
mod docdb;
mod errors;
mod firestore;
mod gcs;
mod grafeas;
mod kafka;
mod keyless;
mod keys;
mod kms_aws;
mod kms_cloud;
mod kms_vault;
mod oci;
mod oci_bundle;
mod pipelinerun;
mod rekor_v1;
mod rekor_v2;
mod sigstore_servers;
mod stepaction_env;
mod taskrun_api;
mod tekton_yaml;
mod tsa;
mod verify;
mod verify_keyless;
mod workspace;
