//! The Kubernetes API, as far as a step needs it: read its own TaskRun and merge-patch the
//! TaskRun's annotations (storage `tekton`). In-cluster configuration only: the API server from
//! `KUBERNETES_SERVICE_HOST`/`_PORT`, the pod's service-account token and CA, and the
//! namespace from `$(context.taskRun.namespace)` or the service account's `namespace` file.
//! Everything it asks for is namespace-scoped (a Role, not a ClusterRole).
//!
//! Requests go through a [`net::Transport`] that trusts only the cluster's CA; what is the
//! API server's own is here: its URLs, its `Status` messages, and what 401, 403 and 404 mean.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::net::{self, Credential, ErrorKind, Last, Origin, Policy};

/// Where Kubernetes mounts the service account's token, CA and namespace.
pub const DEFAULT_SERVICEACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// A TaskRun is at most a few MiB (etcd caps objects at 1.5 MiB by default).
const MAX_BODY: u64 = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("{0}")]
    Setup(String),
    /// 401/403: the service account may not do this.
    #[error(
        "the service account may not {verb} {resource}.tekton.dev {name:?} in namespace {namespace:?} ({status}: {message}); grant it with a Role allowing {verb:?} on {resource} (see tasks/rbac.yaml)"
    )]
    Forbidden {
        verb: &'static str,
        resource: &'static str,
        name: String,
        namespace: String,
        status: u16,
        message: String,
    },
    /// 401: the API server does not accept the token.
    #[error(
        "the API server rejected the service-account token ({message}): it may have expired or be meant for another audience"
    )]
    Unauthorized { message: String },
    #[error("{0}")]
    BadName(String),
    #[error("{kind} {name:?} not found in namespace {namespace:?}")]
    NotFound {
        kind: &'static str,
        name: String,
        namespace: String,
    },
    /// The run's name now belongs to another run (deleted and created again).
    #[error(
        "{kind} {namespace}/{name} is no longer the run with UID {uid}: another run took the name, so nothing was patched ({message})"
    )]
    Replaced {
        kind: &'static str,
        name: String,
        namespace: String,
        uid: String,
        message: String,
    },
    #[error("{op}: the API server answered {status}: {message}")]
    Status {
        op: String,
        status: u16,
        message: String,
    },
    #[error("{op}: {message}")]
    Transport { op: String, message: String },
}

/// The two kinds of run chainlet attests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    TaskRun,
    PipelineRun,
}

