//! `chainlet attest`: the step's job. Wires the stages from the resolved config:
//! collect → subjects → formats → signing → storage.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::Failure;
use crate::cli::AttestArgs;
use crate::collect::{self, RunContext, RunRecord};
use crate::config::{ArtifactType, Config};
use crate::formats::{self, Format};
use crate::signing::{self, Signer, dsse};
use crate::storage::file::FileBackend;
use crate::storage::oci::OciBackend;
use crate::storage::{Attestation, Backend, Batch, ImageSignature};
use crate::subjects::{self, Strictness};

const DEFAULT_CONFIG_DIR: &str = "/etc/chains-config";

/// Runs an attestation as the flags and config say.
pub fn run(args: &AttestArgs) -> Result<(), Failure> {
    let config = resolve_config(args)?;
    if args.print_config {
        return crate::print(&config.render());
    }
    check_config(&config, args)?;
    let run = collect_run(args)?;
    let strictness = if args.skip_invalid_hints {
        Strictness::Lenient
    } else {
        Strictness::Strict
    };
    let format = Format::from_config(config.format(ArtifactType::TaskRun))
        .expect("config validated the format");
    let artifacts = subjects::subjects(&run, format.view(), strictness).map_err(Failure::run)?;

    let taskrun_on = config.enabled(ArtifactType::TaskRun);
    let oci_on = config.enabled(ArtifactType::Oci) && !artifacts.images.is_empty();
    if !taskrun_on && !oci_on {
        tracing::info!(
            "nothing to attest: TaskRun attestations are disabled and no image needs a signature"
        );
        return Ok(());
    }
    // Decrypting a cosign key takes about 100 ms of one core; meanwhile the backends read what
    // they will append to.
    let backends = backends(&config, args)?;
    let att_images = image_subjects(&artifacts.subjects);
    let signer = std::thread::scope(|s| {
        let key = s.spawn(|| signing::load_from_secrets(&args.signing_secrets));
        for (name, backend) in &backends {
            let (sig, att) = batch_lists(&config, name);
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

    let attestation = taskrun_on.then(|| {
        let opts = formats::Options {
            builder_id: config.get("builder.id").to_owned(),
            build_type: config.get("builddefinition.buildtype").to_owned(),
        };
        let statement = formats::payload(format, &opts, &run, &artifacts);
        let envelope = dsse::sign(&signer, dsse::INTOTO_PAYLOAD_TYPE, &statement);
        Attestation {
            taskrun_uid: run.context.taskrun_uid.clone(),
            images: att_images.clone(),
            predicate_type: format.predicate_type(),
            statement,
            envelope,
        }
    });
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

    store(&config, &backends, attestation.as_ref(), &signatures)?;
    tracing::info!(
        images = artifacts.images.len(),
        attestation = attestation.is_some(),
        image_signatures = signatures.len(),
        "attested"
    );
    Ok(())
}

fn resolve_config(args: &AttestArgs) -> Result<Config, Failure> {
    let default_dir = Path::new(DEFAULT_CONFIG_DIR);
    let config_dir: Option<PathBuf> = match &args.config_dir {
        Some(d) => Some(d.clone()),
        None if default_dir.is_dir() => Some(default_dir.to_owned()),
        None => None,
    };
    let mut config = Config::load(config_dir.as_deref(), &args.sets).map_err(Failure::usage)?;
    if args.output_dir.is_some() {
        config.add_file_storage();
    }
    Ok(config)
}

/// Refuses what this run cannot do: Chains values not supported yet, `file` without a folder.
fn check_config(config: &Config, args: &AttestArgs) -> Result<(), Failure> {
    let types = [ArtifactType::TaskRun, ArtifactType::Oci];
    config.check_supported(&types).map_err(Failure::usage)?;
    if args.output_dir.is_none()
        && types
            .iter()
            .any(|t| config.enabled(*t) && config.storage(*t).iter().any(|s| s == "file"))
    {
        return Err(Failure::usage(
            "storage file needs --output-dir (or CHAINLET_OUTPUT_DIR) to know where to write",
        ));
    }
    Ok(())
}

fn collect_run(args: &AttestArgs) -> Result<RunRecord, Failure> {
    collect::check_uid(&args.taskrun_uid).map_err(Failure::usage)?;
    collect::check_name(&args.taskrun_name).map_err(Failure::usage)?;
    let params = args
        .params
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| Failure::usage(format!("--param {p:?}: expected NAME=VALUE")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let started_on = match &args.started_on {
        Some(s) => Some(parse_time("--started-on", s)?),
        None => collect::results_dir_birth(&args.results_dir),
    };
    let finished_on = match &args.finished_on {
        Some(s) => parse_time("--finished-on", s)?,
        None => SystemTime::now(),
    };
    if let Some(start) = started_on
        && start > finished_on
    {
        return Err(Failure::usage(format!(
            "--started-on ({}) is after --finished-on ({})",
            formats::rfc3339(start),
            formats::rfc3339(finished_on)
        )));
    }
    // Results never come from the directories that hold chainlet's own secrets and config.
    let mut inputs: Vec<&Path> = vec![&args.signing_secrets];
    if let Some(dir) = &args.config_dir {
        inputs.push(dir);
    }
    let forbidden: &[&Path] = &inputs;
    let mut budget = collect::Budget::default();
    Ok(RunRecord {
        context: RunContext {
            taskrun_name: args.taskrun_name.clone(),
            taskrun_uid: args.taskrun_uid.clone(),
            namespace: args.namespace.clone(),
            task_name: args.task_name.clone(),
            pipelinerun_name: args.pipelinerun_name.clone(),
            pipelinerun_uid: args.pipelinerun_uid.clone(),
        },
        results: collect::read_results(&args.results_dir, forbidden, &mut budget)
            .map_err(Failure::run)?,
        step_results: collect::read_step_results(&args.steps_dir, forbidden, &mut budget)
            .map_err(Failure::run)?,
        params,
        started_on,
        finished_on: Some(finished_on),
    })
}

fn parse_time(flag: &str, s: &str) -> Result<SystemTime, Failure> {
    rfc3339(s).map_err(|e| Failure::usage(format!("{flag} {s:?}: not an RFC 3339 time: {e}")))
}

/// Parses RFC 3339: `YYYY-MM-DDTHH:MM:SS[.frac]` with `Z` or a `±HH:MM` offset.
fn rfc3339(s: &str) -> Result<SystemTime, String> {
    let (local, offset_secs) = if let Some(l) = s.strip_suffix(['Z', 'z']) {
        (l, 0i64)
    } else if s.len() > 6 && s.is_char_boundary(s.len() - 6) {
        let (l, zone) = s.split_at(s.len() - 6);
        let b = zone.as_bytes();
        let sign = match b[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return Err("needs a time zone, Z or ±HH:MM".into()),
        };
        let hh: i64 = zone[1..3].parse().map_err(|_| "bad zone hours")?;
        let mm: i64 = zone[4..6].parse().map_err(|_| "bad zone minutes")?;
        if b[3] != b':' || hh > 23 || mm > 59 {
            return Err("bad time zone offset".into());
        }
        (l, sign * (hh * 3600 + mm * 60))
    } else {
        return Err("needs a time zone, Z or ±HH:MM".into());
    };
    if !matches!(local.as_bytes().get(10), Some(b'T' | b't'))
        || !local
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b':' | b'.' | b'T' | b't'))
    {
        return Err("expected YYYY-MM-DDTHH:MM:SS".into());
    }
    let t = humantime::parse_rfc3339_weak(local).map_err(|e| e.to_string())?;
    let shifted = if offset_secs >= 0 {
        t.checked_sub(std::time::Duration::from_secs(offset_secs as u64))
    } else {
        t.checked_add(std::time::Duration::from_secs(offset_secs.unsigned_abs()))
    };
    shifted.ok_or_else(|| "out of range".into())
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

/// Whether a backend stores (image signatures, TaskRun attestations).
fn batch_lists(config: &Config, name: &str) -> (bool, bool) {
    let has = |t| config.enabled(t) && config.storage(t).iter().any(|n| n == name);
    (has(ArtifactType::Oci), has(ArtifactType::TaskRun))
}

/// Every backend the enabled artifact types list, remote ones first and `file` last: the local
/// write is the one least likely to fail after the others succeeded.
fn backends(config: &Config, args: &AttestArgs) -> Result<Backends, Failure> {
    let mut names: Vec<String> = Vec::new();
    for t in [ArtifactType::TaskRun, ArtifactType::Oci] {
        if config.enabled(t) {
            names.extend(config.storage(t));
        }
    }
    names.sort_by_key(|n| (n == "file", n.clone()));
    names.dedup();
    names
        .into_iter()
        .map(|n| backend(&n, config, args).map(|b| (n, b)))
        .collect()
}

/// Hands each backend the parts whose artifact type lists it.
fn store(
    config: &Config,
    backends: &Backends,
    attestation: Option<&Attestation>,
    signatures: &[ImageSignature],
) -> Result<(), Failure> {
    for (name, backend) in backends {
        let (sig, att) = batch_lists(config, name);
        let batch = Batch {
            attestation: attestation.filter(|_| att),
            images: if sig {
                signatures.iter().collect()
            } else {
                Vec::new()
            },
        };
        if batch.attestation.is_none() && batch.images.is_empty() {
            continue;
        }
        backend.store(&batch).map_err(Failure::run)?;
        tracing::info!(storage = backend.name(), "stored");
    }
    Ok(())
}

/// The backend a storage config value names. The config check has refused every value that has
/// no backend yet.
fn backend(name: &str, config: &Config, args: &AttestArgs) -> Result<Box<dyn Backend>, Failure> {
    match name {
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
            let mut insecure_registries = args.insecure_registries.clone();
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

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_with_z_and_offsets() {
        let z = rfc3339("2026-01-02T03:04:05Z").unwrap();
        assert_eq!(rfc3339("2026-01-02T05:04:05+02:00").unwrap(), z);
        assert_eq!(rfc3339("2026-01-02T01:34:05-01:30").unwrap(), z);
        for bad in [
            "2026-01-02 03:04:05Z",
            "2026-01-02T03:04:05ZZZ",
            "2026-01-02T03:04:05",
            "x",
        ] {
            assert!(rfc3339(bad).is_err(), "{bad}");
        }
    }
}
