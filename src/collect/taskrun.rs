//! The TaskRun's side of collect: what the pod sees (results, step results, flags), joined
//! with the TaskRun from the Kubernetes API when the pod may read it, into a [`RunRecord`].

use std::path::Path;
use std::time::SystemTime;

use super::api::ApiTaskRun;
use super::{RunContext, RunRecord};
use crate::Failure;
use crate::cli::{AttestArgs, TaskRunApi};
use crate::kube::Kube;

/// The TaskRun's record: the pod's results, the flags' context and params, and (through
/// `kube`, when given) the TaskRun from the API; `api_required` makes a failed read an error.
pub fn collect(
    args: &AttestArgs,
    kube: Option<&Kube>,
    api_required: bool,
) -> Result<RunRecord, Failure> {
    super::check_uid(&args.taskrun_uid).map_err(Failure::usage)?;
    super::check_name(&args.taskrun_name).map_err(Failure::usage)?;
    let cli_params = cli_params(args)?;
    let api = match kube {
        Some(k) => fetch_taskrun(k, args, api_required)?,
        None => None,
    };
    // CHAINS-GIT_* params: the Task's defaults, then the TaskRun's params, then --param.
    let params = merged_params(
        api.iter()
            .flat_map(|a| a.param_defaults.iter().chain(a.params.iter())),
        cli_params,
    );
    let (started_on, finished_on) = run_times(
        args,
        api.as_ref()
            .and_then(|a| a.start_time)
            .or_else(|| super::results_dir_birth(&args.results_dir)),
        api.as_ref().and_then(|a| a.completion_time),
    )?;
    // Results never come from the directories that hold chainlet's own secrets and config.
    let mut inputs: Vec<&Path> = vec![&args.signing_secrets];
    if let Some(dir) = &args.config_dir {
        inputs.push(dir);
    }
    let forbidden: &[&Path] = &inputs;
    let mut budget = super::Budget::default();
    let mut results =
        super::read_results(&args.results_dir, forbidden, &mut budget).map_err(Failure::run)?;
    let mut step_results =
        super::read_step_results(&args.steps_dir, forbidden, &mut budget).map_err(Failure::run)?;
    // Workspace subjects, before anything is signed or stored: a path that breaks the
    // confinement fails the run here.
    let workspace = super::workspace::collect(args)?;
    // A finished TaskRun's results are in its status; the files in this pod win.
    if let Some(api) = &api {
        for r in &api.results {
            if !results.iter().any(|have| have.name == r.name) {
                results.push(r.clone());
            }
        }
        for s in &api.step_results {
            if !step_results.iter().any(|have| have.step == s.step) {
                step_results.push(s.clone());
            }
        }
    }
    Ok(RunRecord {
        context: RunContext {
            taskrun_name: args.taskrun_name.clone(),
            taskrun_uid: args.taskrun_uid.clone(),
            namespace: args.namespace.clone(),
            task_name: args.task_name.clone(),
            pipelinerun_name: args.pipelinerun_name.clone(),
            pipelinerun_uid: args.pipelinerun_uid.clone(),
        },
        results,
        step_results,
        params,
        started_on,
        finished_on: Some(finished_on),
        api,
        workspace,
    })
}

/// `--param NAME=VALUE` values, in order (blank entries of the environment form skipped).
pub(super) fn cli_params(args: &AttestArgs) -> Result<Vec<(String, String)>, Failure> {
    args.params
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| Failure::usage(format!("--param {p:?}: expected NAME=VALUE")))
        })
        .collect()
}

/// String params for `CHAINS-GIT_*`, in precedence order (later wins), then `--param`.
pub(super) fn merged_params<'a>(
    recorded: impl Iterator<Item = &'a (String, serde_json::Value)>,
    cli: Vec<(String, String)>,
) -> Vec<(String, String)> {
    recorded
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
        .chain(cli)
        .collect()
}

