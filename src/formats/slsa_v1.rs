//! `slsa/v1` (and its alias `in-toto`): in-toto Statement v0.1 with a SLSA v0.2 predicate and
//! buildType `tekton.dev/v1/TaskRun`.
//!
//! From inside the pod: subjects, the git material and `*ARTIFACT_INPUTS` materials come from
//! results exactly as in Chains; `parameters` holds the `--param` values; step entries,
//! step-image materials, `configSource` and `environment` need the TaskRun object and are left
//! empty until chainlet reads it from the API.

use serde_json::{Value, json};

use super::{Options, Statement, rfc3339, subjects};
use crate::collect::RunRecord;
use crate::subjects::{Artifact, Artifacts, append};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v0.1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v0.2";
pub const BUILD_TYPE: &str = "tekton.dev/v1/TaskRun";

pub(super) fn statement(opts: &Options, run: &RunRecord, artifacts: &Artifacts) -> Statement {
    let mut materials: Vec<Artifact> = Vec::new();
    if let Some(git) = &artifacts.git {
        append(&mut materials, git.clone());
    }
    for input in &artifacts.inputs {
        append(&mut materials, input.clone());
    }

    let mut metadata = serde_json::Map::new();
    if let Some(t) = run.finished_on {
        metadata.insert("buildFinishedOn".into(), rfc3339(t).into());
    }
    if let Some(t) = run.started_on {
        metadata.insert("buildStartedOn".into(), rfc3339(t).into());
    }
    metadata.insert(
        "completeness".into(),
        json!({"environment": false, "materials": false, "parameters": false}),
    );
    metadata.insert("reproducible".into(), false.into());

    let parameters: serde_json::Map<String, Value> = run
        .params
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();

    let mut predicate = serde_json::Map::new();
    predicate.insert("buildConfig".into(), json!({"steps": []}));
    predicate.insert("buildType".into(), BUILD_TYPE.into());
    predicate.insert("builder".into(), json!({"id": opts.builder_id}));
    predicate.insert(
        "invocation".into(),
        json!({"configSource": {}, "parameters": parameters}),
    );
    if !materials.is_empty() {
        predicate.insert(
            "materials".into(),
            materials
                .iter()
                .map(|m| json!({"digest": m.digest, "uri": m.name}))
                .collect(),
        );
    }
    predicate.insert("metadata".into(), metadata.into());

    Statement {
        type_: STATEMENT_TYPE,
        subject: subjects(&artifacts.subjects),
        predicate_type: PREDICATE_TYPE,
        predicate: predicate.into(),
    }
}
