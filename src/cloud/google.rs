//! Google credentials, found the way Google's client libraries find them, for every Google
//! backend (`gcs`, and `docdb` on Firestore, `grafeas` on Container Analysis).
//!
//! - `GOOGLE_APPLICATION_CREDENTIALS` names a service-account key file (JSON with
//!   `client_email`, `private_key`, `private_key_id`, `token_uri`): chainlet signs a JWT
//!   assertion with the key (RS256) and trades it at `token_uri` for an access token
//!   (RFC 7523, `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`).
//! - Otherwise the metadata server (GKE workload identity, GCE): `GCE_METADATA_HOST`, else
//!   `metadata.google.internal`, asked over plain HTTP with `Metadata-Flavor: Google`, as
//!   Google's libraries do (it is a link-local service and has no TLS).
//!
//! Tokens are cached per scope set until shortly before they expire. Errors name the key file
//! or the metadata server, never the key, the assertion or a token.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use zeroize::{Zeroize as _, Zeroizing};

use crate::net::{self, HostPort, Origin, Policy, Request, Scheme, Transport, tls};

/// Full access to the project's Google Cloud services.
pub const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Read and write Cloud Storage objects (what Google's storage clients ask for).
pub const DEVSTORAGE_READ_WRITE: &str = "https://www.googleapis.com/auth/devstorage.read_write";

/// Read and write Firestore and Datastore (what Google's Firestore clients ask for).
pub const DATASTORE: &str = "https://www.googleapis.com/auth/datastore";

/// Where a service-account key file without `token_uri` trades its assertion.
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const DEFAULT_METADATA_HOST: &str = "metadata.google.internal";
const METADATA_TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";
/// How long an assertion is valid (Google accepts at most an hour).
const ASSERTION_LIFETIME: u64 = 3600;
/// A key file is a few kilobytes; anything far larger is not one.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// How the credentials reach Google's token endpoints.
#[derive(Debug, Clone)]
pub struct Options {
    /// The run's deadline: no token request outlives it.
    pub deadline: Instant,
    /// CAs trusted besides the system's (`--registry-ca`), for a token endpoint behind a proxy.
    pub extra_ca: Vec<tls::ExtraCa>,
}

/// Google credentials: a service-account key or the metadata server, with a token cache.
pub struct GoogleAuth {
    source: Source,
    net: Transport,
    /// (scopes joined by spaces, token, when to stop using it)
    cache: Mutex<Vec<(String, Zeroizing<String>, Instant)>>,
}

enum Source {
    ServiceAccount {
        path: PathBuf,
        account: Box<ServiceAccount>,
    },
    Metadata {
        host: String,
    },
}

struct ServiceAccount {
    client_email: String,
    key_id: Option<String>,
    key: rsa::pkcs1v15::SigningKey<sha2::Sha256>,
    token_uri: String,
}

/// What went wrong getting a token; never carries key material or tokens.
#[derive(Debug, thiserror::Error)]
pub enum GoogleAuthError {
    /// The file `GOOGLE_APPLICATION_CREDENTIALS` names is missing or is not a service-account key.
    #[error("Google credentials {path}: {message}")]
    CredentialFile { path: String, message: String },
    /// The token endpoint or the metadata server answered, but not with a token.
    #[error("Google token from {endpoint}: {message}")]
    Token { endpoint: String, message: String },
    /// The token endpoint or the metadata server could not be reached.
    #[error("Google token from {endpoint}: {source}")]
    Net {
        endpoint: String,
        #[source]
        source: net::Error,
    },
}

impl std::fmt::Debug for GoogleAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleAuth")
            .field("source", &self.describe())
            .finish_non_exhaustive()
    }
}

/// Where a Google service is reached, as Google's client libraries decide it: an emulator when
/// the environment variable `emulator_var` names one (`host:port` or a URL; plain HTTP to a
/// `host:port`, and no credentials), else `public` with credentials from the environment.
pub struct ServiceEndpoint {
    pub url: String,
    /// The emulator's origin when it is plain HTTP.
    pub plain_http: Vec<crate::net::HostPort>,
    /// `None` for an emulator.
    pub auth: Option<GoogleAuth>,
}

