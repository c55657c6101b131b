//! `chainlet attest`: the step's job. Wires the stages from the resolved config:
//! collect → subjects → formats → signing → storage.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::Failure;
use crate::cli::{AttestArgs, TaskRunApi};
use crate::collect::api::ApiTaskRun;
use crate::collect::{self, RunContext, RunRecord};
use crate::config::{ArtifactType, Config};
use crate::formats::{self, Format};
use crate::kube::Kube;
use crate::kube::RunKind;
use crate::signing::{self, Signer, dsse};
use crate::storage::file::FileBackend;
use crate::storage::oci::OciBackend;
use crate::storage::tekton::{self, Target, TektonBackend};
use crate::storage::{Attestation, Backend, Batch, ImageSignature, Signed};
use crate::subjects::{self, Strictness};

mod pipelinerun;

/// How long `--taskrun-api auto` waits for an API server it does not strictly need.
const OPTIONAL_API_SECONDS: u64 = 10;

const DEFAULT_CONFIG_DIR: &str = "/etc/chains-config";

/// Runs an attestation as the flags and config say.
pub fn run(args: &AttestArgs) -> Result<(), Failure> {
    let config = resolve_config(args)?;
    if args.print_config {
        return crate::print(&config.render());
    }
    check_config(&config, args)?;
    let results_out = parse_write_results(&args.write_results)?;
    if !args.pipelinerun && !args.pipeline_result_args.is_empty() {
        return Err(Failure::usage(format!(
            "{:?} after `--`: PipelineRun results are for --pipelinerun only",
            args.pipeline_result_args[0]
        )));
    }
    if args.pipelinerun {
        return pipelinerun::run(args, &config, &results_out);
    }
    let format = Format::from_config(config.format(ArtifactType::TaskRun))
        .expect("config validated the format");
    let tekton_storage = [ArtifactType::TaskRun, ArtifactType::Oci]
        .iter()
        .any(|t| config.enabled(*t) && config.storage(*t).iter().any(|s| s == "tekton"));
    let needs_api =
        tekton_storage || (config.enabled(ArtifactType::TaskRun) && format == Format::Tekton);
    let kube = kube_client(
        args,
        needs_api.then_some("storage or format tekton needs the Kubernetes API"),
    )?;
    let run = collect_run(args, kube.as_deref(), needs_api)?;
    let strictness = if args.skip_invalid_hints {
        Strictness::Lenient
    } else {
        Strictness::Strict
    };
    let artifacts = subjects::subjects(&run, format.view(), strictness).map_err(Failure::run)?;

    let taskrun_on = config.enabled(ArtifactType::TaskRun);
    let oci_on = config.enabled(ArtifactType::Oci) && !artifacts.images.is_empty();
    if !taskrun_on && !oci_on {
        tracing::info!(
            "nothing to attest: TaskRun attestations are disabled and no image needs a signature"
        );
        return write_results(&results_out, None, &[]);
    }
    // Decrypting a cosign key takes about 100 ms of one core; meanwhile the backends read what
    // they will append to.
    let target = Target {
        kind: RunKind::TaskRun,
        name: run.context.taskrun_name.clone(),
        uid: run.context.taskrun_uid.clone(),
    };
    let backends = backends(&config, args, kube.as_ref(), &target, ArtifactType::TaskRun)?;
    let att_images = image_subjects(&artifacts.subjects);
    let signer = std::thread::scope(|s| {
        let key = s.spawn(|| signing::load_from_secrets(&args.signing_secrets));
        for (name, backend) in &backends {
            let (sig, att) = batch_lists(&config, name, ArtifactType::TaskRun);
            backend.warm_up(
                if sig && oci_on {
                    &artifacts.images
                } else {
                    &[]
                },
                if att && taskrun_on { &att_images } else { &[] },
            );
        }
        key.join().expect("key loading does not panic")
    })
    .map_err(Failure::run)?;
    tracing::info!(key = %signer.describe(), keyid = %signer.key_id(), "loaded signing key");

    let attestation = if taskrun_on {
        let opts = formats::Options {
            builder_id: config.get("builder.id").to_owned(),
            build_type: config.get("builddefinition.buildtype").to_owned(),
            deep_inspection: false,
        };
        let statement = formats::payload(format, &opts, &run, &artifacts).map_err(Failure::run)?;
        let signed = if format.wraps() {
            Signed::Dsse(dsse::sign(&signer, dsse::INTOTO_PAYLOAD_TYPE, &statement))
        } else {
            Signed::Raw(signer.sign(&statement))
        };
        Some(Attestation {
            key: format!("taskrun-{}", run.context.taskrun_uid),
            images: att_images.clone(),
            predicate_type: format.predicate_type(),
            statement,
            signed,
        })
    } else {
        None
    };
    let signatures: Vec<ImageSignature> = if oci_on {
        artifacts
            .images
            .iter()
            .map(|image| {
                let payload = formats::simplesigning::payload(image);
                let signature = signing::base64(&signer.sign(&payload));
                ImageSignature {
                    image: image.clone(),
                    payload,
                    signature,
                }
            })
            .collect()
    } else {
        Vec::new()
    };

    store_or_mark_failed(
        &config,
        &backends,
        ArtifactType::TaskRun,
        attestation.as_ref(),
        &signatures,
        tekton_storage.then_some(()).and(kube.as_deref()),
        &target,
    )?;
    tracing::info!(
        images = artifacts.images.len(),
        attestation = attestation.is_some(),
        image_signatures = signatures.len(),
        "attested"
    );
    write_results(&results_out, attestation.as_ref(), &artifacts.subjects)
}

