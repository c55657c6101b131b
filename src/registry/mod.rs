//! A small OCI distribution client: what `storage oci` needs and nothing more.
//!
//! One [`Client`] per run, over one [`net::Transport`]: TLS verified against the system roots
//! plus `--registry-ca`, plain HTTP only for `--insecure-registry` hosts, retries of what is
//! worth retrying (5xx, 408, 429 with its `Retry-After`, connection resets, timeouts) under the
//! run's deadline, names resolved without libc. What is the registry's own is here: the
//! distribution API's URLs and statuses, Basic and Bearer challenges answered with credentials
//! from a Docker `config.json` (see [`auth`]), and the registry's error messages. Other 4xx
//! answers fail at once with the registry's own message.

pub mod auth;
pub mod layout;
pub mod referrers;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::net::{self, Class, Credential, ErrorKind, HostPort, Last, Origin, Policy, Scheme};
use auth::{Challenge, Credentials, Keychain};

/// A random 50–100% of a wait (see [`net::jitter`]).
pub use crate::net::jitter;

/// Manifest media types asked for on every GET: distribution 2.8 answers 404 for an OCI
/// manifest, or down-converts a Docker one, unless the Accept header lists it.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json,\
application/vnd.docker.distribution.manifest.v2+json,\
application/vnd.oci.image.index.v1+json,\
application/vnd.docker.distribution.manifest.list.v2+json";

/// Where a repository lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repo {
    /// `host[:port]`.
    pub registry: String,
    pub repository: String,
}

impl std::fmt::Display for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)
    }
}

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct Options {
    /// `host[:port]` values reached over plain HTTP (`--insecure-registry`).
    pub insecure_registries: Vec<String>,
    /// Extra CA certificates (`--registry-ca`).
    pub extra_ca: Option<PathBuf>,
    /// `--docker-config`.
    pub docker_config: Option<PathBuf>,
    /// Everything, retries included, must be done by then.
    pub deadline: Instant,
    /// Only reads (`chainlet verify`): tokens are asked for the `pull` scope, which a
    /// read-only account gets, instead of `pull,push`.
    pub read_only: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{repo}: {op}: the registry answered {status}: {message}")]
    Status {
        repo: String,
        op: String,
        status: u16,
        message: String,
    },
    #[error("{repo}: {op}: {message}")]
    Transport {
        repo: String,
        op: String,
        message: String,
    },
    #[error("{repo}: {op}: still failing when the deadline passed ({attempts} attempts): {last}")]
    Deadline {
        repo: String,
        op: String,
        attempts: u32,
        last: String,
    },
    /// A failure worth another try that this request does not make itself (a manifest PUT):
    /// the caller reads again and retries.
    #[error("{repo}: {op}: {message}")]
    Unavailable {
        repo: String,
        op: String,
        message: String,
    },
    #[error("{repo}: {op}: {message}")]
    Auth {
        repo: String,
        op: String,
        message: String,
    },
    #[error("{0}")]
    Setup(String),
}

impl Client {
    /// Whether the overall registry deadline has passed.
    pub fn past_deadline(&self) -> bool {
        self.net.past_deadline()
    }
}

/// A fetched manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
}

/// One run's registry client.
pub struct Client {
    keychain: Keychain,
    net: net::Transport,
    /// `Authorization` values by registry and repository, learnt from challenges.
    auth: Mutex<HashMap<Repo, Zeroizing<String>>>,
    /// [`Options::read_only`].
    read_only: bool,
}

/// A request about to be sent.
struct Call<'a> {
    method: &'static str,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Option<&'a [u8]>,
    /// What the request is for, in errors ("PUT manifest sha256-….att").
    op: String,
    /// Whether a 5xx, 429 or connection failure may be retried with the same request. Not for
    /// a manifest PUT: its body was built from an earlier read, and the caller must read again.
    retry: bool,
}

type Answer = net::Response;

