//! `chainlet attest`: the step's job, as wiring only. Each stage is its own module and takes
//! plain data: config → collect → subjects → formats → then, shared by TaskRuns and
//! PipelineRuns, [`pipeline`]: signing → transparency → storage.

use std::sync::Arc;

use crate::Failure;
use crate::cli::AttestArgs;
use crate::collect;
use crate::config::{self, ArtifactType, Config, StorageName};
use crate::formats::{self, Format};
use crate::kube::{Kube, RunKind};
use crate::signing::{self, Encoding, Payload, Signers};
use crate::step_results;
use crate::storage::{self, StorageError, tekton::Target};
use crate::subjects::{self, Artifact, Strictness};

pub mod pipeline;

use pipeline::{Route, Unsigned, Work};

/// Runs an attestation as the flags and config say.
pub fn run(args: &AttestArgs) -> Result<(), Failure> {
    let config = config::run::resolve(args)?;
    if args.print_config {
        return crate::print(&config.render());
    }
    config::run::check(&config, args)?;
    let results_out = step_results::parse(&args.write_results)?;
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
        return step_results::write(&results_out, None, None, &[], &[]);
    };
    let log = crate::transparency::open(
        &config,
        &crate::transparency::OpenContext {
            flags: trust_flags(args, &config),
            annotations: work.annotations.as_ref(),
            deadline: registry_options(args).deadline,
            extra_cas: args
                .registry_ca
                .iter()
                .map(|path| crate::net::tls::ExtraCa::File {
                    flag: "--registry-ca".into(),
                    path: path.clone(),
                })
                .collect(),
        },
    )
    .map_err(Failure::usage)?;
    let secrets = &args.signing_secrets;
    let stored = pipeline::execute(
        &work,
        |names| {
            Signers::open(
                names,
                &signing::OpenContext {
                    signing_secrets: secrets,
                    config: &config,
                    deadline: registry_options(args).deadline,
                    registry_ca: args.registry_ca.as_slice(),
                    trusted_root: args.trusted_root.as_deref(),
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
    let entry = stored
        .attestation
        .as_ref()
        .and_then(|a| a.log_entry.as_ref())
        .or_else(|| stored.signatures.iter().find_map(|s| s.log_entry.as_ref()));
    // The images that got a signature or the attestation, in the work's order.
    let mut images: Vec<subjects::ImageRef> = Vec::new();
    let attested = work.attestation.iter().flat_map(|a| a.images.iter());
    for image in work.images.iter().map(|(i, _)| i).chain(attested) {
        if !images.contains(image) {
            images.push(image.clone());
        }
    }
    step_results::write(
        &results_out,
        stored.attestation.as_ref(),
        entry,
        &subjects,
        &images,
    )
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

/// The TaskRun's attestation and its images' signatures; `None` when there is nothing to
/// attest.
fn taskrun_work(args: &AttestArgs, config: &Config) -> Result<Option<Planned>, Failure> {
    let format = format_of(config, ArtifactType::TaskRun);
    let tekton_storage = [ArtifactType::TaskRun, ArtifactType::Oci]
        .iter()
        .any(|t| config.stores(*t, StorageName::Tekton));
    let needed_for =
        if tekton_storage || (config.enabled(ArtifactType::TaskRun) && format == Format::Tekton) {
            Some("storage or format tekton needs the Kubernetes API")
        } else if manual_transparency(config) {
            Some(MANUAL_NEEDS_API)
        } else {
            None
        };
    let needs_api = needed_for.is_some();
    let kube = collect::access::client(args, needed_for)?;
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
            images: subjects::attestation_images(&artifacts),
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
    // cosign 3's image signature too, for the referrers storage `oci` writes with this encoding.
    let image_statements = if config.get("storage.oci.encoding-format") == "sigstore-bundle"
        && config.stores(ArtifactType::Oci, StorageName::Oci)
    {
        images
            .iter()
            .map(|(image, _)| Payload {
                bytes: formats::cosign_sign::statement(image),
                encoding: Encoding::Dsse {
                    payload_type: signing::dsse::INTOTO_PAYLOAD_TYPE,
                },
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Some(Planned {
        work: Work {
            target,
            attestation,
            attestation_signer: config.signer(ArtifactType::TaskRun),
            images,
            image_signer: config.signer(ArtifactType::Oci),
            image_statements,
            // A run read from the API without annotations has none (manual mode reads them).
            annotations: run
                .api
                .as_ref()
                .map(|a| a.annotations.clone().unwrap_or_default()),
        },
        subjects: artifacts.subjects,
        routes,
    }))
}

/// The PipelineRun's attestation (`--pipelinerun`, from a `finally` Task).
fn pipelinerun_work(args: &AttestArgs, config: &Config) -> Result<Option<Planned>, Failure> {
    const TYPE: ArtifactType = ArtifactType::PipelineRun;
    if collect::workspace::requested(args) {
        return Err(Failure::usage(
            "--oci-layout, --digest-file and --hash are not supported yet with --pipelinerun: \
             use them in the TaskRun that built the artifacts",
        ));
    }
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
    let needed_for = if config.stores(TYPE, StorageName::Tekton) {
        Some("storage tekton needs the Kubernetes API")
    } else if deep {
        Some(
            "artifacts.pipelinerun.enable-deep-inspection needs the child TaskRuns from the Kubernetes API",
        )
    } else if manual_transparency(config) {
        Some(MANUAL_NEEDS_API)
    } else {
        None
    };
    let kube = collect::access::client(args, needed_for)?;
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
                images: subjects::images_among(&subjects),
                predicate_type: format.predicate_type(),
                payload: Payload {
                    bytes: statement,
                    encoding: Encoding::Dsse {
                        payload_type: signing::dsse::INTOTO_PAYLOAD_TYPE,
                    },
                },
            }),
            attestation_signer: config.signer(TYPE),
            images: Vec::new(),
            image_signer: config.signer(ArtifactType::Oci),
            image_statements: Vec::new(),
            annotations: record
                .api
                .as_ref()
                .map(|a| a.annotations.clone().unwrap_or_default()),
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
    let mut names: Vec<StorageName> = types
        .iter()
        .filter(|t| config.enabled(**t))
        .flat_map(|t| config.storage(*t))
        .collect();
    names.sort();
    names.dedup();
    let registry = registry_options(args);
    let namespace = match (args.namespace.as_str(), kube) {
        ("", Some(k)) => k.namespace(),
        (ns, _) => ns,
    };
    let ctx = storage::Context {
        config,
        output_dir: args.output_dir.as_deref(),
        registry: &registry,
        kube,
        target,
        namespace,
        deadline: registry.deadline,
        extra_ca: args.registry_ca.as_deref(),
        registry_settle: std::time::Duration::from_millis(args.registry_settle.min(60_000)),
    };
    let mut routes = Vec::new();
    for name in names {
        let registration =
            storage::lookup(name).ok_or_else(|| Failure::usage(StorageError::Unknown { name }))?;
        let backend = (registration.open)(&ctx).map_err(|e| match e {
            StorageError::Config { .. } | StorageError::Unavailable { .. } => Failure::usage(e),
            other => Failure::run(other),
        })?;
        routes.push(Route {
            backend,
            signatures: att_type == ArtifactType::TaskRun && config.stores(ArtifactType::Oci, name),
            attestation: config.stores(att_type, name),
        });
    }
    routes.sort_by_key(|r| (r.backend.place(), r.backend.name()));
    Ok(routes)
}

const MANUAL_NEEDS_API: &str = "transparency.enabled \"manual\" reads the run's \
     chains.tekton.dev/transparency-upload annotation from the Kubernetes API";

/// `transparency.enabled: manual`: whether to log is decided by the run's annotations.
fn manual_transparency(config: &Config) -> bool {
    config.get("transparency.enabled") == "manual"
}

/// What the flags say about the transparency log's trust.
fn trust_flags<'a>(args: &'a AttestArgs, config: &Config) -> crate::transparency::TrustFlags<'a> {
    crate::transparency::TrustFlags {
        trusted_root: args.trusted_root.as_deref(),
        signing_config: args.signing_config.as_deref(),
        rekor_version: args.rekor_version.map(|v| {
            if v == 2 {
                crate::transparency::ApiVersion::V2
            } else {
                crate::transparency::ApiVersion::V1
            }
        }),
        timestamp_url: args.timestamp_url.as_deref(),
        url_explicit: !config.is_default("transparency.url"),
    }
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
        read_only: false,
        // A day is already more than any pod waits; larger values are capped.
        deadline: std::time::Instant::now()
            + std::time::Duration::from_secs(args.registry_timeout.min(86_400)),
    }
}
