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
use crate::collect::api::{ApiTaskRun, RefSource, StepState, image_dependency};
use crate::collect::{PipelineRecord, RunRecord as ChildRecord};
use crate::subjects::{Artifact, Artifacts, append};
use crate::subjects::{Strictness, View};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v0.1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v0.2";
pub const BUILD_TYPE: &str = "tekton.dev/v1/TaskRun";
pub const PIPELINE_BUILD_TYPE: &str = "tekton.dev/v1/PipelineRun";

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
    invocation_of(
        api.ref_source.as_ref(),
        api.param_defaults.iter().chain(api.params.iter()),
        &api.labels,
        &api.annotations,
    )
}

type StringMap = Option<std::collections::BTreeMap<String, String>>;

/// Chains' `attest.Invocation` for a TaskRun or PipelineRun.
fn invocation_of<'a>(
    ref_source: Option<&RefSource>,
    params: impl Iterator<Item = &'a (String, Value)>,
    labels: &StringMap,
    annotations: &StringMap,
) -> Value {
    let mut parameters = serde_json::Map::new();
    for (name, value) in params {
        parameters.insert(name.clone(), value.clone());
    }
    let config_source = match ref_source {
        Some(src) => json!({"digest": src.digest, "entryPoint": src.entry_point, "uri": src.uri}),
        None => json!({}),
    };
    let mut out = serde_json::Map::new();
    out.insert("configSource".into(), config_source);
    out.insert("parameters".into(), parameters.into());
    let mut environment = serde_json::Map::new();
    let annotations: serde_json::Map<String, Value> = annotations
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
    if let Some(labels) = labels.as_ref().filter(|l| !l.is_empty()) {
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
            step_entry(spec, state)
        })
        .collect()
}

/// Chains' `StepAttestation`: the spec's script (or command) and args, the container and image.
fn step_entry(spec: Option<&Value>, state: &StepState) -> Value {
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
}

/// A PipelineRun's slsa/v1 statement (Chains' `v1/pipelinerun`): one `buildConfig.tasks` entry
/// per finished TaskRun in the Pipeline's order, the children's images and sources as
/// materials, subjects as slsa/v2alpha3 finds them.
pub(super) fn pipelinerun_statement(
    opts: &Options,
    pr: &PipelineRecord,
    strictness: Strictness,
) -> Result<Statement, String> {
    let hints = |r: &ChildRecord| {
        crate::subjects::subjects(r, View::TaskResults, strictness).map_err(|e| e.to_string())
    };
    let own = ChildRecord {
        context: crate::collect::RunContext {
            taskrun_name: pr.name.clone(),
            taskrun_uid: pr.uid.clone(),
            ..Default::default()
        },
        results: pr.results.clone(),
        step_results: Vec::new(),
        params: pr.params.clone(),
        started_on: pr.started_on,
        finished_on: pr.finished_on,
        api: None,
    };
    let own_artifacts = hints(&own)?;
    let children: Vec<(ChildRecord, Artifacts)> = pr
        .children
        .iter()
        .map(|c| {
            let rec = ChildRecord::from_api(c);
            hints(&rec).map(|a| (rec, a))
        })
        .collect::<Result<_, _>>()?;
    let deep = opts.deep_inspection;

    // Subjects: the children's first (deep inspection), then the PipelineRun's.
    let mut subject_list: Vec<Artifact> = Vec::new();
    for s in children
        .iter()
        .filter(|_| deep)
        .flat_map(|(_, a)| a.subjects.iter())
        .chain(own_artifacts.subjects.iter())
    {
        append(&mut subject_list, s.clone());
    }

    // Materials: the Pipeline's source; each child's images and source; then the inputs.
    let mut materials: Vec<Artifact> = Vec::new();
    let api = pr.api.as_ref();
    let source = |src: &RefSource| Artifact {
        name: src.uri.clone(),
        digest: src.digest.clone(),
    };
    if let Some(src) = api.and_then(|a| a.ref_source.as_ref()) {
        append(&mut materials, source(src));
    }
    for (rec, _) in &children {
        let child = rec.api.as_ref().expect("children come from the API");
        image_materials(&mut materials, child)?;
        if let Some(src) = &child.ref_source {
            append(&mut materials, source(src));
        }
    }
    for a in &own_artifacts.inputs {
        append(&mut materials, a.clone());
    }
    if deep {
        for (_, artifacts) in &children {
            for a in artifacts.git.iter().chain(artifacts.inputs.iter()) {
                append(&mut materials, a.clone());
            }
        }
    }
    if let Some(git) = own_artifacts.git.as_ref().filter(|g| g.name != "git+.git") {
        append(&mut materials, git.clone());
    }

    let mut metadata = serde_json::Map::new();
    if let Some(t) = pr.finished_on {
        metadata.insert("buildFinishedOn".into(), rfc3339(t).into());
    }
    if let Some(t) = pr.started_on {
        metadata.insert("buildStartedOn".into(), rfc3339(t).into());
    }
    metadata.insert(
        "completeness".into(),
        json!({"environment": false, "materials": false, "parameters": false}),
    );
    let reproducible = api
        .and_then(|a| a.labels.as_ref())
        .and_then(|l| l.get(REPRODUCIBLE_LABEL))
        .is_some_and(|v| v == "true");
    metadata.insert("reproducible".into(), reproducible.into());

    let mut predicate = serde_json::Map::new();
    predicate.insert("buildConfig".into(), json!({"tasks": pipeline_tasks(pr)}));
    predicate.insert("buildType".into(), PIPELINE_BUILD_TYPE.into());
    predicate.insert("builder".into(), json!({"id": opts.builder_id}));
    let invocation = match api {
        Some(a) => invocation_of(
            a.ref_source.as_ref(),
            a.param_defaults.iter().chain(a.params.iter()),
            &a.labels,
            &a.annotations,
        ),
        None => {
            let parameters: serde_json::Map<String, Value> = pr
                .params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            json!({"configSource": {}, "parameters": parameters})
        }
    };
    predicate.insert("invocation".into(), invocation);
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
        subject: subjects(&subject_list),
        predicate_type: PREDICATE_TYPE,
        predicate: predicate.into(),
    })
}

