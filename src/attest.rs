//! `chainlet attest`: the step's job, as wiring only. Each stage is its own module and takes
//! plain data: config → [`collect`](crate::collect) → [`subjects`](crate::subjects) →
//! [`formats`](crate::formats) → then, shared by TaskRuns and PipelineRuns, [`pipeline`]:
//! [`signing`](crate::signing) → [`transparency`](crate::transparency) →
//! [`storage`](crate::storage).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Failure;
use crate::cli::{AttestArgs, TaskRunApi};
use crate::collect;
use crate::config::{ArtifactType, Config};
use crate::formats::{self, Format};
use crate::kube::{Kube, RunKind};
use crate::signing::{self, Encoding, Payload, Signers};
use crate::storage::{self, StorageError, tekton::Target};
use crate::subjects::{self, Artifact, Strictness};

pub mod pipeline;

use pipeline::{Route, Unsigned, Work};

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
    let planned = if args.pipelinerun {
        pipelinerun_work(args, &config)?
    } else {
        taskrun_work(args, &config)?
    };
    let Some(Planned {
        work,
        subjects,
        routes,
    }) = planned
    else {
        return write_results(&results_out, None, &[]);
    };
    let log = crate::transparency::open(&config).map_err(Failure::usage)?;
    let secrets = &args.signing_secrets;
    let stored = pipeline::execute(
        &work,
        |names| {
            Signers::open(
                names,
                &signing::OpenContext {
                    signing_secrets: secrets,
                    config: &config,
                },
            )
        },
        log.as_ref(),
        &routes,
    )?;
    tracing::info!(
        run = %work.target.name,
        attestation = stored.attestation.is_some(),
        image_signatures = stored.signatures.len(),
        "attested"
    );
    write_results(&results_out, stored.attestation.as_ref(), &subjects)
}

/// A run ready for [`pipeline::execute`]: its payloads, its subjects (for `--write-result`)
/// and the backends it goes to.
struct Planned {
    work: Work,
    subjects: Vec<Artifact>,
    routes: Vec<Route>,
}

fn strictness(args: &AttestArgs) -> Strictness {
    if args.skip_invalid_hints {
        Strictness::Lenient
    } else {
        Strictness::Strict
    }
}

fn format_options(config: &Config, deep_inspection: bool) -> formats::Options {
    formats::Options {
        builder_id: config.get("builder.id").to_owned(),
        build_type: config.get("builddefinition.buildtype").to_owned(),
        deep_inspection,
    }
}

fn format_of(config: &Config, t: ArtifactType) -> Format {
    Format::from_config(config.format(t)).expect("config validated the format")
}

/// Whether an enabled artifact type lists a storage backend.
fn stores_in(config: &Config, t: ArtifactType, backend: &str) -> bool {
    config.enabled(t) && config.storage(t).iter().any(|s| s == backend)
}

