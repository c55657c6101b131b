//! The PipelineRun's side of collect, from a `finally` Task.
//!
//! With the Kubernetes API (a Role allowing `get` on `pipelineruns` and `taskruns`), the
//! PipelineRun and its finished child TaskRuns are read as Chains reads them; the PipelineRun's
//! results, which Tekton sets only once the run is over, are computed from the Pipeline's
//! result declarations and the children's results. Without it, the results come from
//! `--pipeline-result` (the finally Task's params, e.g. `IMAGE_URL=$(tasks.build.results.IMAGE_URL)`).

use super::api::{self, ApiPipelineRun, ApiTaskRun};
use super::taskrun::{cli_params, merged_params, run_times, same_uid};
use super::{PipelineRecord, ResultValue, TaskResult};
use crate::Failure;
use crate::cli::{AttestArgs, TaskRunApi};
use crate::kube::Kube;

/// The PipelineRun, its finished children and its results; `deep` (deep inspection) makes
/// the API read required.
pub fn collect(
    args: &AttestArgs,
    kube: Option<&Kube>,
    deep: bool,
) -> Result<PipelineRecord, Failure> {
    let passed = passed_results(
        args.pipeline_results
            .iter()
            .map(|s| ("--pipeline-result", s))
            .chain(args.pipeline_result_args.iter().map(|s| ("after --", s))),
    )?;
    let cli_params = cli_params(args)?;
    let (api, children) = match kube {
        Some(k) => read_api(k, args, deep)?,
        None => (None, Vec::new()),
    };
    if deep && api.is_none() {
        return Err(Failure::run(
            "artifacts.pipelinerun.enable-deep-inspection needs the child TaskRuns from the \
             Kubernetes API, and reading the PipelineRun was refused",
        ));
    }
    let mut results: Vec<TaskResult> = match &api {
        Some(a) if !a.results.is_empty() => a.results.clone(),
        Some(a) => {
            let by_task: Vec<(String, &ApiTaskRun)> = children
                .iter()
                .map(|(task, tr)| (task.clone(), tr))
                .collect();
            api::resolve_pipeline_results(&a.result_specs, &by_task)
        }
        None => Vec::new(),
    };
    // What the API shows wins over what was passed: a passed value is one task's result
    // text, read line by line, and only fills in names the Pipeline's own results lack.
    let mut given: Vec<String> = Vec::new();
    for (origin, r) in passed {
        if given.contains(&r.name) {
            let hint = if origin == "--pipeline-result" {
                " (a value with a line break splits into several entries)"
            } else {
                ""
            };
            return Err(Failure::usage(format!(
                "PipelineRun result {} ({origin}): given twice{hint}",
                r.name
            )));
        }
        given.push(r.name.clone());
        if results.iter().any(|have| have.name == r.name) {
            tracing::info!(result = %r.name, "computed from the PipelineRun; the passed value is not used");
            continue;
        }
        results.push(r);
    }
    let params = merged_params(
        api.iter()
            .flat_map(|a| a.param_defaults.iter().chain(a.params.iter())),
        cli_params,
    );
    let (started_on, finished_on) = run_times(
        args,
        api.as_ref().and_then(|a| a.start_time),
        api.as_ref().and_then(|a| a.completion_time),
    )?;
    Ok(PipelineRecord {
        name: args.pipelinerun_name.clone(),
        uid: args.pipelinerun_uid.clone(),
        api,
        results,
        children: children.into_iter().map(|(_, tr)| tr).collect(),
        params,
        started_on,
        finished_on: Some(finished_on),
    })
}