/// The largest response body read: manifests are at most 4 MiB in distribution.
const MAX_BODY: u64 = 8 * 1024 * 1024;

impl Client {
    pub fn new(opts: Options) -> Result<Self, RegistryError> {
        let mut plain_http = Vec::new();
        for value in &opts.insecure_registries {
            let hp = HostPort::parse(value.trim())
                .map_err(|e| RegistryError::Setup(format!("--insecure-registry {value:?}: {e}")))?;
            plain_http.push(hp);
        }
        let keychain = Keychain::load(opts.docker_config.as_deref())
            .map_err(|e| RegistryError::Setup(e.to_string()))?;
        if let Some(src) = &keychain.source {
            tracing::debug!(file = %src.display(), "registry credentials");
        }
        let extra = opts
            .extra_ca
            .iter()
            .map(|path| net::tls::ExtraCa::File {
                flag: "--registry-ca".into(),
                path: path.clone(),
            })
            .collect();
        let net = net::Transport::new(net::Options {
            deadline: opts.deadline,
            plain_http,
            trust: net::tls::Trust::system_and(extra, "--registry-ca"),
        });
        Ok(Self {
            keychain,
            net,
            auth: Mutex::new(HashMap::new()),
            read_only: opts.read_only,
        })
    }

    /// The manifest at `reference` (tag or digest), or `None` when there is none.
    pub fn get_manifest(
        &self,
        repo: &Repo,
        reference: &str,
    ) -> Result<Option<Manifest>, RegistryError> {
        let call = Call {
            method: "GET",
            url: self.url(repo, &format!("manifests/{reference}")),
            headers: vec![("Accept", MANIFEST_ACCEPT.to_owned())],
            body: None,
            op: format!("GET manifest {reference}"),
            retry: true,
        };
        let a = self.send(repo, call, &[200, 404])?;
        if a.status == 404 {
            return Ok(None);
        }
        let media_type = a.header("content-type").unwrap_or_default().to_owned();
        Ok(Some(Manifest {
            bytes: a.body,
            media_type,
        }))
    }

    /// The blob `digest` (redirects to blob storage followed, without credentials), or `None`
    /// when the repository has none. The bytes are as served: the caller checks them against
    /// the digest.
    pub fn get_blob(&self, repo: &Repo, digest: &str) -> Result<Option<Vec<u8>>, RegistryError> {
        let call = Call {
            method: "GET",
            url: self.url(repo, &format!("blobs/{digest}")),
            headers: vec![],
            body: None,
            op: format!("GET blob {digest}"),
            retry: true,
        };
        let a = self.send(repo, call, &[200, 404])?;
        Ok((a.status == 200).then_some(a.body))
    }

    /// Uploads a blob unless the repository has it already: HEAD, then POST and one PUT with
    /// the whole blob (blobs here are small).
    pub fn push_blob(&self, repo: &Repo, bytes: &[u8]) -> Result<String, RegistryError> {
        let digest = sha256_digest(bytes);
        let head = Call {
            method: "HEAD",
            url: self.url(repo, &format!("blobs/{digest}")),
            headers: vec![],
            body: None,
            op: format!("HEAD blob {digest}"),
            retry: true,
        };
        if self.send(repo, head, &[200, 404])?.status == 200 {
            return Ok(digest);
        }
        self.upload_blob(repo, bytes)
    }

