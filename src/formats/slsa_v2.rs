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
use crate::collect::api::{ApiTaskRun, RefSource};
use crate::collect::{PipelineRecord, RunRecord, TaskResult};
use crate::subjects::{
    Artifact, Artifacts, PipelineArtifacts, append, is_build_artifact, is_image_hint,
};

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

    let details = run_details(
        opts,
        byproducts(alpha4, run),
        &run.context.taskrun_uid,
        run.started_on,
        run.finished_on,
    );
    Ok(assemble(&artifacts.subjects, build_definition, details))
}

/// `runDetails`: the builder, byproducts (left out when none) and metadata.
fn run_details(
    opts: &Options,
    byproducts: Vec<Value>,
    invocation_id: &str,
    started_on: Option<std::time::SystemTime>,
    finished_on: Option<std::time::SystemTime>,
) -> serde_json::Map<String, Value> {
    let mut details = serde_json::Map::new();
    // protojson leaves out an empty builder id, so Chains writes `"builder":{}` for it.
    let builder = if opts.builder_id.is_empty() {
        json!({})
    } else {
        json!({"id": opts.builder_id})
    };
    details.insert("builder".into(), builder);
    if !byproducts.is_empty() {
        details.insert("byproducts".into(), byproducts.into());
    }
    let mut metadata = serde_json::Map::new();
    if let Some(t) = finished_on {
        metadata.insert("finishedOn".into(), rfc3339(t).into());
    }
    if !invocation_id.is_empty() {
        metadata.insert("invocationId".into(), invocation_id.into());
    }
    if let Some(t) = started_on {
        metadata.insert("startedOn".into(), rfc3339(t).into());
    }
    details.insert("metadata".into(), metadata.into());
    details
}

fn assemble(
    subject_list: &[Artifact],
    build_definition: serde_json::Map<String, Value>,
    details: serde_json::Map<String, Value>,
) -> Statement {
    Statement {
        type_: STATEMENT_TYPE,
        subject: subjects(subject_list),
        predicate_type: PREDICATE_TYPE,
        predicate: json!({
            "buildDefinition": build_definition,
            "runDetails": details,
        }),
    }
}

/// `buildConfigSource` of a Task or Pipeline resolved remotely. Chains takes the first entry
/// of a Go map, which is random with several digests; the first in sorted order is stable.
fn build_config_source(src: &RefSource) -> Value {
    let reference = src
        .digest
        .iter()
        .next()
        .map(|(alg, hex)| format!("{alg}:{hex}"))
        .unwrap_or_default();
    json!({"path": src.entry_point, "ref": reference, "repository": src.uri})
}

/// `runSpec`, and `buildConfigSource` for a Task resolved remotely.
fn external_parameters(run: &RunRecord) -> Value {
    let Some(api) = &run.api else {
        return json!({"runSpec": run_spec(run)});
    };
    let mut out = serde_json::Map::new();
    out.insert("runSpec".into(), tekton_spec::run_spec(&api.spec));
    if let Some(src) = api.ref_source.as_ref().filter(|_| api.remote_task) {
        out.insert("buildConfigSource".into(), build_config_source(src));
    }
    out.into()
}

/// Feature flags recorded on the TaskRun; `slsa-tekton` adds its labels and annotations.
fn internal_parameters(opts: &Options, api: Option<&ApiTaskRun>) -> Value {
    match api {
        Some(a) => internal(opts, a.feature_flags.as_ref(), &a.labels, &a.annotations),
        None => json!({}),
    }
}

type StringMap = Option<std::collections::BTreeMap<String, String>>;