/// `--pipeline-result NAME=VALUE`: a JSON object or array of strings is an object or array
/// result, anything else a string, as result files are read.
fn passed_results<'a>(
    specs: impl Iterator<Item = (&'static str, &'a String)>,
) -> Result<Vec<(&'static str, TaskResult)>, Failure> {
    let mut out = Vec::new();
    for (origin, s) in specs.filter(|(_, s)| !s.trim().is_empty()) {
        let (name, value) = s
            .split_once('=')
            .ok_or_else(|| Failure::usage(format!("{origin} {s:?}: expected NAME=VALUE")))?;
        let value = match serde_json::from_str::<serde_json::Value>(value) {
            Ok(serde_json::Value::Array(a)) if a.iter().all(|v| v.is_string()) => {
                ResultValue::Array(
                    a.into_iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                )
            }
            Ok(serde_json::Value::Object(o)) if o.values().all(|v| v.is_string()) => {
                ResultValue::Object(
                    o.into_iter()
                        .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
                        .collect(),
                )
            }
            _ => ResultValue::String(value.to_owned()),
        };
        out.push((
            origin,
            TaskResult {
                name: name.to_owned(),
                value,
            },
        ));
    }
    Ok(out)
}

type Children = Vec<(String, ApiTaskRun)>;

/// The PipelineRun and its finished child TaskRuns in the Pipeline's task order. A refused read
/// of the PipelineRun is a warning in `auto` mode unless something needs it.
fn read_api(
    kube: &Kube,
    args: &AttestArgs,
    required: bool,
) -> Result<(Option<ApiPipelineRun>, Children), Failure> {
    let body = match kube.get_pipelinerun(&args.pipelinerun_name) {
        Ok(b) => b,
        Err(e) if !required && args.taskrun_api == TaskRunApi::Auto => {
            tracing::warn!("{e}; going on with the results passed to this step");
            return Ok((None, Vec::new()));
        }
        Err(e) => return Err(Failure::run(e)),
    };
    let pr = api::parse_pipelinerun(&body).map_err(|e| {
        Failure::run(format!(
            "PipelineRun {}/{} from the API: {e}",
            kube.namespace(),
            args.pipelinerun_name
        ))
    })?;
    same_uid(
        "PipelineRun",
        kube,
        &args.pipelinerun_name,
        &pr.uid,
        "--pipelinerun-uid",
        &args.pipelinerun_uid,
    )?;
    let mut fetched: Vec<(String, ApiTaskRun)> = Vec::new();
    for (name, task) in &pr.child_taskruns {
        // This step's own TaskRun is still running: like every unfinished child, it is left
        // out (Chains, signing after the run, would include it).
        if *name == args.taskrun_name {
            continue;
        }
        let body = match kube.get_taskrun(name) {
            Ok(b) => b,
            // Without deep inspection a child adds only its source and images: a child that
            // is gone (pruned) or unreadable is left out with a warning in auto mode.
            Err(e) if !required && args.taskrun_api == TaskRunApi::Auto => {
                tracing::warn!("{e}; TaskRun {name} left out of the PipelineRun's provenance");
                continue;
            }
            Err(e) => return Err(Failure::run(e)),
        };
        let tr = api::parse(&body).map_err(|e| {
            Failure::run(format!(
                "TaskRun {}/{name} from the API: {e}",
                kube.namespace()
            ))
        })?;
        let owner = tr
            .labels
            .as_ref()
            .and_then(|l| l.get("tekton.dev/pipelineRun"))
            .map(String::as_str);
        if owner != Some(args.pipelinerun_name.as_str()) {
            tracing::warn!(
                taskrun = %name,
                "not labelled tekton.dev/pipelineRun={}: another run took the name; left out",
                args.pipelinerun_name
            );
            continue;
        }
        if tr.completion_time.is_none() {
            tracing::info!(taskrun = %name, "not finished: left out of the PipelineRun's provenance");
            continue;
        }
        fetched.push((task.clone(), tr));
    }
    // Chains walks the Pipeline's tasks, then its finally tasks.
    let mut children: Children = Vec::new();
    for task in &pr.task_order {
        for (t, tr) in fetched.iter().filter(|(t, _)| t == task) {
            children.push((t.clone(), tr.clone()));
        }
    }
    tracing::info!(
        children = children.len(),
        "read the PipelineRun and its finished TaskRuns from the Kubernetes API"
    );
    Ok((Some(pr), children))
}
