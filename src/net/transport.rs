//! The transport itself: agents, one attempt (with its redirects), and the retry loop.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use zeroize::Zeroizing;

use super::error::{Class, Error, ErrorKind, Fault, Last, classify_status};
use super::origin::{self, HostPort, Origin, Scheme};
use super::resolve::Resolver;
use super::retry::{Backoff, Policy, retry_after};
use super::tls::Trust;

/// How a transport reaches servers.
#[derive(Debug, Clone)]
pub struct Options {
    /// No request outlives it, retries included: the run's deadline.
    pub deadline: Instant,
    /// Origins reached over plain HTTP (`--insecure-registry`); a host without port covers
    /// all its ports.
    pub plain_http: Vec<HostPort>,
    /// What HTTPS is verified against.
    pub trust: Trust,
}

/// One run's HTTP transport for one kind of server. It keeps connections, TLS roots and name
/// answers for its lifetime.
pub struct Transport {
    deadline: Instant,
    plain_http: Vec<HostPort>,
    trust: Trust,
    resolver: Arc<Resolver>,
    /// Built on the first HTTPS request: loading the roots can fail, and a run that talks only
    /// plain HTTP must not fail on it.
    verified: OnceLock<Result<ureq::Agent, String>>,
    plain: OnceLock<ureq::Agent>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("deadline", &self.deadline)
            .field("plain_http", &self.plain_http)
            .finish_non_exhaustive()
    }
}

/// A credential (an `Authorization` value) and the one origin it may be sent to.
pub struct Credential {
    origin: Origin,
    value: Zeroizing<String>,
}

impl Credential {
    pub fn new(origin: Origin, value: Zeroizing<String>) -> Self {
        Self { origin, value }
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// A request, as plain data.
pub struct Request<'a> {
    pub method: &'static str,
    /// Absolute `http://` or `https://` URL.
    pub url: String,
    /// Anything but `Authorization`, which is a [`Credential`].
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<&'a [u8]>,
    /// Sent only when the URL is the credential's origin (not after a redirect).
    pub credential: Option<&'a Credential>,
    /// What the request is for, in errors and logs ("PUT manifest sha256-….att").
    pub op: String,
    pub policy: Policy,
    /// The most body bytes read; a larger answer is a [`Fault::TooLarge`].
    pub max_body: u64,
    /// The caller vouches for plain HTTP to this URL (not to where it redirects): a URL a
    /// plain-HTTP server named itself, such as a registry's token realm.
    pub plain_http_named_by_server: bool,
}

/// Without the body, which may hold a secret (a refresh-token grant).
impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("op", &self.op)
            .field("body_len", &self.body.map(<[u8]>::len))
            .field("credential", &self.credential)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<'a> Request<'a> {
    /// A request with no headers, no body, no credential, [`Policy::idempotent`] and a 1 MiB
    /// body limit.
    pub fn new(method: &'static str, url: impl Into<String>, op: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            credential: None,
            op: op.into(),
            policy: Policy::idempotent(),
            max_body: 1024 * 1024,
            plain_http_named_by_server: false,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: &'a [u8]) -> Self {
        self.body = Some(body);
        self
    }

    pub fn credential(mut self, credential: Option<&'a Credential>) -> Self {
        self.credential = credential;
        self
    }

    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    pub fn max_body(mut self, limit: u64) -> Self {
        self.max_body = limit;
        self
    }
}

/// An HTTP answer, read whole (up to the request's limit).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
    /// Where the answer came from, after redirects.
    pub url: String,
}

impl Response {
    /// A header's value, when it is there and is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn class(&self) -> Class {
        classify_status(self.status)
    }

    /// The `Retry-After` the server asked for, if it is readable.
    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(self.header("retry-after")?, SystemTime::now())
    }
}

/// Redirects followed per attempt.
const MAX_REDIRECTS: usize = 5;

/// Why one attempt produced no answer.
enum AttemptError {
    /// Not sent, and never will be (refused, or no TLS roots).
    Kind(ErrorKind),
    Fault(Fault),
}

impl Transport {
    pub fn new(opts: Options) -> Self {
        Self {
            deadline: opts.deadline,
            plain_http: opts.plain_http,
            trust: opts.trust,
            resolver: Arc::new(Resolver::from_system()),
            verified: OnceLock::new(),
            plain: OnceLock::new(),
        }
    }