/// The TaskRun's attestation and its images' signatures; `None` when there is nothing to
/// attest.
fn taskrun_work(args: &AttestArgs, config: &Config) -> Result<Option<Planned>, Failure> {
    let format = format_of(config, ArtifactType::TaskRun);
    let tekton_storage = [ArtifactType::TaskRun, ArtifactType::Oci]
        .iter()
        .any(|t| stores_in(config, *t, "tekton"));
    let needs_api =
        tekton_storage || (config.enabled(ArtifactType::TaskRun) && format == Format::Tekton);
    let kube = kube_client(
        args,
        needs_api.then_some("storage or format tekton needs the Kubernetes API"),
    )?;
    let run = collect::taskrun::collect(args, kube.as_deref(), needs_api)?;
    let artifacts =
        subjects::subjects(&run, format.view(), strictness(args)).map_err(Failure::run)?;

    let taskrun_on = config.enabled(ArtifactType::TaskRun);
    let oci_on = config.enabled(ArtifactType::Oci) && !artifacts.images.is_empty();
    if !taskrun_on && !oci_on {
        tracing::info!(
            "nothing to attest: TaskRun attestations are disabled and no image needs a signature"
        );
        return Ok(None);
    }
    let target = Target {
        kind: RunKind::TaskRun,
        name: run.context.taskrun_name.clone(),
        uid: run.context.taskrun_uid.clone(),
    };
    let routes = open_routes(config, args, kube.as_ref(), &target, ArtifactType::TaskRun)?;
    let attestation = if taskrun_on {
        let statement = formats::payload(format, &format_options(config, false), &run, &artifacts)
            .map_err(Failure::run)?;
        Some(Unsigned {
            key: format!("taskrun-{}", run.context.taskrun_uid),
            images: image_subjects(&artifacts.subjects),
            predicate_type: format.predicate_type(),
            payload: Payload {
                bytes: statement,
                encoding: if format.wraps() {
                    Encoding::Dsse {
                        payload_type: signing::dsse::INTOTO_PAYLOAD_TYPE,
                    }
                } else {
                    Encoding::Raw
                },
            },
        })
    } else {
        None
    };
    let images = if oci_on {
        artifacts
            .images
            .iter()
            .map(|image| {
                let payload = Payload {
                    bytes: formats::simplesigning::payload(image),
                    encoding: Encoding::Raw,
                };
                (image.clone(), payload)
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Some(Planned {
        work: Work {
            target,
            attestation,
            attestation_signer: config.signer(ArtifactType::TaskRun).to_owned(),
            images,
            image_signer: config.signer(ArtifactType::Oci).to_owned(),
        },
        subjects: artifacts.subjects,
        routes,
    }))
}

/// The PipelineRun's attestation (`--pipelinerun`, from a `finally` Task).
fn pipelinerun_work(args: &AttestArgs, config: &Config) -> Result<Option<Planned>, Failure> {
    const TYPE: ArtifactType = ArtifactType::PipelineRun;
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
        return Ok(None);
    }
    let format = format_of(config, TYPE);
    if format == Format::Tekton {
        return Err(Failure::usage(
            "artifacts.pipelinerun.format \"tekton\": Chains' tekton format signed TaskRuns only \
             in chainlet; use slsa/v2alpha4, slsa/v2alpha3, slsa/v1 or in-toto",
        ));
    }
    let deep = config.get("artifacts.pipelinerun.enable-deep-inspection") == "true";
    let needed_for = if stores_in(config, TYPE, "tekton") {
        Some("storage tekton needs the Kubernetes API")
    } else if deep {
        Some(
            "artifacts.pipelinerun.enable-deep-inspection needs the child TaskRuns from the Kubernetes API",
        )
    } else {
        None
    };
    let kube = kube_client(args, needed_for)?;
    let record = collect::pipelinerun::collect(args, kube.as_deref(), deep)?;
    let hints = subjects::pipelinerun(&record, format.view(), deep, strictness(args))
        .map_err(Failure::run)?;
    let (statement, subjects) =
        formats::pipelinerun_payload(format, &format_options(config, deep), &record, &hints)
            .map_err(Failure::run)?;
    let target = Target {
        kind: RunKind::PipelineRun,
        name: record.name.clone(),
        uid: record.uid.clone(),
    };
    let routes = open_routes(config, args, kube.as_ref(), &target, TYPE)?;
    tracing::info!(
        pipelinerun = %record.name,
        children = record.children.len(),
        subjects = subjects.len(),
        "PipelineRun collected"
    );
    Ok(Some(Planned {
        work: Work {
            target,
            attestation: Some(Unsigned {
                key: format!("pipelinerun-{}", record.uid),
                images: image_subjects(&subjects),
                predicate_type: format.predicate_type(),
                payload: Payload {
                    bytes: statement,
                    encoding: Encoding::Dsse {
                        payload_type: signing::dsse::INTOTO_PAYLOAD_TYPE,
                    },
                },
            }),
            attestation_signer: config.signer(TYPE).to_owned(),
            images: Vec::new(),
            image_signer: config.signer(ArtifactType::Oci).to_owned(),
        },
        subjects,
        routes,
    }))
}

/// Every backend the run's artifact types list, opened through the storage table, in store
/// order (each backend's [`storage::Place`], then name), with the parts each one stores.
fn open_routes(
    config: &Config,
    args: &AttestArgs,
    kube: Option<&Arc<Kube>>,
    target: &Target,
    att_type: ArtifactType,
) -> Result<Vec<Route>, Failure> {
    let types: &[ArtifactType] = if att_type == ArtifactType::TaskRun {
        &[ArtifactType::TaskRun, ArtifactType::Oci]
    } else {
        &[att_type]
    };
    let mut names: Vec<String> = types
        .iter()
        .filter(|t| config.enabled(**t))
        .flat_map(|t| config.storage(*t))
        .collect();
    names.sort();
    names.dedup();
    let registry = registry_options(args);
    let ctx = storage::Context {
        config,
        output_dir: args.output_dir.as_deref(),
        registry: &registry,
        kube,
        target,
    };
    let mut routes = Vec::new();
    for name in names {
        let registration = storage::lookup(&name).ok_or_else(|| {
            Failure::usage(StorageError::Unknown {
                name: name.to_owned(),
            })
        })?;
        let backend = (registration.open)(&ctx).map_err(|e| match e {
            StorageError::Config { .. } | StorageError::Unavailable { .. } => Failure::usage(e),
            other => Failure::run(other),
        })?;
        routes.push(Route {
            backend,
            signatures: att_type == ArtifactType::TaskRun
                && stores_in(config, ArtifactType::Oci, &name),
            attestation: stores_in(config, att_type, &name),
        });
    }
    routes.sort_by_key(|r| (r.backend.place(), r.backend.name()));
    Ok(routes)
}

/// How to reach registries, from the flags.
fn registry_options(args: &AttestArgs) -> crate::registry::Options {
    crate::registry::Options {
        insecure_registries: args
            .insecure_registries
            .iter()
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .collect(),
        extra_ca: args.registry_ca.clone(),
        docker_config: args.docker_config.clone(),
        // A day is already more than any pod waits; larger values are capped.
        deadline: std::time::Instant::now()
            + std::time::Duration::from_secs(args.registry_timeout.min(86_400)),
    }
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
    attestation: Option<&crate::storage::Attestation>,
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
