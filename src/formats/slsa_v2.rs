//! `slsa/v2alpha3` and `slsa/v2alpha4`: in-toto Statement v1 with a SLSA v1.0 predicate and
//! buildType from `builddefinition.buildtype`.
//!
//! From inside the pod: subjects, byproducts and `inputs/result` dependencies come from results
//! exactly as in Chains; `runSpec` holds the `--param` values; `invocationId` is the TaskRun UID.
//! The TaskRun spec, feature flags, labels and annotations, step images and `refSource` need the
//! TaskRun object and are left out until chainlet reads it from the API.

use base64::Engine as _;
use serde_json::{Value, json};

use super::{Options, Statement, go_json, rfc3339, subjects};
use crate::collect::{RunRecord, TaskResult};
use crate::subjects::{Artifact, Artifacts, is_build_artifact, is_image_hint};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";

/// Builds the statement; `alpha4` selects slsa/v2alpha4's rules (step results, build
/// artifacts only, byproduct names with the TaskRun name).
pub(super) fn statement(
    alpha4: bool,
    opts: &Options,
    run: &RunRecord,
    artifacts: &Artifacts,
) -> Statement {
    let mut build_definition = serde_json::Map::new();
    build_definition.insert("buildType".into(), opts.build_type.clone().into());
    build_definition.insert(
        "externalParameters".into(),
        json!({"runSpec": run_spec(run)}),
    );
    build_definition.insert("internalParameters".into(), json!({}));
    let deps = resolved_dependencies(alpha4, artifacts);
    if !deps.is_empty() {
        build_definition.insert("resolvedDependencies".into(), deps.into());
    }

    let mut run_details = serde_json::Map::new();
    // protojson leaves out an empty builder id, so Chains writes `"builder":{}` for it.
    let builder = if opts.builder_id.is_empty() {
        json!({})
    } else {
        json!({"id": opts.builder_id})
    };
    run_details.insert("builder".into(), builder);
    let byproducts = byproducts(alpha4, run);
    if !byproducts.is_empty() {
        run_details.insert("byproducts".into(), byproducts.into());
    }
    let mut metadata = serde_json::Map::new();
    if let Some(t) = run.finished_on {
        metadata.insert("finishedOn".into(), rfc3339(t).into());
    }
    if !run.context.taskrun_uid.is_empty() {
        metadata.insert(
            "invocationId".into(),
            run.context.taskrun_uid.clone().into(),
        );
    }
    if let Some(t) = run.started_on {
        metadata.insert("startedOn".into(), rfc3339(t).into());
    }
    run_details.insert("metadata".into(), metadata.into());

    Statement {
        type_: STATEMENT_TYPE,
        subject: subjects(&artifacts.subjects),
        predicate_type: PREDICATE_TYPE,
        predicate: json!({
            "buildDefinition": build_definition,
            "runDetails": run_details,
        }),
    }
}

/// What the pod knows of the TaskRun spec: the parameters passed with `--param`.
fn run_spec(run: &RunRecord) -> Value {
    if run.params.is_empty() {
        return json!({});
    }
    let params: Vec<Value> = run
        .params
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    json!({ "params": params })
}

/// `inputs/result` entries: v2alpha4 puts each step's inputs before the task's. Entries with
/// the same URI and digest appear once.
fn resolved_dependencies(alpha4: bool, artifacts: &Artifacts) -> Vec<Value> {
    let mut seen: Vec<&Artifact> = Vec::new();
    let steps = if alpha4 {
        artifacts.step_inputs.as_slice()
    } else {
        &[]
    };
    let task = artifacts.git.iter().chain(artifacts.inputs.iter());
    for a in steps.iter().chain(task) {
        if !seen.contains(&a) {
            seen.push(a);
        }
    }
    seen.into_iter()
        .map(|a| json!({"digest": a.digest, "name": "inputs/result", "uri": a.name}))
        .collect()
}

fn byproducts(alpha4: bool, run: &RunRecord) -> Vec<Value> {
    let entry = |name: String, r: &TaskResult| {
        json!({
            "content": base64::engine::general_purpose::STANDARD
                .encode(go_json::result_value(&r.value)),
            "mediaType": "application/json",
            "name": name,
        })
    };
    if !alpha4 {
        return run
            .results
            .iter()
            .map(|r| entry(format!("taskRunResults/{}", r.name), r))
            .collect();
    }
    let keep = |r: &&TaskResult| !is_image_hint(&r.name) && !is_build_artifact(r);
    let name = &run.context.taskrun_name;
    let task = run
        .results
        .iter()
        .filter(keep)
        .map(|r| entry(format!("taskRunResults/{name}/{}", r.name), r));
    let steps = run
        .step_results
        .iter()
        .flat_map(|s| s.results.iter())
        .filter(keep)
        .map(|r| entry(format!("stepResults/{name}/{}", r.name), r));
    task.chain(steps).collect()
}