    /// The same transport with another resolver (tests).
    pub fn with_resolver(mut self, resolver: Resolver) -> Self {
        self.resolver = Arc::new(resolver);
        self
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    pub fn past_deadline(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Whether plain HTTP may go to this `host[:port]`.
    pub fn allows_plain_http(&self, target: &HostPort) -> bool {
        self.plain_http.iter().any(|entry| entry.covers(target))
    }

    /// `http` for allow-listed `host[:port]`s, `https` for everything else.
    pub fn scheme_for(&self, host_port: &str) -> Scheme {
        match HostPort::parse(host_port) {
            Ok(hp) if self.allows_plain_http(&hp) => Scheme::Http,
            _ => Scheme::Https,
        }
    }

    /// Sends a request: retries what the policy allows while the deadline does, and returns the
    /// first answer that is final (any status not 5xx, 408 or 429), or any answer when the
    /// policy does not retry. Statuses are the caller's to judge.
    pub fn send(&self, req: &Request<'_>) -> Result<Response, Error> {
        let err = |kind| Error {
            op: req.op.clone(),
            kind,
        };
        if req
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        {
            return Err(err(ErrorKind::Refused(
                "an Authorization header must be a Credential, bound to its origin".into(),
            )));
        }
        let deadline = match req.policy.budget {
            Some(b) => Instant::now()
                .checked_add(b)
                .map_or(self.deadline, |d| d.min(self.deadline)),
            None => self.deadline,
        };
        let mut backoff = Backoff::new(&req.policy);
        let mut attempts = 0u32;
        let mut last = Last::NoAttempt;
        loop {
            if Instant::now() >= deadline {
                return Err(err(ErrorKind::Deadline { attempts, last }));
            }
            attempts += 1;
            let (retry_after, outcome) = match self.attempt(req, deadline) {
                Ok(a) if a.class() == Class::Final || !req.policy.retry => return Ok(a),
                Ok(a) => (a.retry_after(), Last::Answer(Box::new(a))),
                Err(AttemptError::Kind(kind)) => return Err(err(kind)),
                Err(AttemptError::Fault(f)) if f.class() == Class::Final || !req.policy.retry => {
                    return Err(err(ErrorKind::Fault(f)));
                }
                Err(AttemptError::Fault(f)) => (None, Last::Fault(f)),
            };
            let wait = backoff.wait(retry_after, req.policy.max_retry_after);
            if Instant::now()
                .checked_add(wait)
                .is_none_or(|t| t >= deadline)
            {
                return Err(err(ErrorKind::Deadline {
                    attempts,
                    last: outcome,
                }));
            }
            tracing::debug!(op = %req.op, attempt = attempts, "retrying in {wait:?}: {outcome}");
            std::thread::sleep(wait);
            last = outcome;
        }
    }

    /// One attempt, following redirects without the credential.
    fn attempt(&self, req: &Request<'_>, deadline: Instant) -> Result<Response, AttemptError> {
        let refused = |m: String| AttemptError::Kind(ErrorKind::Refused(m));
        let mut url = req.url.clone();
        let mut method = req.method;
        let mut body = req.body;
        let mut credential = req.credential;
        let mut hops = 0;
        loop {
            let origin = Origin::of_url(&url).map_err(refused)?;
            if origin.scheme == Scheme::Http
                && !(hops == 0 && req.plain_http_named_by_server)
                && !self.allows_plain_http(&HostPort {
                    host: origin.host.clone(),
                    port: Some(origin.port),
                })
            {
                return Err(refused(format!(
                    "{url}: plain HTTP goes only to hosts on the allow-list{}",
                    if hops > 0 {
                        " (a redirect led there)"
                    } else {
                        ""
                    }
                )));
            }
            let agent = self
                .agent(origin.scheme)
                .map_err(|e| AttemptError::Kind(ErrorKind::Setup(e)))?;
            let mut builder = ureq::http::Request::builder().method(method).uri(&url);
            for (k, v) in &req.headers {
                builder = builder.header(*k, v);
            }
            if let Some(c) = credential {
                if c.origin == origin {
                    builder = builder.header("Authorization", c.value.as_str());
                } else {
                    tracing::debug!(op = %req.op, for_origin = %c.origin, %url, "credential not sent: another origin");
                }
            }
            // No attempt outlives the deadline, nor the policy's limit for one attempt.
            let limit = deadline
                .saturating_duration_since(Instant::now())
                .min(req.policy.attempt_timeout)
                .max(Duration::from_millis(100));
            let protocol =
                |e: ureq::http::Error| AttemptError::Fault(Fault::Protocol(e.to_string()));
            let result = match body {
                Some(b) => {
                    let r = builder.body(b).map_err(protocol)?;
                    let r = agent
                        .configure_request(r)
                        .timeout_global(Some(limit))
                        .build();
                    agent.run(r)
                }
                None => {
                    let r = builder.body(()).map_err(protocol)?;
                    let r = agent
                        .configure_request(r)
                        .timeout_global(Some(limit))
                        .build();
                    agent.run(r)
                }
            };
            let fault = |e| AttemptError::Fault(Fault::from_ureq(e, req.max_body));
            let mut resp = result.map_err(fault)?;
            let status = resp.status().as_u16();
            tracing::trace!(method, %url, status, op = %req.op, "http");
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if let (301 | 302 | 303 | 307 | 308, Some(location), true) =
                (status, location, hops < MAX_REDIRECTS)
            {
                hops += 1;
                // Credentials were meant for the URL asked for, not for where it points.
                credential = None;
                (method, body) = match (status, method) {
                    (303, "HEAD") => ("HEAD", None),
                    (303, _) | (301 | 302, "POST") => ("GET", None),
                    _ => (method, body),
                };
                url = origin::absolute(&origin, &location);
                tracing::debug!(op = %req.op, %url, status, "following a redirect");
                continue;
            }
            let headers = resp.headers().clone();
            let body = if method == "HEAD" {
                Vec::new()
            } else {
                resp.body_mut()
                    .with_config()
                    .limit(req.max_body)
                    .read_to_vec()
                    .map_err(fault)?
            };
            return Ok(Response {
                status,
                headers,
                body,
                url,
            });
        }
    }

    /// The agent for a scheme: HTTPS always verified against the trust roots; plain HTTP with
    /// no roots at all, so that it can never complete a TLS handshake by mistake.
    fn agent(&self, scheme: Scheme) -> Result<&ureq::Agent, String> {
        match scheme {
            Scheme::Http => Ok(self.plain.get_or_init(|| self.build_agent(None))),
            Scheme::Https => self
                .verified
                .get_or_init(|| Ok(self.build_agent(Some(self.trust.load()?))))
                .as_ref()
                .map_err(Clone::clone),
        }
    }

    fn build_agent(&self, roots: Option<Arc<Vec<ureq::tls::Certificate<'static>>>>) -> ureq::Agent {
        use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let https = roots.is_some();
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(provider)
            .root_certs(RootCerts::Specific(roots.unwrap_or_default()))
            .build();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .https_only(https)
            // Redirects are followed here, by `attempt`, which checks each target.
            .max_redirects(0)
            .tls_config(tls)
            .user_agent(format!("chainlet/{}", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(10)))
            .max_idle_connections_per_host(16)
            .build();
        ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::new(),
            ResolverAdapter {
                resolver: self.resolver.clone(),
                deadline: self.deadline,
            },
        )
    }
}

/// Plugs the pure-Rust resolver into ureq, bounded by the attempt's timeout and the deadline.
#[derive(Debug)]
struct ResolverAdapter {
    resolver: Arc<Resolver>,
    deadline: Instant,
}

impl ureq::unversioned::resolver::Resolver for ResolverAdapter {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        use ureq::unversioned::transport::time::Duration as Next;
        let host = uri.host().ok_or(ureq::Error::HostNotFound)?;
        // `Uri::port_u16` reads an out-of-range port as no port; the port is read here (and
        // was checked by `Origin::of_url` before the request), never defaulted over.
        let port = match uri.port() {
            Some(p) => origin::parse_port(p.as_str())
                .map_err(|e| ureq::Error::BadUri(format!("{uri}: {e}")))?,
            None if uri.scheme_str() == Some("http") => 80,
            None => 443,
        };
        let mut until = self.deadline;
        if let Next::Exact(d) = timeout.after
            && let Some(t) = std::time::Instant::now().checked_add(d)
        {
            until = until.min(t);
        }
        let ips = self.resolver.resolve(host, until).map_err(|e| {
            tracing::warn!("{e}");
            match e {
                super::resolve::DnsError::NotFound { .. } => ureq::Error::HostNotFound,
                // No server answered in time: connection trouble, worth another attempt.
                e @ super::resolve::DnsError::NoAnswer { .. } => ureq::Error::Io(
                    std::io::Error::new(std::io::ErrorKind::TimedOut, e.to_string()),
                ),
            }
        })?;
        let mut out = self.empty();
        for ip in ips.into_iter().take(16) {
            out.push(std::net::SocketAddr::new(ip, port));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    use std::net::TcpListener;
    use std::sync::Mutex;

    /// An HTTP server on loopback that answers each request with the next scripted response
    /// (then closes the connection) and keeps every request's head.
    struct Script {
        addr: String,
        heads: Arc<Mutex<Vec<String>>>,
    }

    impl Script {
        fn start(responses: Vec<String>) -> Script {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            let heads = Arc::new(Mutex::new(Vec::new()));
            let seen = heads.clone();
            std::thread::spawn(move || {
                let mut responses = responses.into_iter();
                for conn in listener.incoming().flatten() {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                            break;
                        }
                        head.push_str(&line);
                    }
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    seen.lock().unwrap().push(head);
                    let Some(response) = responses.next() else {
                        return;
                    };
                    let mut conn = conn;
                    let _ = conn.write_all(response.as_bytes());
                }
            });
            Script { addr, heads }
        }

