//! The configuration of one `chainlet attest` run: Chains' keys resolved from their sources,
//! then checked against what this run will do.

use std::path::{Path, PathBuf};

use super::{ArtifactType, Config, StorageName};
use crate::Failure;
use crate::cli::{AttestArgs, TaskRunApi};

const DEFAULT_CONFIG_DIR: &str = "/etc/chains-config";

/// Defaults < the config directory (`--config-dir`, else `/etc/chains-config` when it exists)
/// < `--override` < `--set`; `--output-dir` adds storage `file`.
pub fn resolve(args: &AttestArgs) -> Result<Config, Failure> {
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
pub fn check(config: &Config, args: &AttestArgs) -> Result<(), Failure> {
    let types: &[ArtifactType] = if args.pipelinerun {
        &[ArtifactType::PipelineRun]
    } else {
        &[ArtifactType::TaskRun, ArtifactType::Oci]
    };
    config.check_supported(types).map_err(Failure::usage)?;
    if types
        .iter()
        .any(|t| config.enabled(*t) && config.signer(*t) == super::SignerName::Kms)
    {
        crate::signing::kms::check_reference(config.get("signers.kms.kmsref"))
            .map_err(Failure::usage)?;
    }
    if config.get("signers.x509.fulcio.enabled") == "true"
        && types
            .iter()
            .any(|t| config.enabled(*t) && config.signer(*t) == super::SignerName::X509)
    {
        crate::signing::fulcio::check_config(config).map_err(Failure::usage)?;
        if args.trusted_root.is_none() {
            return Err(Failure::usage(crate::signing::fulcio::NO_TRUSTED_ROOT));
        }
    }
    // A bad flag is bad usage whether or not this run reaches a registry.
    for value in args
        .insecure_registries
        .iter()
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
    {
        crate::net::HostPort::parse(value)
            .map_err(|e| Failure::usage(format!("--insecure-registry {value:?}: {e}")))?;
    }
    if args.output_dir.is_none() && types.iter().any(|t| config.stores(*t, StorageName::File)) {
        return Err(Failure::usage(
            "storage file needs --output-dir (or CHAINLET_OUTPUT_DIR) to know where to write",
        ));
    }
    if config.format(ArtifactType::TaskRun) == "tekton"
        && config.stores(ArtifactType::TaskRun, StorageName::Oci)
    {
        return Err(Failure::usage(
            "artifacts.taskrun.format tekton is no in-toto statement and cannot go to storage \
             oci; use artifacts.taskrun.storage tekton or file",
        ));
    }
    let tekton_needed = types.iter().any(|t| config.stores(*t, StorageName::Tekton))
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