/// The results `--write-result` asks for, checked before any work.
fn parse_write_results(specs: &[String]) -> Result<Vec<(String, PathBuf)>, Failure> {
    specs
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (name, path) = s.split_once('=').ok_or_else(|| {
                Failure::usage(format!("--write-result {s:?}: expected NAME=PATH"))
            })?;
            if !matches!(name, "statement-digest" | "subjects") {
                return Err(Failure::usage(format!(
                    "--write-result {s:?}: unknown result {name:?} (statement-digest, subjects)"
                )));
            }
            if path.is_empty() {
                return Err(Failure::usage(format!("--write-result {s:?}: empty path")));
            }
            Ok((name.to_owned(), PathBuf::from(path)))
        })
        .collect()
}

/// Writes the step results: the signed payload's digest (empty without an attestation) and
/// the subjects as a JSON array of `name@alg:hex`.
fn write_results(
    wanted: &[(String, PathBuf)],
    attestation: Option<&Attestation>,
    subjects: &[crate::subjects::Artifact],
) -> Result<(), Failure> {
    for (name, path) in wanted {
        let value = match name.as_str() {
            "statement-digest" => attestation
                .map(|a| crate::registry::sha256_digest(&a.statement))
                .unwrap_or_default(),
            _ => {
                let list: Vec<String> = subjects
                    .iter()
                    .flat_map(|s| {
                        s.digest
                            .iter()
                            .map(move |(alg, hex)| format!("{}@{alg}:{hex}", s.name))
                    })
                    .collect();
                serde_json::to_string(&list).expect("strings serialise")
            }
        };
        std::fs::write(path, value)
            .map_err(|e| Failure::run(format!("--write-result {name}={}: {e}", path.display())))?;
    }
    Ok(())
}