        fn heads(&self) -> Vec<String> {
            self.heads.lock().unwrap().clone()
        }
    }

    fn answer(status: &str, headers: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    fn transport(plain: &[&str], within: Duration) -> Transport {
        Transport::new(Options {
            deadline: Instant::now() + within,
            plain_http: plain.iter().map(|p| HostPort::parse(p).unwrap()).collect(),
            trust: Trust {
                system: false,
                extra: vec![],
                extra_flag: None,
            },
        })
        .with_resolver(Resolver::from_parts(b"", ""))
    }

    fn credential(url: &str) -> Credential {
        Credential::new(
            Origin::of_url(url).unwrap(),
            Zeroizing::new("Bearer s3cret".into()),
        )
    }

    #[test]
    fn credentials_go_to_their_origin_only_and_never_through_a_redirect() {
        let target = Script::start(vec![answer("200 OK", "", "moved here")]);
        let first = Script::start(vec![answer(
            "307 Temporary Redirect",
            &format!("Location: http://{}/elsewhere\r\n", target.addr),
            "",
        )]);
        let net = transport(&["127.0.0.1"], Duration::from_secs(10));
        let url = format!("http://{}/start", first.addr);
        let cred = credential(&url);
        let a = net
            .send(&Request::new("GET", &url, "test").credential(Some(&cred)))
            .unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"moved here"[..]));
        assert!(
            first.heads()[0].contains("Bearer s3cret"),
            "{:?}",
            first.heads()
        );
        assert!(
            !target.heads()[0].contains("s3cret"),
            "{:?}",
            target.heads()
        );
        // A credential for another origin (same host, another port) is not sent at all.
        let other = Script::start(vec![answer("200 OK", "", "")]);
        let url = format!("http://{}/", other.addr);
        net.send(&Request::new("GET", &url, "test").credential(Some(&cred)))
            .unwrap();
        assert!(!other.heads()[0].contains("s3cret"));
    }

    #[test]
    fn plain_http_goes_only_to_the_allow_list_and_redirects_do_not_escape_it() {
        let server = Script::start(vec![]);
        let net = transport(&["127.0.0.2"], Duration::from_secs(10));
        let e = net
            .send(&Request::new(
                "GET",
                format!("http://{}/", server.addr),
                "probe",
            ))
            .unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Refused(_)), "{e}");
        assert!(e.to_string().starts_with("probe: "), "{e}");

        let target = Script::start(vec![answer("200 OK", "", "")]);
        let first = Script::start(vec![answer(
            "302 Found",
            &format!("Location: http://{}/\r\n", target.addr),
            "",
        )]);
        let net = transport(&[&first.addr], Duration::from_secs(10));
        let e = net
            .send(&Request::new(
                "GET",
                format!("http://{}/", first.addr),
                "probe",
            ))
            .unwrap_err();
        assert!(e.to_string().contains("redirect"), "{e}");
        std::thread::sleep(Duration::from_millis(50));
        assert!(server.heads().is_empty() && target.heads().is_empty());
    }

    #[test]
    fn a_port_outside_1_to_65535_is_refused_before_connecting() {
        let net = transport(&["127.0.0.1"], Duration::from_secs(10));
        for url in ["http://127.0.0.1:99999/v2/", "http://127.0.0.1:0/v2/"] {
            let e = net.send(&Request::new("GET", url, "probe")).unwrap_err();
            assert!(matches!(e.kind, ErrorKind::Refused(_)), "{e}");
            assert!(e.to_string().contains(url), "{e}");
        }
    }

    #[test]
    fn a_503_is_retried_after_its_retry_after_and_a_404_is_not_retried() {
        let server = Script::start(vec![
            answer("503 Service Unavailable", "Retry-After: 1\r\n", "busy"),
            answer("200 OK", "", "done"),
            answer("404 Not Found", "", ""),
            answer("200 OK", "", "never asked"),
        ]);
        let net = transport(&["127.0.0.1"], Duration::from_secs(10));
        let url = format!("http://{}/", server.addr);
        let start = Instant::now();
        let a = net.send(&Request::new("GET", &url, "get")).unwrap();
        assert_eq!(a.body, b"done");
        assert!(
            start.elapsed() >= Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        let a = net.send(&Request::new("GET", &url, "get")).unwrap();
        assert_eq!(a.status, 404);
        assert_eq!(server.heads().len(), 3);
    }

    #[test]
    fn retries_stop_at_the_deadline_with_the_last_answer() {
        let server = Script::start(vec![answer("503 Service Unavailable", "", "busy"); 100]);
        let net = transport(&["127.0.0.1"], Duration::from_millis(600));
        let start = Instant::now();
        let e = net
            .send(&Request::new(
                "GET",
                format!("http://{}/", server.addr),
                "get",
            ))
            .unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        match e.kind {
            ErrorKind::Deadline {
                attempts,
                last: Last::Answer(a),
            } => {
                assert!(attempts >= 2, "{attempts}");
                assert_eq!((a.status, a.body.as_slice()), (503, &b"busy"[..]));
            }
            other => panic!("{other}"),
        }
        // A Retry-After beyond the deadline is not waited for.
        let server = Script::start(vec![answer(
            "429 Too Many Requests",
            "Retry-After: 30\r\n",
            "",
        )]);
        let start = Instant::now();
        let e = transport(&["127.0.0.1"], Duration::from_secs(5))
            .send(&Request::new(
                "GET",
                format!("http://{}/", server.addr),
                "get",
            ))
            .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(
            matches!(e.kind, ErrorKind::Deadline { attempts: 1, .. }),
            "{e}"
        );
    }

    #[test]
    fn one_attempt_policies_return_a_503_as_an_answer() {
        let server = Script::start(vec![answer("503 Service Unavailable", "", "")]);
        let net = transport(&["127.0.0.1"], Duration::from_secs(10));
        let a = net
            .send(
                &Request::new("PUT", format!("http://{}/", server.addr), "put")
                    .body(b"x")
                    .policy(Policy::once()),
            )
            .unwrap();
        assert_eq!((a.status, a.class()), (503, Class::Retryable));
    }

    #[test]
    fn an_answer_over_the_size_limit_is_a_final_fault() {
        let server = Script::start(vec![answer("200 OK", "", &"x".repeat(2048))]);
        let net = transport(&["127.0.0.1"], Duration::from_secs(10));
        let e = net
            .send(&Request::new("GET", format!("http://{}/", server.addr), "get").max_body(1024))
            .unwrap_err();
        assert!(
            matches!(e.kind, ErrorKind::Fault(Fault::TooLarge { limit: 1024 })),
            "{e}"
        );
        assert_eq!(server.heads().len(), 1);
    }

    #[test]
    fn an_authorization_header_outside_a_credential_is_refused() {
        let net = transport(&["127.0.0.1"], Duration::from_secs(10));
        let e = net
            .send(&Request::new("GET", "http://127.0.0.1:1/", "get").header("authorization", "x"))
            .unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Refused(_)), "{e}");
    }

    #[test]
    fn a_dead_nameserver_holds_a_request_no_longer_than_the_deadline() {
        let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let conf = b"search ci.svc.cluster.local svc.cluster.local cluster.local\n\
                     options ndots:5 timeout:5 attempts:2\n";
        let net = transport(&["registry"], Duration::from_millis(700)).with_resolver(
            Resolver::from_parts(conf, "").with_nameserver(dead.local_addr().unwrap()),
        );
        let start = Instant::now();
        let e = net
            .send(&Request::new("GET", "http://registry:5000/v2/", "ping"))
            .unwrap_err();
        assert!(
            start.elapsed() < Duration::from_millis(1500),
            "{:?}",
            start.elapsed()
        );
        assert!(e.to_string().contains("registry"), "{e}");
    }
}
