//! A small OCI distribution client: what `storage oci` needs and nothing more.
//!
//! One [`Client`] per run: it reuses connections, resolves names without libc (see [`dns`]),
//! verifies TLS against the system roots plus `--registry-ca` (plain HTTP only for
//! `--insecure-registry` hosts), answers Basic and Bearer challenges with credentials from a
//! Docker `config.json` (see [`auth`]), and retries what is worth retrying (5xx, 429 with its
//! `Retry-After`, connection resets, timeouts) with jittered exponential backoff under one
//! overall deadline. Other 4xx answers fail at once with the registry's own message.

pub mod auth;
pub mod dns;
pub mod layout;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use auth::{Challenge, Credentials, Keychain};

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
        Instant::now() >= self.opts.deadline
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
    opts: Options,
    keychain: Keychain,
    resolver: Arc<dns::Resolver>,
    verified: OnceLock<Result<ureq::Agent, String>>,
    /// For plain-HTTP URLs (`--insecure-registry`). Built without TLS verification, so it is
    /// only ever used for `http://` URLs.
    plain: OnceLock<ureq::Agent>,
    /// `Authorization` values by registry and repository, learnt from challenges.
    auth: Mutex<HashMap<Repo, Zeroizing<String>>>,
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

/// What came back.
struct Answer {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Vec<u8>,
}

/// The largest response body read: manifests are at most 4 MiB in distribution.
const MAX_BODY: u64 = 8 * 1024 * 1024;

