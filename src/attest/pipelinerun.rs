//! `chainlet attest --pipelinerun`: the PipelineRun's attestation, from a `finally` Task.
//!
//! With the Kubernetes API (a Role allowing `get` on `pipelineruns` and `taskruns`), the
//! PipelineRun and its finished child TaskRuns are read as Chains reads them; the PipelineRun's
//! results, which Tekton sets only once the run is over, are computed from the Pipeline's
//! result declarations and the children's results. Without it, the results come from
//! `--pipeline-result` (the finally Task's params, e.g. `IMAGE_URL=$(tasks.build.results.IMAGE_URL)`).

use std::path::PathBuf;

use super::{
    backends, batch_lists, image_subjects, kube_client, merged_params, run_times, same_uid,
    store_or_mark_failed, write_results,
};
use crate::Failure;
use crate::cli::{AttestArgs, TaskRunApi};
use crate::collect::api::{self, ApiPipelineRun, ApiTaskRun};
use crate::collect::{self, PipelineRecord, ResultValue, TaskResult};
use crate::config::{ArtifactType, Config};
use crate::formats::{self, Format};
use crate::kube::{Kube, RunKind};
use crate::signing::{self, dsse};
use crate::storage::tekton::Target;
use crate::storage::{Attestation, Signed};
use crate::subjects::Strictness;

const TYPE: ArtifactType = ArtifactType::PipelineRun;

pub(super) fn run(
    args: &AttestArgs,
    config: &Config,
    results_out: &[(String, PathBuf)],
) -> Result<(), Failure> {
    if args.pipelinerun_name.is_empty() {
        return Err(Failure::usage(
            "--pipelinerun needs --pipelinerun-name (or CHAINLET_PIPELINERUN_NAME, from \
             $(context.pipelineRun.name) in the Pipeline)",
        ));
    }
    collect::check_uid(&args.pipelinerun_uid).map_err(|_| {
        Failure::usage(format!(
            "--pipelinerun-uid {:?}: required with --pipelinerun, a Kubernetes UID from \
             $(context.pipelineRun.uid)",
            args.pipelinerun_uid
        ))
    })?;
    if !config.enabled(TYPE) {
        tracing::info!("nothing to attest: PipelineRun attestations are disabled");
        return write_results(results_out, None, &[]);
    }
    let format = Format::from_config(config.format(TYPE)).expect("config validated the format");
    if format == Format::Tekton {
        return Err(Failure::usage(
            "artifacts.pipelinerun.format \"tekton\": Chains' tekton format signed TaskRuns only \
             in chainlet; use slsa/v2alpha4, slsa/v2alpha3, slsa/v1 or in-toto",
        ));
    }
    let deep = config.get("artifacts.pipelinerun.enable-deep-inspection") == "true";
    let tekton_storage = config.storage(TYPE).iter().any(|s| s == "tekton");
    let needed_for = if tekton_storage {
        Some("storage tekton needs the Kubernetes API")
    } else if deep {
        Some(
            "artifacts.pipelinerun.enable-deep-inspection needs the child TaskRuns from the Kubernetes API",
        )
    } else {
        None
    };
    let kube = kube_client(args, needed_for)?;
    let record = collect(args, kube.as_deref(), deep)?;

    let opts = formats::Options {
        builder_id: config.get("builder.id").to_owned(),
        build_type: config.get("builddefinition.buildtype").to_owned(),
        deep_inspection: deep,
    };
    let strictness = if args.skip_invalid_hints {
        Strictness::Lenient
    } else {
        Strictness::Strict
    };
    let (statement, subjects) =
        formats::pipelinerun_payload(format, &opts, &record, strictness).map_err(Failure::run)?;
    let images = image_subjects(&subjects);
    let target = Target {
        kind: RunKind::PipelineRun,
        name: record.name.clone(),
        uid: record.uid.clone(),
    };
    let backends = backends(config, args, kube.as_ref(), &target, TYPE)?;
    let signer = std::thread::scope(|s| {
        let key = s.spawn(|| signing::load_from_secrets(&args.signing_secrets));
        for (name, backend) in &backends {
            if batch_lists(config, name, TYPE).1 {
                backend.warm_up(&[], &images);
            }
        }
        key.join().expect("key loading does not panic")
    })
    .map_err(Failure::run)?;
    let envelope = dsse::sign(&signer, dsse::INTOTO_PAYLOAD_TYPE, &statement);
    let attestation = Attestation {
        key: format!("pipelinerun-{}", record.uid),
        images,
        predicate_type: format.predicate_type(),
        statement,
        signed: Signed::Dsse(envelope),
    };
    store_or_mark_failed(
        config,
        &backends,
        TYPE,
        Some(&attestation),
        &[],
        tekton_storage.then_some(()).and(kube.as_deref()),
        &target,
    )?;
    tracing::info!(
        pipelinerun = %record.name,
        children = record.children.len(),
        subjects = subjects.len(),
        "attested the PipelineRun"
    );
    write_results(results_out, Some(&attestation), &subjects)
}

/// The PipelineRun, its finished children and its results.
fn collect(args: &AttestArgs, kube: Option<&Kube>, deep: bool) -> Result<PipelineRecord, Failure> {
    let passed = passed_results(
        args.pipeline_results
            .iter()
            .map(|s| ("--pipeline-result", s))
            .chain(args.pipeline_result_args.iter().map(|s| ("after --", s))),
    )?;
    let mut cli_params = Vec::new();
    for p in args.params.iter().filter(|p| !p.is_empty()) {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| Failure::usage(format!("--param {p:?}: expected NAME=VALUE")))?;
        cli_params.push((k.to_owned(), v.to_owned()));
    }
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