fn internal(
    opts: &Options,
    flags: Option<&Value>,
    labels: &StringMap,
    annotations: &StringMap,
) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(flags) = flags {
        out.insert(
            "tekton-pipelines-feature-flags".into(),
            tekton_spec::feature_flags(flags),
        );
    }
    if opts.build_type == BUILD_TYPE_TEKTON {
        out.insert("labels".into(), json!(labels));
        out.insert("annotations".into(), json!(annotations));
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
    let mut deps = Deps::default();
    if let Some(api) = api {
        // Chains adds the Task's source after its duplicate pass: it neither drops nor hides.
        if let Some(src) = &api.ref_source {
            deps.push(
                json!({"digest": src.digest, "name": "task", "uri": src.uri}),
                Dedup::Outside,
            );
        }
        images(&mut deps, api)?;
    }
    if alpha4 {
        for a in &artifacts.step_inputs {
            deps.push(input(a), Dedup::Drop);
        }
        step_actions(&mut deps, api);
    }
    for a in artifacts.git.iter().chain(artifacts.inputs.iter()) {
        deps.push(input(a), Dedup::Drop);
    }
    Ok(deps.out)
}

/// How an entry takes part in Chains' duplicate pass over resolved dependencies (same URI,
/// digest and content; the name does not count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dedup {
    /// Dropped when an earlier entry has its key.
    Drop,
    /// Never dropped (`pipeline`, `task`, `stepAction/*` inside the pass), but later entries
    /// with its key are.
    Keep,
    /// Not part of the pass at all.
    Outside,
}

#[derive(Default)]
struct Deps {
    out: Vec<Value>,
    seen: Vec<(Value, Value, Value)>,
}

impl Deps {
    fn push(&mut self, entry: Value, mode: Dedup) {
        let field = |k: &str| entry.get(k).cloned().unwrap_or(Value::Null);
        let key = (field("uri"), field("digest"), field("content"));
        let known = self.seen.contains(&key);
        match mode {
            Dedup::Drop if known => return,
            Dedup::Drop | Dedup::Keep if !known => self.seen.push(key),
            _ => {}
        }
        self.out.push(entry);
    }
}

fn input(a: &Artifact) -> Value {
    json!({"digest": a.digest, "name": "inputs/result", "uri": a.name})
}

/// A TaskRun's step images, then its sidecar images.
fn images(deps: &mut Deps, tr: &ApiTaskRun) -> Result<(), String> {
    for (uri, digest) in tr.image_dependencies()? {
        deps.push(json!({"digest": digest, "uri": uri}), Dedup::Drop);
    }
    Ok(())
}