/// Start and finish: the flags, else what the run recorded, else (finish) now.
pub(super) fn run_times(
    args: &AttestArgs,
    recorded_start: Option<SystemTime>,
    recorded_finish: Option<SystemTime>,
) -> Result<(Option<SystemTime>, SystemTime), Failure> {
    let started_on = match &args.started_on {
        Some(s) => Some(parse_time("--started-on", s)?),
        None => recorded_start,
    };
    let finished_on = match &args.finished_on {
        Some(s) => parse_time("--finished-on", s)?,
        None => recorded_finish.unwrap_or_else(SystemTime::now),
    };
    if let Some(start) = started_on
        && start > finished_on
    {
        let (from_flags, start_src, finish_src) =
            match (args.started_on.is_some(), args.finished_on.is_some()) {
                (true, true) => (true, "--started-on", "--finished-on"),
                (true, false) => (false, "--started-on", "the recorded finish (or now)"),
                (false, true) => (false, "the recorded start", "--finished-on"),
                (false, false) => (false, "the recorded start", "the recorded finish (or now)"),
            };
        let message = format!(
            "{start_src} ({}) is after {finish_src} ({})",
            crate::time::format_rfc3339_seconds(start),
            crate::time::format_rfc3339_seconds(finished_on)
        );
        return Err(if from_flags {
            Failure::usage(message)
        } else {
            Failure::run(message)
        });
    }
    Ok((started_on, finished_on))
}

fn parse_time(flag: &str, s: &str) -> Result<SystemTime, Failure> {
    crate::time::parse_rfc3339(s)
        .map_err(|e| Failure::usage(format!("{flag} {s:?}: not an RFC 3339 time: {e}")))
}

/// The TaskRun from the API: `None` when reading it is refused and nothing requires it.
fn fetch_taskrun(
    kube: &Kube,
    args: &AttestArgs,
    required: bool,
) -> Result<Option<ApiTaskRun>, Failure> {
    let body = match kube.get_taskrun(&args.taskrun_name) {
        Ok(b) => b,
        Err(e) if !required && args.taskrun_api == TaskRunApi::Auto => {
            tracing::warn!(
                "{e}; going on with what the pod sees (no step images, spec or labels in the payload)"
            );
            return Ok(None);
        }
        Err(e) => return Err(Failure::run(e)),
    };
    let api = super::api::parse(&body).map_err(|e| {
        Failure::run(format!(
            "TaskRun {}/{} from the API: {e}",
            kube.namespace(),
            args.taskrun_name
        ))
    })?;
    same_uid(
        "TaskRun",
        kube,
        &args.taskrun_name,
        &api.uid,
        "--taskrun-uid",
        &args.taskrun_uid,
    )?;
    let mut api = api;
    if api.completion_time.is_none() {
        // The TaskRun is still running (chainlet is one of its steps): steps after this one
        // have not started and have no image yet. They are left out, not guessed.
        let waiting: Vec<String> = api
            .steps
            .iter()
            .filter(|s| s.image_id.is_empty())
            .map(|s| s.name.clone())
            .chain(
                api.sidecar_images
                    .iter()
                    .filter(|(_, id)| id.is_empty())
                    .map(|(n, _)| n.clone()),
            )
            .collect();
        if !waiting.is_empty() {
            tracing::warn!(
                containers = ?waiting,
                "not started yet, so without an image digest: left out of the provenance"
            );
            api.steps.retain(|s| !s.image_id.is_empty());
            api.sidecar_images.retain(|(_, id)| !id.is_empty());
        }
    }
    tracing::info!(
        steps = api.steps.len(),
        "read the TaskRun from the Kubernetes API"
    );
    Ok(Some(api))
}

/// The run read from the API must be the one this step belongs to: a name can be reused.
pub(super) fn same_uid(
    kind: &str,
    kube: &Kube,
    name: &str,
    found: &str,
    flag: &str,
    given: &str,
) -> Result<(), Failure> {
    if found == given {
        return Ok(());
    }
    Err(Failure::run(format!(
        "{kind} {}/{name} has UID {found:?} in the API, not {flag} {given:?}: another run took the name",
        kube.namespace()
    )))
}