impl Client {
    pub fn new(opts: Options) -> Result<Self, RegistryError> {
        let keychain = Keychain::load(opts.docker_config.as_deref())
            .map_err(|e| RegistryError::Setup(e.to_string()))?;
        if let Some(src) = &keychain.source {
            tracing::debug!(file = %src.display(), "registry credentials");
        }
        Ok(Self {
            opts,
            keychain,
            resolver: Arc::new(dns::Resolver::from_system()),
            verified: OnceLock::new(),
            plain: OnceLock::new(),
            auth: Mutex::new(HashMap::new()),
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
        let media_type = header(&a.headers, "content-type").unwrap_or_default();
        Ok(Some(Manifest {
            bytes: a.body,
            media_type,
        }))
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
        let location = header(&a.headers, "location").ok_or_else(|| RegistryError::Transport {
            repo: repo.to_string(),
            op: format!("start upload of {digest}"),
            message: "202 without a Location header".into(),
        })?;
        let mut url = self.absolute(repo, &location);
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

    fn scheme(&self, registry: &str) -> &'static str {
        let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
        if self
            .opts
            .insecure_registries
            .iter()
            .any(|r| r == registry || r == host)
        {
            "http"
        } else {
            "https"
        }
    }

    /// Whether `url` is the registry's own scheme, host and port.
    fn same_origin(&self, repo: &Repo, url: &str) -> bool {
        let origin = format!("{}://{}/", self.scheme(&repo.registry), repo.registry);
        url.starts_with(&origin)
    }

    fn url(&self, repo: &Repo, path: &str) -> String {
        format!(
            "{}://{}/v2/{}/{path}",
            self.scheme(&repo.registry),
            repo.registry,
            repo.repository
        )
    }

    /// Resolves an upload `Location`, which may be relative to the registry.
    fn absolute(&self, repo: &Repo, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else {
            format!(
                "{}://{}{}{location}",
                self.scheme(&repo.registry),
                repo.registry,
                if location.starts_with('/') { "" } else { "/" }
            )
        }
    }

    /// Sends with auth, retries and the deadline. `expected` statuses are answers; 401 starts
    /// the challenge flow once; 408, 429 and 5xx and transport failures are retried.
    fn send(&self, repo: &Repo, call: Call<'_>, expected: &[u16]) -> Result<Answer, RegistryError> {
        let mut attempts = 0u32;
        let mut authorised_again = false;
        let mut backoff = Duration::from_millis(100);
        loop {
            attempts += 1;
            if Instant::now() >= self.opts.deadline {
                return Err(RegistryError::Deadline {
                    repo: repo.to_string(),
                    op: call.op,
                    attempts: attempts - 1,
                    last: "the registry timeout passed".into(),
                });
            }
            let auth = self
                .auth
                .lock()
                .expect("no panics while held")
                .get(repo)
                .cloned();
            let outcome = self.send_once(repo, &call, auth.as_deref().map(|s| s.as_str()));
            let wait = match outcome {
                Ok(a) if expected.contains(&a.status) => return Ok(a),
                Ok(a) if a.status == 401 && !authorised_again => {
                    authorised_again = true;
                    self.answer_challenge(repo, &call.op, &a)?;
                    continue;
                }
                Ok(a) if !call.retry && (a.status == 429 || a.status == 408 || a.status >= 500) => {
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
                Ok(a) if a.status == 429 || a.status == 408 || a.status >= 500 => {
                    // Retry-After is honoured as given (not jittered), up to a minute.
                    let retry_after = header(&a.headers, "retry-after")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(|s| Duration::from_secs(s.min(60)));
                    let last = format!("{} {}", a.status, registry_message(&a.body));
                    match retry_after {
                        Some(d) => (d, last),
                        None => (jitter(backoff), last),
                    }
                }
                Ok(a) => {
                    return Err(RegistryError::Status {
                        repo: repo.to_string(),
                        op: call.op,
                        status: a.status,
                        message: registry_message(&a.body),
                    });
                }
                Err(Failure::Retry(message)) if call.retry => (jitter(backoff), message),
                Err(Failure::Retry(message)) => {
                    return Err(RegistryError::Unavailable {
                        repo: repo.to_string(),
                        op: call.op,
                        message,
                    });
                }
                Err(Failure::Fatal(message)) => {
                    return Err(RegistryError::Transport {
                        repo: repo.to_string(),
                        op: call.op,
                        message,
                    });
                }
            };
            let (wait, last) = wait;
            if Instant::now()
                .checked_add(wait)
                .is_none_or(|t| t >= self.opts.deadline)
            {
                return Err(RegistryError::Deadline {
                    repo: repo.to_string(),
                    op: call.op,
                    attempts,
                    last,
                });
            }
            tracing::debug!(repo = %repo, op = %call.op, attempt = attempts, "retrying in {wait:?}: {last}");
            std::thread::sleep(wait);
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    fn send_once(
        &self,
        repo: &Repo,
        call: &Call<'_>,
        auth: Option<&str>,
    ) -> Result<Answer, Failure> {
        let agent = self.agent_for_url(&call.url).map_err(Failure::Fatal)?;
        let mut req = ureq::http::Request::builder()
            .method(call.method)
            .uri(&call.url);
        for (k, v) in &call.headers {
            req = req.header(*k, v);
        }
        // Credentials go to the registry itself and nowhere else.
        if let Some(a) = auth
            && self.same_origin(repo, &call.url)
        {
            req = req.header("Authorization", a);
        }
        // No single request outlives the overall deadline (nor a minute).
        let limit = self
            .opts
            .deadline
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(100), Duration::from_secs(60));
        let result = match call.body {
            Some(b) => {
                let req = req.body(b).map_err(|e| Failure::Fatal(e.to_string()))?;
                let req = agent
                    .configure_request(req)
                    .timeout_global(Some(limit))
                    .build();
                agent.run(req)
            }
            None => {
                let req = req.body(()).map_err(|e| Failure::Fatal(e.to_string()))?;
                let req = agent
                    .configure_request(req)
                    .timeout_global(Some(limit))
                    .build();
                agent.run(req)
            }
        };
        let mut resp = result.map_err(classify)?;
        let status = resp.status().as_u16();
        tracing::trace!(method = call.method, url = %call.url, status, "registry");
        let headers = resp.headers().clone();
        let body = if call.method == "HEAD" {
            Vec::new()
        } else {
            resp.body_mut()
                .with_config()
                .limit(MAX_BODY)
                .read_to_vec()
                .map_err(classify)?
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Learns how to authorise from a 401: Basic with the keychain's credentials, or a Bearer
    /// token from the realm (with those credentials, or anonymously).
    fn answer_challenge(&self, repo: &Repo, op: &str, a: &Answer) -> Result<(), RegistryError> {
        let auth_err = |message: String| RegistryError::Auth {
            repo: repo.to_string(),
            op: op.to_owned(),
            message,
        };
        let challenge = header(&a.headers, "www-authenticate")
            .and_then(|h| auth::parse_challenge(&h))
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
        let scope = format!("repository:{}:pull,push", repo.repository);
        let agent = self.agent_for_url(realm).map_err(auth_err)?;
        // The registry's credentials go to its token realm only over HTTPS, or to the
        // registry's own host.
        let host_only = |h: &str| h.rsplit_once(':').map_or(h, |(h, _)| h).to_owned();
        let realm_is_safe = realm.starts_with("https://")
            || realm_host(realm).is_some_and(|h| host_only(h) == host_only(&repo.registry));
        let creds = creds.filter(|_| realm_is_safe);
        let attempt = || -> Result<(u16, Vec<u8>), ureq::Error> {
            let response = match creds.and_then(|c| c.identity_token.as_ref()) {
                Some(refresh) => {
                    let mut form = format!(
                        "grant_type=refresh_token&client_id=chainlet&refresh_token={}&scope={}",
                        form_encode(refresh),
                        form_encode(&scope)
                    );
                    if let Some(s) = service {
                        form.push_str(&format!("&service={}", form_encode(s)));
                    }
                    let req = ureq::http::Request::builder()
                        .method("POST")
                        .uri(realm)
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .body(form.into_bytes())?;
                    agent.run(req)
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
                    let mut req = ureq::http::Request::builder().method("GET").uri(url);
                    if let Some(c) = creds {
                        req = req.header("Authorization", c.basic().as_str());
                    }
                    agent.run(req.body(())?)
                }
            };
            let mut resp = response?;
            let status = resp.status().as_u16();
            let body = resp
                .body_mut()
                .with_config()
                .limit(1024 * 1024)
                .read_to_vec()?;
            Ok((status, body))
        };
        // A token endpoint is a service of its own and has bad moments too: 5xx, 429 and
        // connection failures are retried, like registry requests, under the same deadline.
        let mut backoff = Duration::from_millis(100);
        let (status, body) = loop {
            let outcome = attempt();
            let retry = match &outcome {
                Ok((status, _)) => *status == 429 || *status >= 500,
                Err(e) => matches!(classify_ref(e), FailureKind::Retry),
            };
            let wait = jitter(backoff);
            if !retry
                || Instant::now()
                    .checked_add(wait)
                    .is_none_or(|t| t >= self.opts.deadline)
            {
                break outcome.map_err(|e| auth_err(format!("token request to {realm}: {e}")))?;
            }
            tracing::debug!(realm, "token request failed; retrying in {wait:?}");
            std::thread::sleep(wait);
            backoff = (backoff * 2).min(Duration::from_secs(5));
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

    /// The agent for a URL: plain HTTP needs no TLS; HTTPS is always verified, against the
    /// system roots and `--registry-ca`. Built on first use.
    fn agent_for_url(&self, url: &str) -> Result<&ureq::Agent, String> {
        if !url.starts_with("https://") {
            return Ok(self.plain.get_or_init(|| self.build_agent(None)));
        }
        self.verified
            .get_or_init(|| {
                let roots = root_certs(self.opts.extra_ca.as_deref())?;
                Ok(self.build_agent(Some(roots)))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn build_agent(&self, roots: Option<Vec<ureq::tls::Certificate<'static>>>) -> ureq::Agent {
        use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(provider);
        let tls = match roots {
            Some(r) => tls.root_certs(RootCerts::Specific(Arc::new(r))),
            None => tls.disable_verification(true),
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls.build())
            .user_agent(format!("chainlet/{}", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_per_call(Some(Duration::from_secs(60)))
            .max_idle_connections_per_host(16)
            .build();
        ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::new(),
            ResolverAdapter(self.resolver.clone()),
        )
    }
}

enum Failure {
    /// Worth another try (reset, timeout, refused).
    Retry(String),
    /// Retrying cannot help (bad URL, TLS verification failed, unknown host).
    Fatal(String),
}

enum FailureKind {
    Retry,
    Fatal,
}

/// Whether an error is connection trouble worth another try (also for the Kubernetes API).
pub(crate) fn is_connection_trouble(e: &ureq::Error) -> bool {
    matches!(classify_ref(e), FailureKind::Retry)
}

/// The pure-Rust resolver over the system's resolv.conf and hosts, for ureq.
pub(crate) fn system_resolver() -> ResolverAdapter {
    ResolverAdapter(Arc::new(dns::Resolver::from_system()))
}

/// Whether an error is connection trouble worth another try.
fn classify_ref(e: &ureq::Error) -> FailureKind {
    use std::io::ErrorKind as K;
    let retry = match e {
        ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed => true,
        ureq::Error::Io(io) => matches!(
            io.kind(),
            K::ConnectionReset
                | K::ConnectionAborted
                | K::ConnectionRefused
                | K::BrokenPipe
                | K::UnexpectedEof
                | K::TimedOut
                | K::Interrupted
                | K::NotConnected
        ),
        _ => false,
    };
    if retry {
        FailureKind::Retry
    } else {
        FailureKind::Fatal
    }
}

/// Connection trouble is retried; a TLS failure (an unknown CA, a wrong name) or a protocol
/// error is not: the next attempt would fail the same way.
fn classify(e: ureq::Error) -> Failure {
    match classify_ref(&e) {
        FailureKind::Retry => Failure::Retry(e.to_string()),
        FailureKind::Fatal => Failure::Fatal(e.to_string()),
    }
}

/// Plugs the pure-Rust resolver into ureq.
#[derive(Debug)]
pub(crate) struct ResolverAdapter(Arc<dns::Resolver>);

impl ureq::unversioned::resolver::Resolver for ResolverAdapter {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().ok_or(ureq::Error::HostNotFound)?;
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("http") {
                80
            } else {
                443
            });
        let ips = self.0.resolve(host).map_err(|e| {
            tracing::warn!("{e}");
            ureq::Error::HostNotFound
        })?;
        let mut out = self.empty();
        for ip in ips.into_iter().take(16) {
            out.push(std::net::SocketAddr::new(ip, port));
        }
        Ok(out)
    }
}

/// System roots (`SSL_CERT_FILE`, `SSL_CERT_DIR`, the distribution's bundle) plus `--registry-ca`.
fn root_certs(
    extra: Option<&std::path::Path>,
) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let mut out = Vec::new();
    for cert in rustls_native_certs::load_native_certs().certs {
        out.push(ureq::tls::Certificate::from_der(cert.as_ref()).to_owned());
    }
    if let Some(path) = extra {
        let pem = crate::fsread::read_limited(path, 4 * 1024 * 1024)
            .map_err(|e| format!("--registry-ca {}: {e}", path.display()))?;
        let mut found = 0;
        for item in ureq::tls::parse_pem(&pem) {
            if let Ok(ureq::tls::PemItem::Certificate(c)) = item {
                out.push(c);
                found += 1;
            }
        }
        if found == 0 {
            return Err(format!(
                "--registry-ca {}: no PEM certificate in it",
                path.display()
            ));
        }
    }
    if out.is_empty() {
        return Err("no CA certificates found (system store empty and no --registry-ca)".into());
    }
    Ok(out)
}

fn header(h: &ureq::http::HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
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

fn realm_host(realm: &str) -> Option<&str> {
    let rest = realm.split_once("://")?.1;
    Some(rest.split(['/', '?']).next().unwrap_or(rest))
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

/// A random 50–100% of `d`, so that writers that collided do not collide again.
pub fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let frac = 0.5 + (u16::from_ne_bytes(b) as f64 / u16::MAX as f64) * 0.5;
    d.mul_f64(frac)
}
