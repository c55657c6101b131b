//! `slsa/v1` (and its alias `in-toto`): in-toto Statement v0.1 with a SLSA v0.2 predicate and
//! buildType `tekton.dev/v1/TaskRun`.
//!
//! Subjects, the git material and `*ARTIFACT_INPUTS` materials come from results exactly as in
//! Chains. With the TaskRun from the API: one `buildConfig` step per step with its image, the
//! step and sidecar images as materials, `configSource` from `refSource`, `parameters` from the
//! spec and the Task's defaults, and labels and annotations as `environment`. Without it,
//! `parameters` holds the `--param` values and those parts are empty.

use serde_json::{Value, json};

use super::{Options, Statement, rfc3339, subjects};
use crate::collect::RunRecord;
use crate::collect::api::{ApiTaskRun, image_dependency};
use crate::subjects::{Artifact, Artifacts, append};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v0.1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v0.2";
pub const BUILD_TYPE: &str = "tekton.dev/v1/TaskRun";

/// Chains sets `reproducible` from this label (an annotation does not count).
const REPRODUCIBLE_LABEL: &str = "chains.tekton.dev/reproducible";

pub(super) fn statement(
    opts: &Options,
    run: &RunRecord,
    artifacts: &Artifacts,
) -> Result<Statement, String> {
    let mut materials: Vec<Artifact> = Vec::new();
    if let Some(api) = &run.api {
        let ids = api
            .steps
            .iter()
            .map(|s| (&s.name, &s.image_id))
            .chain(api.sidecar_images.iter().map(|(n, id)| (n, id)));
        for (name, id) in ids {
            let (repo, alg, hex) = image_dependency(id)
                .map_err(|e| format!("TaskRun {}, container {name}: {e}", api.name))?;
            append(
                &mut materials,
                Artifact {
                    name: format!("oci://{repo}"),
                    digest: [(alg, hex)].into(),
                },
            );
        }
    }
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
    let reproducible = run
        .api
        .as_ref()
        .and_then(|a| a.labels.as_ref())
        .and_then(|l| l.get(REPRODUCIBLE_LABEL))
        .is_some_and(|v| v == "true");
    metadata.insert("reproducible".into(), reproducible.into());

    let mut predicate = serde_json::Map::new();
    predicate.insert(
        "buildConfig".into(),
        json!({"steps": build_steps(run.api.as_ref())}),
    );
    predicate.insert("buildType".into(), BUILD_TYPE.into());
    predicate.insert("builder".into(), json!({"id": opts.builder_id}));
    predicate.insert("invocation".into(), invocation(run));
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

    Ok(Statement {
        type_: STATEMENT_TYPE,
        subject: subjects(&artifacts.subjects),
        predicate_type: PREDICATE_TYPE,
        predicate: predicate.into(),
    })
}

/// `configSource`, `parameters` (the Task's defaults, then the TaskRun's params) and
/// `environment` (labels, and annotations other than Chains' own and kubectl's).
fn invocation(run: &RunRecord) -> Value {
    let Some(api) = &run.api else {
        let parameters: serde_json::Map<String, Value> = run
            .params
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        return json!({"configSource": {}, "parameters": parameters});
    };
    let mut parameters = serde_json::Map::new();
    for (name, value) in api.param_defaults.iter().chain(api.params.iter()) {
        parameters.insert(name.clone(), value.clone());
    }
    let config_source = match &api.ref_source {
        Some(src) => json!({"digest": src.digest, "entryPoint": src.entry_point, "uri": src.uri}),
        None => json!({}),
    };
    let mut out = serde_json::Map::new();
    out.insert("configSource".into(), config_source);
    out.insert("parameters".into(), parameters.into());
    let mut environment = serde_json::Map::new();
    let annotations: serde_json::Map<String, Value> = api
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| {
            k.as_str() != "kubectl.kubernetes.io/last-applied-configuration"
                && !k.starts_with("chains.tekton.dev/")
        })
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    if !annotations.is_empty() {
        environment.insert("annotations".into(), annotations.into());
    }
    if let Some(labels) = api.labels.as_ref().filter(|l| !l.is_empty()) {
        environment.insert("labels".into(), json!(labels));
    }
    if !environment.is_empty() {
        out.insert("environment".into(), environment.into());
    }
    out.into()
}

/// One entry per step: its script (or command) and args from the resolved Task spec, its
/// container name and image.
fn build_steps(api: Option<&ApiTaskRun>) -> Vec<Value> {
    let Some(api) = api else {
        return Vec::new();
    };
    api.steps
        .iter()
        .map(|state| {
            let spec = api
                .task_spec_steps
                .iter()
                .find(|s| s.get("name").and_then(Value::as_str) == Some(state.name.as_str()));
            let script = spec
                .and_then(|s| s.get("script"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let entry_point = if script.is_empty() {
                spec.and_then(|s| s.get("command"))
                    .and_then(Value::as_array)
                    .map(|c| {
                        c.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default()
            } else {
                script.to_owned()
            };
            let arguments = spec
                .and_then(|s| s.get("args"))
                .cloned()
                .unwrap_or(Value::Null);
            let image = state
                .image_id
                .strip_prefix("docker-pullable://")
                .unwrap_or(&state.image_id);
            json!({
                "annotations": null,
                "arguments": arguments,
                "entryPoint": entry_point,
                "environment": {"container": state.name, "image": format!("oci://{image}")},
            })
        })
        .collect()
}