impl ServiceEndpoint {
    /// Resolves the endpoint; the error is one line (the variable and what is wrong with it,
    /// or why no credentials were found).
    pub fn resolve(
        env: &dyn Fn(&str) -> Option<String>,
        emulator_var: &str,
        public: &str,
        opts: Options,
    ) -> Result<Self, String> {
        use crate::net::origin::{Origin, Scheme};
        match env(emulator_var).filter(|v| !v.trim().is_empty()) {
            Some(host) => {
                let host = host.trim().trim_end_matches('/');
                let url = if host.contains("://") {
                    host.to_owned()
                } else {
                    format!("http://{host}")
                };
                let origin =
                    Origin::of_url(&url).map_err(|e| format!("{emulator_var}={host:?}: {e}"))?;
                let plain_http = match origin.scheme {
                    Scheme::Http => vec![crate::net::HostPort {
                        host: origin.host,
                        port: Some(origin.port),
                    }],
                    Scheme::Https => Vec::new(),
                };
                Ok(Self {
                    url,
                    plain_http,
                    auth: None,
                })
            }
            None => Ok(Self {
                url: public.to_owned(),
                plain_http: Vec::new(),
                auth: Some(GoogleAuth::from_lookup(env, opts).map_err(|e| e.to_string())?),
            }),
        }
    }
}

impl GoogleAuth {
    /// Credentials from the process environment.
    pub fn from_env(opts: Options) -> Result<Self, GoogleAuthError> {
        Self::from_lookup(|k| std::env::var(k).ok(), opts)
    }

    /// Credentials from an environment given as a lookup (tests, or a pod spec's env).
    pub fn from_lookup(
        env: impl Fn(&str) -> Option<String>,
        opts: Options,
    ) -> Result<Self, GoogleAuthError> {
        let set = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let (source, plain_http) = match set("GOOGLE_APPLICATION_CREDENTIALS") {
            Some(path) => {
                let path = PathBuf::from(path);
                let account = read_key_file(&path)?;
                // A token endpoint on loopback (a local test or proxy) may be plain HTTP: the
                // assertion never leaves the machine. Anywhere else it must be HTTPS.
                let origin =
                    Origin::of_url(&account.token_uri).map_err(|e| file_error(&path, e))?;
                let mut plain = Vec::new();
                if origin.scheme == Scheme::Http {
                    if !is_loopback(&origin.host) {
                        return Err(file_error(
                            &path,
                            "token_uri is plain HTTP to a host that is not loopback; it must be https",
                        ));
                    }
                    plain.push(HostPort {
                        host: origin.host.clone(),
                        port: Some(origin.port),
                    });
                }
                (
                    Source::ServiceAccount {
                        path,
                        account: Box::new(account),
                    },
                    plain,
                )
            }
            None => {
                let host = set("GCE_METADATA_HOST")
                    .map(|h| h.trim().to_owned())
                    .unwrap_or_else(|| DEFAULT_METADATA_HOST.to_owned());
                let hp = HostPort::parse(&host).map_err(|e| GoogleAuthError::Token {
                    endpoint: format!("metadata server GCE_METADATA_HOST={host:?}"),
                    message: e,
                })?;
                (Source::Metadata { host }, vec![hp])
            }
        };
        let net = Transport::new(net::Options {
            deadline: opts.deadline,
            plain_http,
            trust: tls::Trust::system_and(opts.extra_ca, "--registry-ca"),
        });
        Ok(Self {
            source,
            net,
            cache: Mutex::new(Vec::new()),
        })
    }

    /// Where tokens come from, for logs and errors: the key file and account, or the
    /// metadata server.
    pub fn describe(&self) -> String {
        match &self.source {
            Source::ServiceAccount { path, account } => format!(
                "service account {} ({})",
                account.client_email,
                path.display()
            ),
            Source::Metadata { host } => format!("metadata server {host}"),
        }
    }