/// The Kubernetes API client, as `--taskrun-api` and the config ask. `needed_for` names what
/// requires it, if anything does.
fn kube_client(args: &AttestArgs, needed_for: Option<&str>) -> Result<Option<Arc<Kube>>, Failure> {
    if args.taskrun_api == TaskRunApi::Off {
        return Ok(None);
    }
    // Optional reads must not hold the run up for long when the API server is unreachable.
    let secs = if needed_for.is_some() || args.taskrun_api == TaskRunApi::On {
        args.registry_timeout
    } else {
        args.registry_timeout.min(OPTIONAL_API_SECONDS)
    };
    let timeout = std::time::Duration::from_secs(secs.max(1));
    match Kube::in_cluster(&args.serviceaccount_dir, &args.namespace, timeout) {
        Ok(Some(k)) => Ok(Some(Arc::new(k))),
        Ok(None) if args.taskrun_api == TaskRunApi::On || needed_for.is_some() => {
            let why = needed_for.unwrap_or("--taskrun-api on");
            Err(Failure::usage(format!(
                "{why}, but this pod has no API access: KUBERNETES_SERVICE_HOST is unset or there \
                 is no service-account token at {} (automountServiceAccountToken: false?)",
                args.serviceaccount_dir.join("token").display()
            )))
        }
        Ok(None) => {
            tracing::debug!("no Kubernetes API access: the payload has what the pod sees");
            Ok(None)
        }
        Err(e) => Err(Failure::run(e)),
    }
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
    let api = collect::api::parse(&body).map_err(|e| {
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
fn same_uid(
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

fn resolve_config(args: &AttestArgs) -> Result<Config, Failure> {
    let default_dir = Path::new(DEFAULT_CONFIG_DIR);
    let config_dir: Option<PathBuf> = match &args.config_dir {
        Some(d) => Some(d.clone()),
        None if default_dir.is_dir() => Some(default_dir.to_owned()),
        None => None,
    };
    let mut config = Config::load_with(config_dir.as_deref(), &args.overrides, &args.sets)
        .map_err(Failure::usage)?;
    if args.output_dir.is_some() {
        config.add_file_storage();
    }
    Ok(config)
}

/// Refuses what this run cannot do: Chains values not supported yet, `file` without a folder.
fn check_config(config: &Config, args: &AttestArgs) -> Result<(), Failure> {
    let types: &[ArtifactType] = if args.pipelinerun {
        &[ArtifactType::PipelineRun]
    } else {
        &[ArtifactType::TaskRun, ArtifactType::Oci]
    };
    config.check_supported(types).map_err(Failure::usage)?;
    if args.output_dir.is_none()
        && types
            .iter()
            .any(|t| config.enabled(*t) && config.storage(*t).iter().any(|s| s == "file"))
    {
        return Err(Failure::usage(
            "storage file needs --output-dir (or CHAINLET_OUTPUT_DIR) to know where to write",
        ));
    }
    if config.enabled(ArtifactType::TaskRun)
        && config.format(ArtifactType::TaskRun) == "tekton"
        && config
            .storage(ArtifactType::TaskRun)
            .iter()
            .any(|s| s == "oci")
    {
        return Err(Failure::usage(
            "artifacts.taskrun.format tekton is no in-toto statement and cannot go to storage \
             oci; use artifacts.taskrun.storage tekton or file",
        ));
    }
    let tekton_needed = types
        .iter()
        .any(|t| config.enabled(*t) && config.storage(*t).iter().any(|s| s == "tekton"))
        || (config.enabled(ArtifactType::TaskRun)
            && config.format(ArtifactType::TaskRun) == "tekton");
    if args.pipelinerun
        && config.enabled(ArtifactType::PipelineRun)
        && config.get("artifacts.pipelinerun.enable-deep-inspection") == "true"
        && args.taskrun_api == TaskRunApi::Off
    {
        return Err(Failure::usage(
            "artifacts.pipelinerun.enable-deep-inspection needs the child TaskRuns from the \
             Kubernetes API, which --taskrun-api off turns off",
        ));
    }
    if tekton_needed && args.taskrun_api == TaskRunApi::Off {
        return Err(Failure::usage(
            "storage or format tekton needs the Kubernetes API, which --taskrun-api off turns off",
        ));
    }
    Ok(())
}

fn collect_run(
    args: &AttestArgs,
    kube: Option<&Kube>,
    api_required: bool,
) -> Result<RunRecord, Failure> {
    collect::check_uid(&args.taskrun_uid).map_err(Failure::usage)?;
    collect::check_name(&args.taskrun_name).map_err(Failure::usage)?;
    let cli_params = args
        .params
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| Failure::usage(format!("--param {p:?}: expected NAME=VALUE")))
        })
        .collect::<Result<Vec<_>, _>>()?;
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
            .or_else(|| collect::results_dir_birth(&args.results_dir)),
        api.as_ref().and_then(|a| a.completion_time),
    )?;
    // Results never come from the directories that hold chainlet's own secrets and config.
    let mut inputs: Vec<&Path> = vec![&args.signing_secrets];
    if let Some(dir) = &args.config_dir {
        inputs.push(dir);
    }
    let forbidden: &[&Path] = &inputs;
    let mut budget = collect::Budget::default();
    let mut results =
        collect::read_results(&args.results_dir, forbidden, &mut budget).map_err(Failure::run)?;
    let mut step_results = collect::read_step_results(&args.steps_dir, forbidden, &mut budget)
        .map_err(Failure::run)?;
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
    })
}