/// `stepAction/<step>` for each step whose StepAction was resolved remotely.
fn step_actions(deps: &mut Deps, tr: Option<&ApiTaskRun>) {
    for step in tr.iter().flat_map(|a| a.steps.iter()) {
        if let Some(src) = &step.ref_source {
            deps.push(
                json!({"digest": src.digest, "name": format!("stepAction/{}", step.name), "uri": src.uri}),
                Dedup::Keep,
            );
        }
    }
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

/// A PipelineRun's statement (Chains' `pipelinerun` formatters): the PipelineRun's results, and
/// with deep inspection its finished children's, as subjects; the children's sources and
/// images as dependencies.
pub(super) fn pipelinerun_statement(
    alpha4: bool,
    opts: &Options,
    pr: &PipelineRecord,
    hints: &PipelineArtifacts,
) -> Result<Statement, String> {
    let (own_artifacts, children) = (&hints.own, hints.children.as_slice());
    let deep = opts.deep_inspection;

    // Subjects: v2alpha4 the PipelineRun's first, v2alpha3 the children's first.
    let mut subject_list: Vec<Artifact> = Vec::new();
    let child_subjects = children
        .iter()
        .filter(|_| deep)
        .flat_map(|(_, a)| a.subjects.iter());
    if alpha4 {
        for s in own_artifacts.subjects.iter().chain(child_subjects) {
            append(&mut subject_list, s.clone());
        }
    } else {
        for s in child_subjects.chain(own_artifacts.subjects.iter()) {
            append(&mut subject_list, s.clone());
        }
    }

    let api = pr.api.as_ref();
    let mut build_definition = serde_json::Map::new();
    build_definition.insert("buildType".into(), opts.build_type.clone().into());
    let mut external = serde_json::Map::new();
    external.insert(
        "runSpec".into(),
        api.map(|a| tekton_spec::pipeline_run_spec(&a.spec))
            .unwrap_or_else(|| json!({})),
    );
    if let Some(a) = api
        && a.remote_pipeline
        && let Some(src) = &a.ref_source
    {
        external.insert("buildConfigSource".into(), build_config_source(src));
    }
    build_definition.insert("externalParameters".into(), external.into());
    build_definition.insert(
        "internalParameters".into(),
        match api {
            Some(a) => internal(opts, a.feature_flags.as_ref(), &a.labels, &a.annotations),
            None => json!({}),
        },
    );
    let deps = pipeline_dependencies(alpha4, opts, pr, own_artifacts, children)?;
    if !deps.is_empty() {
        build_definition.insert("resolvedDependencies".into(), deps.into());
    }

    let mut byproducts_list: Vec<Value> = Vec::new();
    let entry = |name: String, r: &TaskResult| {
        json!({
            "content": base64::engine::general_purpose::STANDARD
                .encode(go_json::result_value(&r.value)),
            "mediaType": "application/json",
            "name": name,
        })
    };
    if alpha4 {
        let keep = |r: &&TaskResult| !is_image_hint(&r.name) && !is_build_artifact(r);
        for r in pr.results.iter().filter(keep) {
            byproducts_list.push(entry(
                format!("pipelineRunResults/{}/{}", pr.name, r.name),
                r,
            ));
        }
        if deep {
            for (rec, _) in children {
                byproducts_list.extend(byproducts(true, rec));
            }
        }
    } else {
        for r in &pr.results {
            byproducts_list.push(entry(format!("pipelineRunResults/{}", r.name), r));
        }
    }
    let details = run_details(
        opts,
        byproducts_list,
        &pr.uid,
        pr.started_on,
        pr.finished_on,
    );
    Ok(assemble(&subject_list, build_definition, details))
}

/// Chains' order for a PipelineRun: the Pipeline's source; per child its source
/// (`pipelineTask`), remote StepActions (v2alpha4) and images; the children's step inputs
/// (v2alpha4, deep inspection); then the inputs: the PipelineRun's `*ARTIFACT_INPUTS`, the
/// children's git and inputs (deep inspection), the PipelineRun's git.
fn pipeline_dependencies(
    alpha4: bool,
    opts: &Options,
    pr: &PipelineRecord,
    own: &Artifacts,
    children: &[(RunRecord, Artifacts)],
) -> Result<Vec<Value>, String> {
    let deep = opts.deep_inspection;
    let mut deps = Deps::default();
    if let Some(src) = pr.api.as_ref().and_then(|a| a.ref_source.as_ref()) {
        deps.push(
            json!({"digest": src.digest, "name": "pipeline", "uri": src.uri}),
            Dedup::Keep,
        );
    }
    for (rec, _) in children {
        let child = rec.api.as_ref().expect("children come from the API");
        let tekton = opts.build_type == BUILD_TYPE_TEKTON;
        if tekton || child.ref_source.is_some() {
            let mut e = serde_json::Map::new();
            e.insert("name".into(), "pipelineTask".into());
            if let Some(src) = &child.ref_source {
                e.insert("uri".into(), src.uri.clone().into());
                e.insert("digest".into(), json!(src.digest));
            }
            if tekton {
                e.insert(
                    "content".into(),
                    base64::engine::general_purpose::STANDARD
                        .encode(child.object_json.as_bytes())
                        .into(),
                );
            }
            deps.push(e.into(), Dedup::Drop);
        }
        if alpha4 {
            step_actions(&mut deps, Some(child));
        }
        images(&mut deps, child)?;
    }
    if alpha4 && deep {
        for (_, artifacts) in children {
            for a in &artifacts.step_inputs {
                deps.push(input(a), Dedup::Drop);
            }
        }
    }
    let mut inputs: Vec<Artifact> = Vec::new();
    for a in &own.inputs {
        append(&mut inputs, a.clone());
    }
    if deep {
        for (_, artifacts) in children {
            for a in artifacts.git.iter().chain(artifacts.inputs.iter()) {
                append(&mut inputs, a.clone());
            }
        }
    }
    // The PipelineRun's git checkout counts only with both a URL and a commit.
    if let Some(git) = own.git.as_ref().filter(|g| g.name != "git+.git") {
        append(&mut inputs, git.clone());
    }
    for a in &inputs {
        deps.push(input(a), Dedup::Drop);
    }
    Ok(deps.out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::api;
    use crate::subjects::{Strictness, View};

    /// Type hinting as the run does it, then the statement.
    fn pipelinerun_statement(
        alpha4: bool,
        opts: &Options,
        pr: &PipelineRecord,
        strictness: Strictness,
    ) -> Result<Statement, String> {
        let view = if alpha4 {
            View::BuildArtifacts
        } else {
            View::TaskResults
        };
        let hints = crate::subjects::pipelinerun(pr, view, opts.deep_inspection, strictness)
            .map_err(|e| e.to_string())?;
        super::pipelinerun_statement(alpha4, opts, pr, &hints)
    }

    fn opts() -> Options {
        Options {
            builder_id: "b".into(),
            build_type: "https://tekton.dev/chains/v2/slsa".into(),
            deep_inspection: true,
        }
    }

    fn deps(statement: &Statement) -> Vec<Value> {
        statement.predicate["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    const SRC: &str =
        r#"{"uri":"git+https://g/r.git","digest":{"sha1":"c0"},"entryPoint":"p.yaml"}"#;

    /// Chains' duplicate pass remembers `pipeline` and `stepAction/*` entries: later entries
    /// from the same repository and commit are dropped.
    #[test]
    fn kept_entries_still_hide_later_duplicates() {
        let pr = api::parse_pipelinerun(
            format!(
                r#"{{"metadata":{{"name":"pr","uid":"u"}},"spec":{{}},
                "status":{{"provenance":{{"refSource":{SRC}}},
                  "pipelineSpec":{{"tasks":[{{"name":"t"}}]}}}}}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        let child = api::parse(
            format!(
                r#"{{"metadata":{{"name":"c","uid":"cu"}},"status":{{"completionTime":"2021-01-01T00:00:00Z",
                "provenance":{{"refSource":{SRC}}},
                "steps":[{{"name":"s","imageID":"r@sha256:aa","provenance":{{"refSource":{SRC}}}}}]}}}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        let record = PipelineRecord {
            name: "pr".into(),
            uid: "u".into(),
            api: Some(pr),
            results: vec![],
            children: vec![child.clone()],
            params: vec![
                ("CHAINS-GIT_URL".into(), "https://g/r".into()),
                ("CHAINS-GIT_COMMIT".into(), "c0".into()),
            ],
            started_on: None,
            finished_on: None,
        };
        let s = pipelinerun_statement(true, &opts(), &record, Strictness::Strict).unwrap();
        let names: Vec<String> = deps(&s)
            .iter()
            .map(|d| {
                d.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_owned()
            })
            .collect();
        // pipelineTask and the git input repeat the pipeline's source: dropped; the StepAction
        // entry is kept all the same.
        assert_eq!(names, ["pipeline", "stepAction/s", "-"]);

        // A TaskRun: the git input repeats the remote StepAction's source.
        let mut run = RunRecord::from_api(&child);
        run.params = record.params.clone();
        let artifacts =
            crate::subjects::subjects(&run, View::BuildArtifacts, Strictness::Strict).unwrap();
        let s = statement(true, &opts(), &run, &artifacts).unwrap();
        let names: Vec<String> = deps(&s)
            .iter()
            .map(|d| {
                d.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_owned()
            })
            .collect();
        assert_eq!(names, ["task", "-", "stepAction/s"]);
    }
}