    /// Uploads a blob without asking first: for a blob that is almost certainly new (a config
    /// just computed), one round trip fewer. Uploading a blob the registry has is harmless.
    pub fn upload_blob(&self, repo: &Repo, bytes: &[u8]) -> Result<String, RegistryError> {
        let digest = sha256_digest(bytes);
        let start = Call {
            method: "POST",
            url: self.url(repo, "blobs/uploads/"),
            headers: vec![("Content-Length", "0".into())],
            body: None,
            op: format!("start upload of {digest}"),
            retry: true,
        };
        let a = self.send(repo, start, &[202])?;
        let location = a
            .header("location")
            .ok_or_else(|| RegistryError::Transport {
                repo: repo.to_string(),
                op: format!("start upload of {digest}"),
                message: "202 without a Location header".into(),
            })?;
        let mut url =
            self.absolute(repo, location)
                .map_err(|message| RegistryError::Transport {
                    repo: repo.to_string(),
                    op: format!("start upload of {digest}"),
                    message,
                })?;
        if !self.same_origin(repo, &url) {
            return Err(RegistryError::Transport {
                repo: repo.to_string(),
                op: format!("start upload of {digest}"),
                message: format!(
                    "the registry sent the upload to {url}, another host or scheme; chainlet sends \
                     uploads (and credentials) only to the registry itself"
                ),
            });
        }
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("digest={digest}"));
        let put = Call {
            method: "PUT",
            url,
            headers: vec![("Content-Type", "application/octet-stream".into())],
            body: Some(bytes),
            op: format!("upload blob {digest}"),
            retry: true,
        };
        self.send(repo, put, &[201, 204])?;
        Ok(digest)
    }

    /// PUTs a manifest under a tag; returns its digest.
    pub fn put_manifest(
        &self,
        repo: &Repo,
        tag: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<String, RegistryError> {
        let call = Call {
            method: "PUT",
            url: self.url(repo, &format!("manifests/{tag}")),
            headers: vec![("Content-Type", media_type.to_owned())],
            body: Some(bytes),
            op: format!("PUT manifest {tag}"),
            retry: false,
        };
        self.send(repo, call, &[200, 201, 202])?;
        Ok(sha256_digest(bytes))
    }

    fn scheme(&self, registry: &str) -> Scheme {
        self.net.scheme_for(registry)
    }

    /// The registry's own scheme, host and port: where its credentials may go.
    fn origin(&self, repo: &Repo) -> Result<Origin, String> {
        Origin::of_host(self.scheme(&repo.registry), &repo.registry)
            .map_err(|e| format!("registry {:?}: {e}", repo.registry))
    }

    /// Whether `url` is the registry's own scheme, host and port.
    fn same_origin(&self, repo: &Repo, url: &str) -> bool {
        match (self.origin(repo), Origin::of_url(url)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }

    fn url(&self, repo: &Repo, path: &str) -> String {
        format!(
            "{}://{}/v2/{}/{path}",
            self.scheme(&repo.registry).as_str(),
            repo.registry,
            repo.repository
        )
    }

    /// Resolves an upload `Location`, which may be relative to the registry.
    fn absolute(&self, repo: &Repo, location: &str) -> Result<String, String> {
        Ok(net::origin::absolute(&self.origin(repo)?, location))
    }

    /// Sends with auth, retries and the deadline. `expected` statuses are answers; 401 starts
    /// the challenge flow once; 408, 429 and 5xx and transport failures are retried (by the
    /// transport) when the call allows it.
    fn send(&self, repo: &Repo, call: Call<'_>, expected: &[u16]) -> Result<Answer, RegistryError> {
        let transport = |message: String| RegistryError::Transport {
            repo: repo.to_string(),
            op: call.op.clone(),
            message,
        };
        let origin = self.origin(repo).map_err(transport)?;
        // Attempts before a challenge was answered, for the count in a deadline error.
        let mut earlier_attempts = 0u32;
        let mut authorised_again = false;
        loop {
            let credential = self
                .auth
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(repo)
                .map(|v| Credential::new(origin.clone(), v.clone()));
            let request = net::Request {
                method: call.method,
                url: call.url.clone(),
                headers: call.headers.clone(),
                body: call.body,
                credential: credential.as_ref(),
                op: call.op.clone(),
                policy: if call.retry {
                    Policy::idempotent()
                } else {
                    Policy::once()
                },
                max_body: MAX_BODY,
                plain_http_named_by_server: false,
            };
            match self.net.send(&request) {
                Ok(a) if expected.contains(&a.status) => return Ok(a),
                Ok(a) if a.status == 401 && !authorised_again => {
                    authorised_again = true;
                    earlier_attempts += 1;
                    self.answer_challenge(repo, &call.op, &a)?;
                }
                // Only when the call is not retried here: the caller reads again and retries.
                Ok(a) if a.class() == Class::Retryable => {
                    return Err(RegistryError::Unavailable {
                        repo: repo.to_string(),
                        op: call.op,
                        message: format!(
                            "the registry answered {}: {}",
                            a.status,
                            registry_message(&a.body)
                        ),
                    });
                }
                Ok(a) => {
                    return Err(RegistryError::Status {
                        repo: repo.to_string(),
                        op: call.op,
                        status: a.status,
                        message: registry_message(&a.body),
                    });
                }
                Err(e) => {
                    return Err(match e.kind {
                        ErrorKind::Deadline { attempts, last } => RegistryError::Deadline {
                            repo: repo.to_string(),
                            op: call.op,
                            attempts: earlier_attempts + attempts,
                            last: match last {
                                Last::NoAttempt => "the registry timeout passed".into(),
                                Last::Answer(a) => {
                                    format!("{} {}", a.status, registry_message(&a.body))
                                }
                                Last::Fault(f) => f.to_string(),
                            },
                        },
                        ErrorKind::Fault(f) if f.class() == Class::Retryable => {
                            RegistryError::Unavailable {
                                repo: repo.to_string(),
                                op: call.op,
                                message: f.to_string(),
                            }
                        }
                        ErrorKind::Fault(f) => transport(f.to_string()),
                        ErrorKind::Refused(m) | ErrorKind::Setup(m) => transport(m),
                    });
                }
            }
        }
    }

    /// Learns how to authorise from a 401: Basic with the keychain's credentials, or a Bearer
    /// token from the realm (with those credentials, or anonymously).
    fn answer_challenge(&self, repo: &Repo, op: &str, a: &Answer) -> Result<(), RegistryError> {
        let auth_err = |message: String| RegistryError::Auth {
            repo: repo.to_string(),
            op: op.to_owned(),
            message,
        };
        let challenge = a
            .header("www-authenticate")
            .and_then(auth::parse_challenge)
            .ok_or_else(|| auth_err("401 without a Basic or Bearer challenge".into()))?;
        let creds = self.keychain.lookup(&repo.registry, &repo.repository);
        let value = match challenge {
            Challenge::Basic => {
                let creds = creds.ok_or_else(|| auth_err(self.no_credentials(&repo.registry)))?;
                creds.basic()
            }
            Challenge::Bearer { realm, service, .. } => {
                let token = self.fetch_token(repo, &realm, service.as_deref(), creds, op)?;
                Zeroizing::new(format!("Bearer {}", *token))
            }
        };
        self.auth
            .lock()
            .expect("no panics while held")
            .insert(repo.clone(), value);
        Ok(())
    }

    fn no_credentials(&self, registry: &str) -> String {
        match &self.keychain.source {
            Some(p) => format!(
                "authentication required and {} has no credentials for {registry}",
                p.display()
            ),
            None => format!(
                "authentication required and no Docker config.json was found (--docker-config, \
                 $DOCKER_CONFIG or ~/.docker) with credentials for {registry}"
            ),
        }
    }

    /// The token flow: `GET realm?service=…&scope=repository:<repo>:pull,push` with Basic
    /// credentials, or a `POST` refresh-token grant for an identity token.
    fn fetch_token(
        &self,
        repo: &Repo,
        realm: &str,
        service: Option<&str>,
        creds: Option<&Credentials>,
        op: &str,
    ) -> Result<Zeroizing<String>, RegistryError> {
        let auth_err = |message: String| RegistryError::Auth {
            repo: repo.to_string(),
            op: op.to_owned(),
            message,
        };
        let actions = if self.read_only { "pull" } else { "pull,push" };
        let scope = format!("repository:{}:{actions}", repo.repository);
        let realm_origin = Origin::of_url(realm).map_err(&auth_err)?;
        // The registry's credentials go to its token realm only over HTTPS, or to the
        // registry's own host (on any port).
        let realm_is_safe = realm_origin.scheme == Scheme::Https
            || HostPort::parse(&repo.registry).is_ok_and(|r| r.host == realm_origin.host);
        let creds = creds.filter(|_| realm_is_safe);
        let form;
        let basic;
        // A token endpoint is a service of its own and has bad moments too: 5xx, 429 and
        // connection failures are retried, like registry requests, under the same deadline.
        let mut request = match creds.and_then(|c| c.identity_token.as_ref()) {
            Some(refresh) => {
                let mut f = format!(
                    "grant_type=refresh_token&client_id=chainlet&refresh_token={}&scope={}",
                    form_encode(refresh),
                    form_encode(&scope)
                );
                if let Some(s) = service {
                    f.push_str(&format!("&service={}", form_encode(s)));
                }
                form = Zeroizing::new(f);
                net::Request::new("POST", realm, format!("token request to {realm}"))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(form.as_bytes())
            }
            None => {
                let mut url = format!(
                    "{realm}{}scope={}",
                    if realm.contains('?') { '&' } else { '?' },
                    form_encode(&scope)
                );
                if let Some(s) = service {
                    url.push_str(&format!("&service={}", form_encode(s)));
                }
                basic = creds.map(|c| Credential::new(realm_origin.clone(), c.basic()));
                net::Request::new("GET", url, format!("token request to {realm}"))
                    .credential(basic.as_ref())
            }
        };
        // The realm is the registry's choice, plain HTTP or not (as distribution's own token
        // setups often are); credentials go with it only under the rule above.
        request.plain_http_named_by_server = true;
        let (status, body) = match self.net.send(&request.max_body(1024 * 1024)) {
            Ok(a) => (a.status, a.body),
            Err(e) => match e.kind {
                ErrorKind::Deadline {
                    last: Last::Answer(a),
                    ..
                } => (a.status, a.body),
                ErrorKind::Deadline {
                    last: Last::Fault(f),
                    ..
                }
                | ErrorKind::Fault(f) => {
                    return Err(auth_err(format!("token request to {realm}: {f}")));
                }
                ErrorKind::Deadline {
                    last: Last::NoAttempt,
                    ..
                } => {
                    return Err(auth_err(format!(
                        "token request to {realm}: the registry timeout passed"
                    )));
                }
                ErrorKind::Refused(m) | ErrorKind::Setup(m) => {
                    return Err(auth_err(format!("token request to {realm}: {m}")));
                }
            },
        };
        if status != 200 {
            return Err(auth_err(format!(
                "token request to {realm} answered {status}{}",
                if creds.is_none() {
                    format!(" ({})", self.no_credentials(&repo.registry))
                } else {
                    String::new()
                }
            )));
        }
        serde_json::from_slice::<auth::TokenResponse>(&body)
            .ok()
            .and_then(auth::TokenResponse::into_token)
            .ok_or_else(|| auth_err(format!("token response from {realm} has no token")))
    }
}

/// The registry's error text: `{"errors":[{"code":…,"message":…}]}`, or the body's start.
fn registry_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(e) = serde_json::from_slice::<Errors>(body)
        && !e.errors.is_empty()
    {
        return e
            .errors
            .iter()
            .map(|e| format!("{} {}", e.code, e.message).trim().to_owned())
            .collect::<Vec<_>>()
            .join("; ");
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        "(no message)".into()
    } else {
        text
    }
}

fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `sha256:<hex>` of some bytes: a blob's or manifest's OCI digest.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