/// String params for `CHAINS-GIT_*`, in precedence order (later wins), then `--param`.
fn merged_params<'a>(
    recorded: impl Iterator<Item = &'a (String, serde_json::Value)>,
    cli: Vec<(String, String)>,
) -> Vec<(String, String)> {
    recorded
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
        .chain(cli)
        .collect()
}

/// Start and finish: the flags, else what the run recorded, else (finish) now.
fn run_times(
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
            formats::rfc3339(start),
            formats::rfc3339(finished_on)
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

/// The subjects that name images (`repo@sha256:…`): as in Chains, an attestation goes to every
/// image among the statement's subjects.
fn image_subjects(subjects: &[crate::subjects::Artifact]) -> Vec<crate::subjects::ImageRef> {
    let mut out: Vec<crate::subjects::ImageRef> = Vec::new();
    for s in subjects {
        if let Some(hex) = s.digest.get("sha256")
            && let Ok(img) = crate::subjects::ImageRef::parse(&format!("{}@sha256:{hex}", s.name))
            && !out.contains(&img)
        {
            out.push(img);
        }
    }
    out
}

/// The configured backends with their config names.
type Backends = Vec<(String, Box<dyn Backend>)>;

/// Whether a backend stores (image signatures, attestations of `att_type`).
fn batch_lists(config: &Config, name: &str, att_type: ArtifactType) -> (bool, bool) {
    let has = |t| config.enabled(t) && config.storage(t).iter().any(|n| n == name);
    let signatures = att_type == ArtifactType::TaskRun && has(ArtifactType::Oci);
    (signatures, has(att_type))
}

/// Stores; when that fails and storage `tekton` is on, the run says why, as Chains marks a
/// run it gave up on: never "true" after a failure (and no mark when the run's own patch is
/// what failed).
fn store_or_mark_failed(
    config: &Config,
    backends: &Backends,
    att_type: ArtifactType,
    attestation: Option<&Attestation>,
    signatures: &[ImageSignature],
    tekton: Option<&Kube>,
    target: &Target,
) -> Result<(), Failure> {
    let Err((failed, failure)) = store(config, backends, att_type, attestation, signatures) else {
        return Ok(());
    };
    if failed != "tekton"
        && let Some(kube) = tekton
        && let Err(e) = tekton::mark_failed(kube, target, &failure.message)
    {
        tracing::warn!("could not mark the run as failed: {e}");
    }
    Err(failure)
}

/// Every backend the enabled artifact types list: remote ones first, then `file` (the local
/// write is the one least likely to fail after the others succeeded), and `tekton` last: its
/// patch also says `chains.tekton.dev/signed: "true"`, which must follow every other success.
fn backends(
    config: &Config,
    args: &AttestArgs,
    kube: Option<&Arc<Kube>>,
    target: &Target,
    att_type: ArtifactType,
) -> Result<Backends, Failure> {
    let mut names: Vec<String> = Vec::new();
    let types: &[ArtifactType] = if att_type == ArtifactType::TaskRun {
        &[ArtifactType::TaskRun, ArtifactType::Oci]
    } else {
        &[att_type]
    };
    for &t in types {
        if config.enabled(t) {
            names.extend(config.storage(t));
        }
    }
    names.sort_by_key(|n| (n == "tekton", n == "file", n.clone()));
    names.dedup();
    names
        .into_iter()
        .map(|n| backend(&n, config, args, kube, target).map(|b| (n, b)))
        .collect()
}

/// Hands each backend the parts whose artifact type lists it, after every backend's
/// preflight has passed.
fn store(
    config: &Config,
    backends: &Backends,
    att_type: ArtifactType,
    attestation: Option<&Attestation>,
    signatures: &[ImageSignature],
) -> Result<(), (&'static str, Failure)> {
    let batches: Vec<(&dyn Backend, Batch)> = backends
        .iter()
        .map(|(name, backend)| {
            let (sig, att) = batch_lists(config, name, att_type);
            let batch = Batch {
                attestation: attestation.filter(|_| att),
                images: if sig {
                    signatures.iter().collect()
                } else {
                    Vec::new()
                },
            };
            (backend.as_ref(), batch)
        })
        .filter(|(_, b)| b.attestation.is_some() || !b.images.is_empty())
        .collect();
    for (backend, _) in &batches {
        backend
            .preflight()
            .map_err(|e| (backend.name(), Failure::run(e)))?;
    }
    for (backend, batch) in &batches {
        backend
            .store(batch)
            .map_err(|e| (backend.name(), Failure::run(e)))?;
        tracing::info!(storage = backend.name(), "stored");
    }
    Ok(())
}

/// The backend a storage config value names. The config check has refused every value that has
/// no backend yet.
fn backend(
    name: &str,
    config: &Config,
    args: &AttestArgs,
    kube: Option<&Arc<Kube>>,
    target: &Target,
) -> Result<Box<dyn Backend>, Failure> {
    match name {
        "tekton" => {
            let kube = kube.expect("storage tekton fails at start-up without API access");
            Ok(Box::new(TektonBackend::new(kube.clone(), target.clone())))
        }
        "file" => {
            Ok(Box::new(FileBackend::new(args.output_dir.clone().expect(
                "the config check requires --output-dir for storage file",
            ))))
        }
        "oci" => {
            let repository = match config.get("storage.oci.repository") {
                "" => None,
                r => {
                    let (registry, repository) = crate::subjects::reference::parse_repository(r)
                        .map_err(|e| {
                            Failure::usage(format!("storage.oci.repository {r:?}: {e}"))
                        })?;
                    Some(crate::registry::Repo {
                        registry,
                        repository,
                    })
                }
            };
            // As in Chains (go-containerregistry's name.Insecure), `insecure` lets the
            // repository's registry be reached over plain HTTP.
            let mut insecure_registries: Vec<String> = args
                .insecure_registries
                .iter()
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty())
                .collect();
            if config.get("storage.oci.repository.insecure") == "true" {
                let r = repository.as_ref().ok_or_else(|| {
                    Failure::usage(
                        "storage.oci.repository.insecure is set but storage.oci.repository is not",
                    )
                })?;
                insecure_registries.push(r.registry.clone());
            }
            let client = crate::registry::Client::new(crate::registry::Options {
                insecure_registries,
                extra_ca: args.registry_ca.clone(),
                docker_config: args.docker_config.clone(),
                // A day is already more than any pod waits; larger values are capped.
                deadline: std::time::Instant::now()
                    + std::time::Duration::from_secs(args.registry_timeout.min(86_400)),
            })
            .map_err(Failure::run)?;
            Ok(Box::new(OciBackend::new(client, repository)))
        }
        other => unreachable!("storage {other} passed the config check"),
    }
}
