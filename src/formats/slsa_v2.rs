//! `slsa/v2alpha3` and `slsa/v2alpha4`: in-toto Statement v1 with a SLSA v1.0 predicate and
//! buildType from `builddefinition.buildtype`.
//!
//! Subjects, byproducts and `inputs/result` dependencies come from results exactly as in Chains;
//! `invocationId` is the TaskRun UID. With the TaskRun from the API, `runSpec` is its spec,
//! `internalParameters` its feature flags (and labels and annotations for `slsa-tekton`), and
//! `resolvedDependencies` start with its `refSource` and step and sidecar images. Without it,
//! `runSpec` holds the `--param` values and those parts are left out.

use base64::Engine as _;
use serde_json::{Value, json};

use super::{Options, Statement, go_json, rfc3339, subjects, tekton_spec};
use crate::collect::api::{ApiTaskRun, image_dependency};
use crate::collect::{RunRecord, TaskResult};
use crate::subjects::{Artifact, Artifacts, is_build_artifact, is_image_hint};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
pub const BUILD_TYPE_TEKTON: &str = "https://tekton.dev/chains/v2/slsa-tekton";

/// Builds the statement; `alpha4` selects slsa/v2alpha4's rules (step results, build
/// artifacts only, byproduct names with the TaskRun name).
pub(super) fn statement(
    alpha4: bool,
    opts: &Options,
    run: &RunRecord,
    artifacts: &Artifacts,
) -> Result<Statement, String> {
    let mut build_definition = serde_json::Map::new();
    build_definition.insert("buildType".into(), opts.build_type.clone().into());
    build_definition.insert("externalParameters".into(), external_parameters(run));
    build_definition.insert(
        "internalParameters".into(),
        internal_parameters(opts, run.api.as_ref()),
    );
    let deps = resolved_dependencies(alpha4, run.api.as_ref(), artifacts)?;
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

    Ok(Statement {
        type_: STATEMENT_TYPE,
        subject: subjects(&artifacts.subjects),
        predicate_type: PREDICATE_TYPE,
        predicate: json!({
            "buildDefinition": build_definition,
            "runDetails": run_details,
        }),
    })
}

/// `runSpec`, and `buildConfigSource` for a Task resolved remotely.
fn external_parameters(run: &RunRecord) -> Value {
    let Some(api) = &run.api else {
        return json!({"runSpec": run_spec(run)});
    };
    let mut out = serde_json::Map::new();
    out.insert("runSpec".into(), tekton_spec::run_spec(&api.spec));
    if let Some(src) = api.ref_source.as_ref().filter(|_| api.remote_task) {
        // Chains takes the first entry of a Go map, which is random with several digests;
        // the first in sorted order is stable.
        let reference = src
            .digest
            .iter()
            .next()
            .map(|(alg, hex)| format!("{alg}:{hex}"))
            .unwrap_or_default();
        out.insert(
            "buildConfigSource".into(),
            json!({"path": src.entry_point, "ref": reference, "repository": src.uri}),
        );
    }
    out.into()
}

/// Feature flags recorded on the TaskRun; `slsa-tekton` adds its labels and annotations.
fn internal_parameters(opts: &Options, api: Option<&ApiTaskRun>) -> Value {
    let Some(api) = api else {
        return json!({});
    };
    let mut out = serde_json::Map::new();
    if let Some(flags) = &api.feature_flags {
        out.insert(
            "tekton-pipelines-feature-flags".into(),
            tekton_spec::feature_flags(flags),
        );
    }
    if opts.build_type == BUILD_TYPE_TEKTON {
        out.insert("labels".into(), json!(api.labels));
        out.insert("annotations".into(), json!(api.annotations));
    }
    out.into()
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

/// Chains' order: the Task's source, step images, sidecar images, then (v2alpha4) each step's
/// inputs and remote StepActions, then the task's inputs. Entries after the Task's source appear
/// once per URI and digest, except StepActions.
fn resolved_dependencies(
    alpha4: bool,
    api: Option<&ApiTaskRun>,
    artifacts: &Artifacts,
) -> Result<Vec<Value>, String> {
    let mut out: Vec<Value> = Vec::new();
    let mut seen: Vec<(String, Value)> = Vec::new();
    let mut push = |entry: Value, dedupe: bool, out: &mut Vec<Value>| {
        let key = (
            entry["uri"].as_str().unwrap_or("").to_owned(),
            entry["digest"].clone(),
        );
        if dedupe {
            if seen.contains(&key) {
                return;
            }
            seen.push(key);
        }
        out.push(entry);
    };
    let input = |a: &Artifact| json!({"digest": a.digest, "name": "inputs/result", "uri": a.name});
    if let Some(api) = api {
        if let Some(src) = &api.ref_source {
            push(
                json!({"digest": src.digest, "name": "task", "uri": src.uri}),
                false,
                &mut out,
            );
        }
        let images = api
            .steps
            .iter()
            .map(|s| &s.image_id)
            .chain(api.sidecar_images.iter());
        for id in images {
            let (repo, alg, hex) = image_dependency(id)?;
            push(
                json!({"digest": {alg: hex}, "uri": format!("oci://{repo}")}),
                true,
                &mut out,
            );
        }
    }
    if alpha4 {
        for a in &artifacts.step_inputs {
            push(input(a), true, &mut out);
        }
        for step in api.iter().flat_map(|a| a.steps.iter()) {
            if let Some(src) = &step.ref_source {
                push(
                    json!({"digest": src.digest, "name": format!("stepAction/{}", step.name), "uri": src.uri}),
                    false,
                    &mut out,
                );
            }
        }
    }
    for a in artifacts.git.iter().chain(artifacts.inputs.iter()) {
        push(input(a), true, &mut out);
    }
    Ok(out)
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