    /// An access token for these scopes, from the cache while it is fresh.
    pub fn token(&self, scopes: &[&str]) -> Result<Zeroizing<String>, GoogleAuthError> {
        let key = scopes.join(" ");
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, token, _)) =
                cache.iter().find(|(k, _, until)| *k == key && now < *until)
            {
                return Ok(token.clone());
            }
        }
        let (token, lifetime) = match &self.source {
            Source::ServiceAccount { path, account } => self.exchange(path, account, &key)?,
            Source::Metadata { host } => self.metadata_token(host, scopes)?,
        };
        // Stop using a token well before it expires: a request may be slow, clocks drift.
        let margin = Duration::from_secs(300).min(lifetime / 2);
        let until = now + lifetime.saturating_sub(margin);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|(k, _, _)| *k != key);
        cache.push((key, token.clone(), until));
        Ok(token)
    }

    /// The JWT-bearer grant: a signed assertion traded for an access token.
    fn exchange(
        &self,
        path: &Path,
        account: &ServiceAccount,
        scope: &str,
    ) -> Result<(Zeroizing<String>, Duration), GoogleAuthError> {
        let endpoint = format!("{} ({})", account.token_uri, path.display());
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let assertion = assertion(account, scope, iat);
        let mut form = Zeroizing::new(format!(
            "grant_type={}&assertion={}",
            form_encode("urn:ietf:params:oauth:grant-type:jwt-bearer"),
            assertion.as_str()
        ));
        let answer = self.net.send(
            &Request::new("POST", account.token_uri.clone(), "Google token exchange")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Accept", "application/json")
                .body(form.as_bytes())
                .policy(Policy::idempotent())
                .max_body(64 * 1024),
        );
        form.zeroize();
        let answer = answer.map_err(|source| GoogleAuthError::Net {
            endpoint: endpoint.clone(),
            source,
        })?;
        token_answer(answer, &endpoint)
    }

    fn metadata_token(
        &self,
        host: &str,
        scopes: &[&str],
    ) -> Result<(Zeroizing<String>, Duration), GoogleAuthError> {
        let endpoint = format!("metadata server {host}");
        let mut url = format!("http://{host}{METADATA_TOKEN_PATH}");
        if !scopes.is_empty() {
            let joined: Vec<String> = scopes.iter().map(|s| form_encode(s)).collect();
            url.push_str("?scopes=");
            url.push_str(&joined.join(","));
        }
        let answer = self
            .net
            .send(
                &Request::new("GET", url, "Google metadata token")
                    .header("Metadata-Flavor", "Google")
                    .policy(Policy::idempotent())
                    .max_body(64 * 1024),
            )
            .map_err(|source| GoogleAuthError::Net {
                endpoint: endpoint.clone(),
                source,
            })?;
        token_answer(answer, &endpoint)
    }
}

/// The signed JWT assertion: `header.claims.signature`, base64url without padding.
fn assertion(account: &ServiceAccount, scope: &str, iat: u64) -> Zeroizing<String> {
    use rsa::signature::{SignatureEncoding as _, Signer as _};
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = &account.key_id {
        header["kid"] = kid.as_str().into();
    }
    let claims = serde_json::json!({
        "iss": account.client_email,
        "scope": scope,
        "aud": account.token_uri,
        "iat": iat,
        "exp": iat + ASSERTION_LIFETIME,
    });
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = account.key.sign(signing_input.as_bytes()).to_vec();
    Zeroizing::new(format!("{signing_input}.{}", b64(&signature)))
}

/// Reads `{"access_token", "expires_in"}` from a token answer, or says why it is not one.
fn token_answer(
    answer: net::Response,
    endpoint: &str,
) -> Result<(Zeroizing<String>, Duration), GoogleAuthError> {
    let mut body = answer.body;
    let error = |message: String| GoogleAuthError::Token {
        endpoint: endpoint.to_owned(),
        message,
    };
    if answer.status != 200 {
        let reason = oauth_error(&body);
        body.zeroize();
        return Err(error(format!("HTTP {}{reason}", answer.status)));
    }
    let parsed = parse_token(&body);
    body.zeroize();
    parsed.map_err(error)
}

/// The token and its lifetime from a successful answer's JSON.
pub fn parse_token(body: &[u8]) -> Result<(Zeroizing<String>, Duration), String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        access_token: Option<String>,
        expires_in: Option<serde_json::Value>,
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the answer is not a token answer (JSON: line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let token = Zeroizing::new(answer.access_token.unwrap_or_default());
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the answer has no usable access_token".into());
    }
    // Google sends a number; some proxies send a string.
    let secs = match answer.expires_in {
        None => 3600,
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .ok_or("expires_in is not a whole number of seconds")?,
        Some(serde_json::Value::String(s)) => s
            .parse()
            .map_err(|_| "expires_in is not a whole number of seconds")?,
        Some(_) => return Err("expires_in is not a number".into()),
    };
    Ok((token, Duration::from_secs(secs.min(24 * 3600))))
}

/// `: error: description` from an OAuth error answer, short and printable, or nothing.
fn oauth_error(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct OAuthError {
        error: Option<String>,
        error_description: Option<String>,
    }
    let Ok(e) = serde_json::from_slice::<OAuthError>(body) else {
        return String::new();
    };
    let clean = |s: String| -> String { s.chars().filter(|c| !c.is_control()).take(200).collect() };
    match (e.error.map(clean), e.error_description.map(clean)) {
        (Some(e), Some(d)) => format!(": {e}: {d}"),
        (Some(e), None) => format!(": {e}"),
        (None, Some(d)) => format!(": {d}"),
        (None, None) => String::new(),
    }
}

