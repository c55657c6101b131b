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
use crate::collect::PipelineRecord;
use crate::collect::RunRecord;
use crate::collect::api::{ApiTaskRun, RefSource, StepState};
use crate::subjects::PipelineArtifacts;
use crate::subjects::{Artifact, Artifacts, append};

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
        image_materials(&mut materials, api)?;
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
        predicate.insert("materials".into(), materials.iter().map(material).collect());
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
    // Go's omitempty: empty fields of the source are left out.
    let mut config_source = serde_json::Map::new();
    if let Some(src) = ref_source {
        if !src.digest.is_empty() {
            config_source.insert("digest".into(), json!(src.digest));
        }
        if !src.entry_point.is_empty() {
            config_source.insert("entryPoint".into(), src.entry_point.clone().into());
        }
        if !src.uri.is_empty() {
            config_source.insert("uri".into(), src.uri.clone().into());
        }
    }
    let config_source = Value::Object(config_source);
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
    hints: &PipelineArtifacts,
) -> Result<Statement, String> {
    let (own_artifacts, children) = (&hints.own, hints.children.as_slice());
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
    for (rec, _) in children {
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
        for (_, artifacts) in children {
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
    // Without a pipeline spec Chains' BuildConfig is empty: `"tasks": null`.
    let tasks = match &pr.api {
        Some(a) if a.has_pipeline_spec => Value::from(pipeline_tasks(pr)),
        _ => Value::Null,
    };
    predicate.insert("buildConfig".into(), json!({"tasks": tasks}));
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
        predicate.insert("materials".into(), materials.iter().map(material).collect());
    }
    predicate.insert("metadata".into(), metadata.into());
    Ok(Statement {
        type_: STATEMENT_TYPE,
        subject: subjects(&subject_list),
        predicate_type: PREDICATE_TYPE,
        predicate: predicate.into(),
    })
}

/// A material as Go writes it: `digest` is left out when empty.
fn material(m: &Artifact) -> Value {
    if m.digest.is_empty() {
        json!({"uri": m.name})
    } else {
        json!({"digest": m.digest, "uri": m.name})
    }
}

/// A TaskRun's step and sidecar images as materials.
fn image_materials(materials: &mut Vec<Artifact>, tr: &ApiTaskRun) -> Result<(), String> {
    for (name, digest) in tr.image_dependencies()? {
        append(materials, Artifact { name, digest });
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
        let runs: Vec<&ApiTaskRun> = pr
            .children
            .iter()
            .filter(|c| {
                c.labels
                    .as_ref()
                    .and_then(|l| l.get("tekton.dev/pipelineTask"))
                    .map(String::as_str)
                    == Some(name)
            })
            .collect();
        // A task that did not run (skipped) is no one's predecessor.
        if runs.is_empty() {
            continue;
        }
        for child in runs {
            // As Chains: a TaskRun whose resolved spec does not line up with its steps (no
            // spec, another step count, a named spec step shown as `unnamed-N`) is left out.
            let lined_up = child.has_task_spec
                && child.task_spec_steps.len() == child.steps.len()
                && child
                    .task_spec_steps
                    .iter()
                    .zip(&child.steps)
                    .all(|(spec, state)| {
                        !state.name.starts_with("unnamed-")
                            || spec
                                .get("name")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .is_empty()
                    });
            if child.completion_time.is_none() || !lined_up {
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

/// The tasks a pipeline task reads results of: in its params, matrix and when expressions,
/// then in an embedded Task's steps and sidecars (Tekton's `PipelineTaskResultRefs`).
fn result_refs(task: &Value) -> Vec<String> {
    let mut texts = Vec::new();
    for key in ["params", "matrix", "when"] {
        if let Some(v) = task.get(key) {
            texts.push(v.to_string());
        }
    }
    for key in ["steps", "sidecars"] {
        if let Some(v) = task.get("taskSpec").and_then(|t| t.get(key)) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::api;
    use crate::subjects::{Strictness, View};

    /// Type hinting as the run does it, then the statement.
    fn pipelinerun_statement(
        opts: &Options,
        pr: &PipelineRecord,
        strictness: Strictness,
    ) -> Result<Statement, String> {
        let hints =
            crate::subjects::pipelinerun(pr, View::TaskResults, opts.deep_inspection, strictness)
                .map_err(|e| e.to_string())?;
        super::pipelinerun_statement(opts, pr, &hints)
    }

    fn opts(deep: bool) -> Options {
        Options {
            builder_id: "b".into(),
            build_type: "https://tekton.dev/chains/v2/slsa".into(),
            deep_inspection: deep,
        }
    }

    fn child(task: &str, condition: &str, extra_status: &str) -> ApiTaskRun {
        api::parse(
            format!(
                r#"{{"metadata":{{"name":"tr-{task}","uid":"u-{task}",
                  "labels":{{"tekton.dev/pipelineTask":"{task}","tekton.dev/pipelineRun":"pr"}}}},
                "status":{{"startTime":"2021-01-01T00:00:00Z","completionTime":"2021-01-01T00:01:00Z",
                  "conditions":[{{"type":"Succeeded","status":"{condition}"}}],
                  "taskSpec":{{"steps":[{{"name":"s","script":"run"}}]}},
                  "steps":[{{"name":"s","imageID":"r/{task}@sha256:aa"}}]{extra_status}}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    fn record(pipeline_spec: &str, children: Vec<ApiTaskRun>) -> PipelineRecord {
        let api = api::parse_pipelinerun(
            format!(
                r#"{{"metadata":{{"name":"pr","uid":"u"}},"spec":{{"taskRunTemplate":{{"serviceAccountName":"sa"}}}},
                "status":{{{pipeline_spec}}}}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        PipelineRecord {
            name: "pr".into(),
            uid: "u".into(),
            api: Some(api),
            results: vec![],
            children,
            params: vec![],
            started_on: None,
            finished_on: None,
        }
    }

    fn tasks(pr: &PipelineRecord, deep: bool) -> Value {
        let s = pipelinerun_statement(&opts(deep), pr, Strictness::Strict).unwrap();
        s.predicate["buildConfig"]["tasks"].clone()
    }

    #[test]
    fn after_follows_run_after_result_references_and_the_last_task_that_ran() {
        let spec = r#""pipelineSpec":{"tasks":[
            {"name":"a"},
            {"name":"b","runAfter":["a"],"params":[{"name":"x","value":"$(tasks.a.results.r)"}]},
            {"name":"c","taskSpec":{"steps":[{"script":"echo $(tasks.b.results.r)"}]}},
            {"name":"skipped"}],
          "finally":[{"name":"f"}]}"#;
        let pr = record(
            spec,
            vec![
                child("a", "True", ""),
                child("b", "False", ""),
                child("c", "Unknown", ""),
                child("f", "True", ""),
            ],
        );
        let t = tasks(&pr, false);
        let names: Vec<&str> = t
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a", "b", "c", "f"]);
        assert!(t[0].get("after").is_none());
        assert_eq!(t[1]["after"], json!(["a"]));
        assert_eq!(t[2]["after"], json!(["b"]));
        // `skipped` did not run: the finally task comes after the last task that did.
        assert_eq!(t[3]["after"], json!(["c"]));
        let statuses: Vec<&str> = t
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["Succeeded", "Failed", "Running", "Succeeded"]);
        assert_eq!(t[0]["serviceAccountName"], "sa");
        assert_eq!(t[0]["ref"], json!({}));
        assert_eq!(t[0]["steps"][0]["entryPoint"], "run");
    }

    #[test]
    fn runs_that_do_not_line_up_are_left_out_and_no_spec_gives_null() {
        let no_spec = api::parse(
            br#"{"metadata":{"name":"tr-a","uid":"x","labels":{"tekton.dev/pipelineTask":"a"}},
                "status":{"completionTime":"2021-01-01T00:01:00Z","conditions":[{"status":"False"}]}}"#,
        )
        .unwrap();
        let pr = record(r#""pipelineSpec":{"tasks":[{"name":"a"}]}"#, vec![no_spec]);
        assert_eq!(tasks(&pr, false), json!([]));
        let pr = record("", vec![]);
        assert_eq!(tasks(&pr, false), Value::Null);
    }

    #[test]
    fn a_bad_hint_in_a_child_matters_only_with_deep_inspection() {
        let bad = child(
            "a",
            "True",
            r#","results":[{"name":"x-ARTIFACT_OUTPUTS","value":{"uri":"u","digest":"nope"}}]"#,
        );
        let pr = record(r#""pipelineSpec":{"tasks":[{"name":"a"}]}"#, vec![bad]);
        assert!(pipelinerun_statement(&opts(false), &pr, Strictness::Strict).is_ok());
        assert!(pipelinerun_statement(&opts(true), &pr, Strictness::Strict).is_err());
    }

    #[test]
    fn empty_source_fields_are_left_out_as_go_does() {
        let src = RefSource {
            uri: "git+u".into(),
            digest: Default::default(),
            entry_point: String::new(),
        };
        let inv = invocation_of(Some(&src), std::iter::empty(), &None, &None);
        assert_eq!(inv["configSource"], json!({"uri": "git+u"}));
    }
}