impl RunKind {
    fn resource(self) -> Resource {
        match self {
            RunKind::TaskRun => TASKRUNS,
            RunKind::PipelineRun => PIPELINERUNS,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Resource {
    kind: &'static str,
    plural: &'static str,
}

const TASKRUNS: Resource = Resource {
    kind: "TaskRun",
    plural: "taskruns",
};
const PIPELINERUNS: Resource = Resource {
    kind: "PipelineRun",
    plural: "pipelineruns",
};

/// An in-cluster API client for one namespace.
pub struct Kube {
    base: String,
    namespace: String,
    /// `Bearer <token>`, for the API server's origin only.
    token: Credential,
    net: net::Transport,
    /// What one operation may take, retries included.
    timeout: Duration,
}

impl std::fmt::Debug for Kube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kube")
            .field("base", &self.base)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl Kube {
    /// The in-cluster client, or `None` when this pod has no API access configured (no
    /// `KUBERNETES_SERVICE_HOST`, or no token file: `automountServiceAccountToken: false`).
    /// A token without its CA or namespace is an error: the mount is broken, not absent.
    pub fn in_cluster(
        sa_dir: &Path,
        namespace: &str,
        timeout: Duration,
    ) -> Result<Option<Kube>, KubeError> {
        let host = std::env::var("KUBERNETES_SERVICE_HOST").unwrap_or_default();
        let token_path = sa_dir.join("token");
        if host.is_empty() || !token_path.exists() {
            return Ok(None);
        }
        let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
        let port = crate::net::origin::parse_port(port.trim()).map_err(|e| {
            KubeError::Setup(format!(
                "KUBERNETES_SERVICE_PORT {port:?}: not a port number ({e})"
            ))
        })?;
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host
        };
        let read = |p: &PathBuf, what: &str| {
            crate::fsread::read_limited(p, 1024 * 1024)
                .map_err(|e| KubeError::Setup(format!("{} ({what}): {e}", p.display())))
        };
        let token = Zeroizing::new(
            String::from_utf8(read(&token_path, "service-account token")?.to_vec())
                .map_err(|_| {
                    KubeError::Setup(format!("{}: the token is not UTF-8", token_path.display()))
                })?
                .trim()
                .to_owned(),
        );
        if token.is_empty() {
            return Err(KubeError::Setup(format!(
                "{}: the service-account token is empty",
                token_path.display()
            )));
        }
        let ca_path = sa_dir.join("ca.crt");
        let ca = read(&ca_path, "the API server's CA")?;
        let roots = net::tls::CaCerts::from_pem(&ca_path.display().to_string(), &ca)
            .map_err(KubeError::Setup)?;
        let namespace = if namespace.is_empty() {
            let ns_path = sa_dir.join("namespace");
            String::from_utf8_lossy(&read(&ns_path, "the pod's namespace")?)
                .trim()
                .to_owned()
        } else {
            namespace.to_owned()
        };
        if namespace.is_empty() {
            return Err(KubeError::Setup(
                "the TaskRun's namespace is unknown: pass --namespace $(context.taskRun.namespace)"
                    .into(),
            ));
        }
        check_name("namespace", &namespace)?;
        let base = format!("https://{host}:{port}");
        let origin = Origin::of_url(&base)
            .map_err(|e| KubeError::Setup(format!("KUBERNETES_SERVICE_HOST: {e}")))?;
        let net = net::Transport::new(net::Options {
            // Each operation has its own `timeout`; the transport adds no earlier deadline
            // (a day is more than any pod waits).
            deadline: Instant::now() + Duration::from_secs(86_400),
            plain_http: Vec::new(),
            trust: net::tls::Trust::only(roots),
        });
        Ok(Some(Kube {
            base,
            namespace,
            token: Credential::new(origin, Zeroizing::new(format!("Bearer {}", token.as_str()))),
            net,
            timeout,
        }))
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn url(&self, resource: &str, name: &str) -> String {
        format!(
            "{}/apis/tekton.dev/v1/namespaces/{}/{resource}/{name}",
            self.base, self.namespace
        )
    }

    /// GETs the TaskRun (`tekton.dev/v1`) as the API server returns it.
    pub fn get_taskrun(&self, name: &str) -> Result<Vec<u8>, KubeError> {
        self.get(TASKRUNS, name)
    }

    /// GETs the PipelineRun (`tekton.dev/v1`) as the API server returns it.
    pub fn get_pipelinerun(&self, name: &str) -> Result<Vec<u8>, KubeError> {
        self.get(PIPELINERUNS, name)
    }

    fn get(&self, resource: Resource, name: &str) -> Result<Vec<u8>, KubeError> {
        check_name(resource.kind, name)?;
        let op = format!("GET {} {}/{name}", resource.kind, self.namespace);
        let (status, body) = self.send("GET", &self.url(resource.plural, name), None, &op)?;
        match status {
            200 => Ok(body),
            _ => Err(self.error(status, &body, "get", resource, name, op)),
        }
    }

    /// Merge-patches a run's annotations (RFC 7386, `application/merge-patch+json`).
    /// The patch carries the TaskRun's UID, so the API server refuses it (422: the UID is
    /// immutable) if the name now belongs to another TaskRun. A dry run (`dryRun=All`) checks permission and object and
    /// changes nothing.
    pub fn patch_annotations(
        &self,
        kind: RunKind,
        name: &str,
        uid: &str,
        annotations: &BTreeMap<String, String>,
        dry_run: bool,
    ) -> Result<(), KubeError> {
        let resource = kind.resource();
        check_name(resource.kind, name)?;
        let op = format!(
            "PATCH {} {}/{name} annotations{}",
            resource.kind,
            self.namespace,
            if dry_run { " (dry run)" } else { "" }
        );
        let patch = serde_json::json!({"metadata": {"uid": uid, "annotations": annotations}});
        let body = serde_json::to_vec(&patch).expect("a JSON value serialises");
        let mut url = self.url(resource.plural, name);
        if dry_run {
            url.push_str("?dryRun=All");
        }
        let (status, answer) = self.send("PATCH", &url, Some(&body), &op)?;
        match status {
            200 | 201 => Ok(()),
            // 422 from the API server (409 from older ones) when the UID does not match.
            409 | 422 if status_message(&answer).contains("uid") => Err(KubeError::Replaced {
                kind: resource.kind,
                name: name.to_owned(),
                namespace: self.namespace.clone(),
                uid: uid.to_owned(),
                message: status_message(&answer),
            }),
            _ => Err(self.error(status, &answer, "patch", resource, name, op)),
        }
    }

    fn error(
        &self,
        status: u16,
        body: &[u8],
        verb: &'static str,
        resource: Resource,
        name: &str,
        op: String,
    ) -> KubeError {
        let message = status_message(body);
        match status {
            401 => KubeError::Unauthorized { message },
            403 => KubeError::Forbidden {
                verb,
                resource: resource.plural,
                name: name.to_owned(),
                namespace: self.namespace.clone(),
                status,
                message,
            },
            404 => KubeError::NotFound {
                kind: resource.kind,
                name: name.to_owned(),
                namespace: self.namespace.clone(),
            },
            _ => KubeError::Status {
                op,
                status,
                message,
            },
        }
    }

    /// Sends a request; connection failures, 5xx, 408 and 429 are retried with backoff (or
    /// after the server's `Retry-After`) until the timeout. A PATCH is a merge of fixed values,
    /// so repeating it is harmless.
    fn send(
        &self,
        method: &'static str,
        url: &str,
        body: Option<&[u8]>,
        op: &str,
    ) -> Result<(u16, Vec<u8>), KubeError> {
        let mut request = net::Request::new(method, url, op)
            .header("Accept", "application/json")
            .credential(Some(&self.token))
            .policy(Policy {
                attempt_timeout: self.timeout,
                ..Policy::idempotent().within(self.timeout)
            })
            .max_body(MAX_BODY);
        if let Some(b) = body {
            request = request
                .header("Content-Type", "application/merge-patch+json")
                .body(b);
        }
        let transport = |message: String| KubeError::Transport {
            op: op.to_owned(),
            message,
        };
        match self.net.send(&request) {
            Ok(a) => Ok((a.status, a.body)),
            Err(e) => Err(match e.kind {
                ErrorKind::Deadline {
                    last: Last::Answer(a),
                    ..
                } => KubeError::Status {
                    op: op.to_owned(),
                    status: a.status,
                    message: status_message(&a.body),
                },
                ErrorKind::Deadline {
                    last: Last::Fault(f),
                    ..
                } => transport(format!("{f} (gave up after {:?})", self.timeout)),
                ErrorKind::Deadline {
                    last: Last::NoAttempt,
                    ..
                } => transport(format!("gave up after {:?}", self.timeout)),
                ErrorKind::Fault(f) => transport(f.to_string()),
                ErrorKind::Refused(m) | ErrorKind::Setup(m) => transport(m),
            }),
        }
    }
}

/// Object names and namespaces are DNS subdomains (RFC 1123): anything else would change the
/// request's path.
fn check_name(what: &str, name: &str) -> Result<(), KubeError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
        && !name.starts_with(['-', '.'])
        && !name.ends_with(['-', '.']);
    if ok {
        Ok(())
    } else {
        Err(KubeError::BadName(format!(
            "{what} name {name:?}: not a Kubernetes object name (lowercase letters, digits, '-' and '.')"
        )))
    }
}

/// The `message` of a Kubernetes `Status` body, or the start of the body, on one line.
fn status_message(body: &[u8]) -> String {
    let from_status = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned));
    let text = from_status.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let mut line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.len() > 300 {
        let mut cut = 300;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push('…');
    }
    if line.is_empty() {
        "(no message)".into()
    } else {
        line
    }
}