fn read_key_file(path: &Path) -> Result<ServiceAccount, GoogleAuthError> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::pkcs8::DecodePrivateKey as _;
    use std::io::Read as _;

    #[derive(serde::Deserialize)]
    struct KeyFile {
        #[serde(rename = "type")]
        kind: Option<String>,
        client_email: Option<String>,
        private_key: Option<String>,
        private_key_id: Option<String>,
        token_uri: Option<String>,
    }
    let err = |m: &str| file_error(path, m);
    let file = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| file_error(path, e))?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(err("larger than a service-account key file can be"));
    }
    // The parse error's position only: its message could quote the key.
    let key_file: KeyFile = serde_json::from_slice(&bytes).map_err(|e| {
        file_error(
            path,
            format!(
                "not a JSON key file (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    match key_file.kind.as_deref() {
        None | Some("service_account") => {}
        Some(other) => {
            return Err(file_error(
                path,
                format!(
                    "credentials of type {:?} are not supported; chainlet reads service-account keys (type \"service_account\") or the metadata server",
                    other.chars().take(40).collect::<String>()
                ),
            ));
        }
    }
    let client_email = key_file
        .client_email
        .filter(|e| !e.is_empty())
        .ok_or_else(|| err("has no client_email"))?;
    let pem = Zeroizing::new(key_file.private_key.unwrap_or_default());
    if pem.is_empty() {
        return Err(err("has no private_key"));
    }
    let key = rsa::PrivateKey::from_pkcs8_pem(&pem)
        .or_else(|_| rsa::PrivateKey::from_pkcs1_pem(&pem))
        .map_err(|_| err("private_key is not an RSA private key in PEM (PKCS#8 or PKCS#1)"))?;
    Ok(ServiceAccount {
        client_email,
        key_id: key_file.private_key_id.filter(|k| !k.is_empty()),
        key: rsa::pkcs1v15::SigningKey::new(key),
        token_uri: key_file
            .token_uri
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned()),
    })
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> GoogleAuthError {
    GoogleAuthError::CredentialFile {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `application/x-www-form-urlencoded` (and query) encoding of one value.
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_answer_gives_the_token_and_its_lifetime() {
        let (t, d) =
            parse_token(br#"{"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"}"#)
                .unwrap();
        assert_eq!(t.as_str(), "ya29.x");
        assert_eq!(d, Duration::from_secs(3599));
        let (_, d) = parse_token(br#"{"access_token":"a","expires_in":"60"}"#).unwrap();
        assert_eq!(d, Duration::from_secs(60));
        assert!(parse_token(br#"{"expires_in":1}"#).is_err());
        assert!(parse_token(br#"{"access_token":"a b"}"#).is_err());
        assert!(parse_token(b"<html>").is_err());
    }

    #[test]
    fn oauth_errors_are_short_and_printable() {
        let e = oauth_error(
            br#"{"error":"invalid_grant","error_description":"Invalid JWT\nSignature."}"#,
        );
        assert_eq!(e, ": invalid_grant: Invalid JWTSignature.");
        assert_eq!(oauth_error(b"nope"), "");
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        assert!(is_loopback("127.0.0.1") && is_loopback("[::1]") && is_loopback("localhost"));
        assert!(!is_loopback("oauth2.googleapis.com") && !is_loopback("10.0.0.1"));
    }

    #[test]
    fn a_key_file_error_names_the_file_and_not_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sa.json");
        std::fs::write(
            &path,
            r#"{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nSECRETSECRET\n-----END PRIVATE KEY-----\n"}"#,
        )
        .unwrap();
        let opts = Options {
            deadline: Instant::now() + Duration::from_secs(5),
            extra_ca: Vec::new(),
        };
        let p = path.to_string_lossy().into_owned();
        let e = GoogleAuth::from_lookup(
            |k| (k == "GOOGLE_APPLICATION_CREDENTIALS").then(|| p.clone()),
            opts,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("sa.json") && e.contains("not an RSA private key"),
            "{e}"
        );
        assert!(!e.contains("SECRET"), "{e}");
    }

    #[test]
    fn without_a_key_file_the_metadata_server_is_used() {
        let opts = Options {
            deadline: Instant::now() + Duration::from_secs(5),
            extra_ca: Vec::new(),
        };
        let a = GoogleAuth::from_lookup(|_| None, opts.clone()).unwrap();
        assert_eq!(a.describe(), "metadata server metadata.google.internal");
        let a = GoogleAuth::from_lookup(
            |k| (k == "GCE_METADATA_HOST").then(|| "127.0.0.1:9".to_owned()),
            opts,
        )
        .unwrap();
        assert_eq!(a.describe(), "metadata server 127.0.0.1:9");
    }
}
