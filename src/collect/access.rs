//! The Kubernetes API client a run uses, as `--taskrun-api` and the config ask.

use std::sync::Arc;

use crate::Failure;
use crate::cli::{AttestArgs, TaskRunApi};
use crate::kube::Kube;

/// How long `--taskrun-api auto` waits for an API server it does not strictly need.
const OPTIONAL_API_SECONDS: u64 = 10;

/// The Kubernetes API client, as `--taskrun-api` and the config ask. `needed_for` names what
/// requires it, if anything does.
pub fn client(args: &AttestArgs, needed_for: Option<&str>) -> Result<Option<Arc<Kube>>, Failure> {
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