/// A TaskRun's step and sidecar images as materials.
fn image_materials(materials: &mut Vec<Artifact>, tr: &ApiTaskRun) -> Result<(), String> {
    let ids = tr
        .steps
        .iter()
        .map(|s| (&s.name, &s.image_id))
        .chain(tr.sidecar_images.iter().map(|(n, id)| (n, id)));
    for (name, id) in ids {
        let (repo, alg, hex) = image_dependency(id)
            .map_err(|e| format!("TaskRun {}, container {name}: {e}", tr.name))?;
        append(
            materials,
            Artifact {
                name: format!("oci://{repo}"),
                digest: [(alg, hex)].into(),
            },
        );
    }
    Ok(())
}

/// `buildConfig.tasks`: per pipeline task (tasks, then finally), each finished TaskRun whose
/// resolved spec has as many steps as its status, with what ran after what.
fn pipeline_tasks(pr: &PipelineRecord) -> Vec<Value> {
    let Some(api) = &pr.api else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut last = String::new();
    for (task, is_finally) in &api.pipeline_tasks {
        let name = task.get("name").and_then(Value::as_str).unwrap_or("");
        for child in pr.children.iter().filter(|c| {
            c.labels
                .as_ref()
                .and_then(|l| l.get("tekton.dev/pipelineTask"))
                .map(String::as_str)
                == Some(name)
        }) {
            if child.completion_time.is_none() || child.task_spec_steps.len() != child.steps.len() {
                continue;
            }
            let mut after: Vec<String> = task
                .get("runAfter")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            for referenced in result_refs(task) {
                if !after.contains(&referenced) {
                    after.push(referenced);
                }
            }
            if after.is_empty() && *is_finally && !last.is_empty() {
                after.push(last.clone());
            }
            let steps: Vec<Value> = child
                .task_spec_steps
                .iter()
                .zip(child.steps.iter())
                .map(|(spec, state)| step_entry(Some(spec), state))
                .collect();
            let mut entry = serde_json::Map::new();
            entry.insert("name".into(), name.into());
            if !after.is_empty() {
                entry.insert("after".into(), json!(after));
            }
            entry.insert(
                "ref".into(),
                task.get("taskRef").cloned().unwrap_or_else(|| json!({})),
            );
            if let Some(t) = child.start_time {
                entry.insert("startedOn".into(), rfc3339(t).into());
            }
            if let Some(t) = child.completion_time {
                entry.insert("finishedOn".into(), rfc3339(t).into());
            }
            if !api.service_account.is_empty() {
                entry.insert(
                    "serviceAccountName".into(),
                    api.service_account.clone().into(),
                );
            }
            let status = match child.condition.as_str() {
                "True" => "Succeeded",
                "False" => "Failed",
                "Unknown" => "Running",
                _ => "",
            };
            if !status.is_empty() {
                entry.insert("status".into(), status.into());
            }
            if !steps.is_empty() {
                entry.insert("steps".into(), steps.into());
            }
            entry.insert(
                "invocation".into(),
                invocation_of(
                    child.ref_source.as_ref(),
                    child.param_defaults.iter().chain(child.params.iter()),
                    &child.labels,
                    &child.annotations,
                ),
            );
            if !child.results_json.is_empty() {
                entry.insert("results".into(), child.results_json.clone().into());
            }
            out.push(entry.into());
        }
        if !is_finally {
            last = name.to_owned();
        }
    }
    out
}

/// The tasks a pipeline task reads results of, in its params, matrix and when expressions.
fn result_refs(task: &Value) -> Vec<String> {
    let mut texts = Vec::new();
    for key in ["params", "matrix", "when"] {
        if let Some(v) = task.get(key) {
            texts.push(v.to_string());
        }
    }
    let mut out: Vec<String> = Vec::new();
    for text in texts {
        let mut rest = text.as_str();
        while let Some(i) = rest.find("$(tasks.") {
            rest = &rest[i + "$(tasks.".len()..];
            if let Some((name, after)) = rest.split_once('.')
                && after.starts_with("results.")
                && !out.iter().any(|n| n == name)
            {
                out.push(name.to_owned());
            }
        }
    }
    out
}
