//! Formats: turn a [`RunRecord`] and its [`Artifacts`] into the bytes that get signed.
//!
//! Names follow the config values: `in-toto`/`slsa/v1` (in-toto Statement v0.1 with a SLSA v0.2
//! predicate), `slsa/v2alpha3` and `slsa/v2alpha4` (Statement v1, SLSA v1.0), and
//! `simplesigning` for image signatures.
//!
//! Serialisation follows what Chains emits (protojson of the Statement): top-level keys in the
//! order `_type`, `subject`, `predicateType`, `predicate`; every key inside the predicate sorted;
//! compact, no trailing newline, no HTML escaping. The same inputs and times give the same bytes.

pub mod cosign_sign;
pub(crate) mod go_json;
pub mod simplesigning;
mod slsa_v1;
mod slsa_v2;
mod tekton_spec;

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use crate::collect::RunRecord;
use crate::subjects::{Artifact, Artifacts};

/// The formats of TaskRun attestations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `in-toto` and `slsa/v1`.
    SlsaV1,
    SlsaV2Alpha3,
    SlsaV2Alpha4,
    /// The TaskRun status as the API returned it, signed without an envelope.
    Tekton,
}

impl Format {
    /// Maps a config value (already validated) to a format.
    pub fn from_config(value: &str) -> Option<Self> {
        match value {
            "in-toto" | "slsa/v1" => Some(Format::SlsaV1),
            "slsa/v2alpha3" => Some(Format::SlsaV2Alpha3),
            "slsa/v2alpha4" => Some(Format::SlsaV2Alpha4),
            "tekton" => Some(Format::Tekton),
            _ => None,
        }
    }

    /// The `predicateType` this format writes (the `predicateType` annotation of OCI layers);
    /// empty for `tekton`, which is no in-toto statement.
    pub fn predicate_type(self) -> &'static str {
        match self {
            Format::SlsaV1 => slsa_v1::PREDICATE_TYPE,
            Format::SlsaV2Alpha3 | Format::SlsaV2Alpha4 => slsa_v2::PREDICATE_TYPE,
            Format::Tekton => "",
        }
    }

    /// Whether the payload is signed in a DSSE envelope (every in-toto format).
    pub fn wraps(self) -> bool {
        self != Format::Tekton
    }

    /// Which subject rule the format follows.
    pub fn view(self) -> crate::subjects::View {
        match self {
            Format::SlsaV1 | Format::SlsaV2Alpha3 | Format::Tekton => {
                crate::subjects::View::TaskResults
            }
            Format::SlsaV2Alpha4 => crate::subjects::View::BuildArtifacts,
        }
    }
}

/// Config values the formats read.
#[derive(Debug, Clone)]
pub struct Options {
    /// `builder.id`.
    pub builder_id: String,
    /// `builddefinition.buildtype`.
    pub build_type: String,
    /// `artifacts.pipelinerun.enable-deep-inspection` (PipelineRuns only).
    pub deep_inspection: bool,
}

/// A PipelineRun attestation payload (slsa/v1, slsa/v2alpha3, slsa/v2alpha4) and its subjects.
///
/// `hints` is [`crate::subjects::pipelinerun`]'s answer for the format's [`Format::view`].
pub fn pipelinerun_payload(
    format: Format,
    opts: &Options,
    pr: &crate::collect::PipelineRecord,
    hints: &crate::subjects::PipelineArtifacts,
) -> Result<(Vec<u8>, Vec<Artifact>), String> {
    let statement = match format {
        Format::SlsaV2Alpha3 => slsa_v2::pipelinerun_statement(false, opts, pr, hints)?,
        Format::SlsaV2Alpha4 => slsa_v2::pipelinerun_statement(true, opts, pr, hints)?,
        Format::SlsaV1 => slsa_v1::pipelinerun_statement(opts, pr, hints)?,
        Format::Tekton => {
            return Err(
                "PipelineRun attestations in format tekton are not supported: use slsa/v2alpha4, slsa/v2alpha3 or slsa/v1"
                    .into(),
            );
        }
    };
    let subjects = statement
        .subject
        .iter()
        .map(|s| Artifact {
            name: s.name.clone(),
            digest: s.digest.clone(),
        })
        .collect();
    Ok((
        serde_json::to_vec(&statement).expect("serialising a statement cannot fail"),
        subjects,
    ))
}

/// A TaskRun attestation payload: the in-toto Statement's bytes, or for `tekton` the TaskRun
/// status as the API returned it. Fails, as Chains does, when the TaskRun records a step image
/// without a digest.
pub fn payload(
    format: Format,
    opts: &Options,
    run: &RunRecord,
    artifacts: &Artifacts,
) -> Result<Vec<u8>, String> {
    let statement = match format {
        Format::SlsaV1 => slsa_v1::statement(opts, run, artifacts)?,
        Format::SlsaV2Alpha3 => slsa_v2::statement(false, opts, run, artifacts)?,
        Format::SlsaV2Alpha4 => slsa_v2::statement(true, opts, run, artifacts)?,
        Format::Tekton => {
            return match &run.api {
                Some(api) if !api.status_json.is_empty() => {
                    Ok(api.status_json.clone().into_bytes())
                }
                Some(_) => Err("format tekton: the TaskRun from the API has no status".into()),
                None => Err("format tekton needs the TaskRun from the Kubernetes API".into()),
            };
        }
    };
    Ok(serde_json::to_vec(&statement).expect("serialising a statement cannot fail"))
}

/// An in-toto Statement in protojson's field order.
#[derive(Serialize)]
struct Statement {
    #[serde(rename = "_type")]
    type_: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    predicate_type: &'static str,
    /// A JSON object; serde_json's map is sorted, as protojson sorts a Struct.
    predicate: serde_json::Value,
}

/// A subject in ResourceDescriptor field order (`name`, then `digest`).
#[derive(Serialize)]
struct Subject {
    name: String,
    digest: BTreeMap<String, String>,
}

fn subjects(list: &[Artifact]) -> Vec<Subject> {
    list.iter()
        .map(|a| Subject {
            name: a.name.clone(),
            digest: a.digest.clone(),
        })
        .collect()
}

/// RFC 3339 in UTC with whole seconds, as Kubernetes times appear in Chains' payloads.
pub fn rfc3339(t: SystemTime) -> String {
    crate::time::format_rfc3339_seconds(t)
}
