//! AWS for every chainlet client of an AWS service (storage `docdb` on DynamoDB, signer `kms`
//! on `awskms://`): Signature Version 4, the credentials AWS's SDKs find in a pod, and the
//! endpoint of a service.
//!
//! # Signature Version 4
//! One request with its headers and body, as AWS's services ask for it: a canonical request, a
//! string to sign over its hash, and an HMAC-SHA256 chain from the secret key through date,
//! region and service. Only what chainlet's AWS clients send is covered: headers signed as
//! given (names lowercased, values trimmed, inner runs of spaces collapsed), a path already in
//! its URI-encoded form, a query of already-encoded pairs.
//!
//! # Credentials, in the SDKs' order
//! 1. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`).
//! 2. A web-identity token (IRSA: EKS mounts it and sets `AWS_WEB_IDENTITY_TOKEN_FILE` and
//!    `AWS_ROLE_ARN`), traded at STS by `AssumeRoleWithWebIdentity`, an unsigned call: the
//!    token is the proof. It goes in a form body, never in the URL, which the transport logs.
//! 3. The container credentials endpoint (EKS Pod Identity, ECS):
//!    `AWS_CONTAINER_CREDENTIALS_FULL_URI`, or `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` under
//!    `http://169.254.170.2`, with `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read at each use)
//!    or `AWS_CONTAINER_AUTHORIZATION_TOKEN` as its `Authorization`. Plain HTTP goes only to
//!    loopback and the ECS/EKS link-local addresses, as the SDKs allow.
//!
//! Shared config files (`~/.aws`) and the EC2 instance metadata service are not read: a pod
//! gets its identity through one of the three above. Secrets live in [`Zeroizing`] buffers;
//! no error or log line carries a key, a token or a signature of a request.

use std::time::{Duration, Instant, SystemTime};

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::net::{Credential, HostPort, Origin, Request, Scheme, Transport};

/// AWS credentials, from wherever [`credentials`] found them. The secret and the session
/// token never appear in `Debug`.
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// What is signed.
pub struct Signable<'a> {
    pub method: &'a str,
    /// The canonical URI: the path, URI-encoded once (`/` for none).
    pub path: &'a str,
    /// `k=v` pairs joined by `&`, already encoded; sorted here.
    pub query: &'a str,
    /// Every header to sign, `host` and `x-amz-date` included.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    pub region: &'a str,
    pub service: &'a str,
    /// `YYYYMMDD'T'HHMMSS'Z'`, as in the `x-amz-date` header.
    pub amz_date: &'a str,
}

/// The `Authorization` header value for a request.
pub fn authorization(creds: &Credentials, req: &Signable<'_>) -> Zeroizing<String> {
    let (signed_headers, canonical) = canonical_request(req);
    let date = req.amz_date.get(..8).unwrap_or(req.amz_date);
    let scope = format!("{date}/{}/{}/aws4_request", req.region, req.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        req.amz_date,
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let secret = Zeroizing::new(format!("AWS4{}", creds.secret_access_key.as_str()));
    let mut key = Zeroizing::new(hmac(secret.as_bytes(), date.as_bytes()));
    for part in [req.region, req.service, "aws4_request"] {
        key = Zeroizing::new(hmac(&key[..], part.as_bytes()));
    }
    let signature = hex(&hmac(&key[..], to_sign.as_bytes()));
    Zeroizing::new(format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        creds.access_key_id
    ))
}

/// The signed header names (`a;b;c`) and the canonical request.
fn canonical_request(req: &Signable<'_>) -> (String, String) {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| {
            let value = v.split_ascii_whitespace().collect::<Vec<_>>().join(" ");
            (k.to_ascii_lowercase(), value)
        })
        .collect();
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let mut query: Vec<(&str, &str)> = req
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    query.sort();
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut canonical = format!("{}\n{}\n{}\n", req.method, req.path, query.join("&"));
    for (k, v) in &headers {
        canonical.push_str(&format!("{k}:{v}\n"));
    }
    canonical.push_str(&format!("\n{signed}\n{}", hex(&Sha256::digest(req.body))));
    (signed, canonical)
}

/// `x-amz-date` for a time: `20150830T123600Z`.
pub fn amz_date(t: std::time::SystemTime) -> String {
    // RFC 3339 `2015-08-30T12:36:00Z` with the separators taken out.
    crate::time::format_rfc3339_seconds(t).replace(['-', ':'], "")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    crate::registry::hex(bytes)
}

/// Reads one environment variable (a closure in tests); empty counts as unset here.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Makes a transport whose plain-HTTP allow-list is the given hosts (the caller's deadline,
/// trust roots and CAs).
pub type Connect<'a> = &'a dyn Fn(Vec<HostPort>) -> Transport;

fn var(env: Env<'_>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.trim().is_empty())
}

/// Why no credentials could be had. Names the variable, file or endpoint; never a secret.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give the pod a \
         role (IRSA: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN; EKS Pod Identity: \
         AWS_CONTAINER_CREDENTIALS_FULL_URI)"
    )]
    Missing,
    /// A source half configured: one variable of a pair.
    #[error("{0}")]
    Incomplete(String),
    #[error("web-identity token {path}: {message}")]
    TokenFile { path: String, message: String },
    #[error("AssumeRoleWithWebIdentity at {endpoint}: {message}")]
    Sts { endpoint: String, message: String },
    #[error("container credentials from {url}: {message}")]
    Container { url: String, message: String },
}

/// Finds credentials as AWS's SDKs do in a pod (see the module docs). `region` is the region
/// of the service called, for a regional STS endpoint.
pub fn credentials(
    env: Env<'_>,
    region: Option<&str>,
    connect: Connect<'_>,
) -> Result<Credentials, CredentialsError> {
    match (
        var(env, "AWS_ACCESS_KEY_ID"),
        var(env, "AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(id), Some(secret)) => {
            return Ok(Credentials {
                access_key_id: id,
                secret_access_key: Zeroizing::new(secret),
                session_token: var(env, "AWS_SESSION_TOKEN").map(Zeroizing::new),
            });
        }
        (Some(_), None) => {
            return Err(CredentialsError::Incomplete(
                "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(CredentialsError::Incomplete(
                "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not".into(),
            ));
        }
        (None, None) => {}
    }
    if let Some(path) = var(env, "AWS_WEB_IDENTITY_TOKEN_FILE") {
        let role = var(env, "AWS_ROLE_ARN").ok_or_else(|| {
            CredentialsError::Incomplete(
                "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not".into(),
            )
        })?;
        let session = var(env, "AWS_ROLE_SESSION_NAME").unwrap_or_else(|| "chainlet".into());
        let region = region
            .map(str::to_owned)
            .or_else(|| var(env, "AWS_REGION"))
            .or_else(|| var(env, "AWS_DEFAULT_REGION"));
        let endpoint = endpoint(
            var(env, "AWS_ENDPOINT_URL_STS").or_else(|| var(env, "AWS_ENDPOINT_URL")),
            "sts",
            region.as_deref(),
        )
        .map_err(|message| CredentialsError::Sts {
            endpoint: "AWS_ENDPOINT_URL_STS".into(),
            message,
        })?;
        return web_identity(&path, &role, &session, &endpoint, connect);
    }
    let full = var(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    let relative = var(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    if let Some(url) = relative
        .map(|r| format!("http://169.254.170.2{r}"))
        .or(full)
    {
        return container(env, &url, connect);
    }
    Err(CredentialsError::Missing)
}

/// A web-identity token is a JWT of a few kilobytes.
const MAX_TOKEN_FILE: u64 = 64 * 1024;

fn web_identity(
    path: &str,
    role: &str,
    session: &str,
    sts: &Endpoint,
    connect: Connect<'_>,
) -> Result<Credentials, CredentialsError> {
    let token = read_token(path).map_err(|message| CredentialsError::TokenFile {
        path: path.into(),
        message,
    })?;
    let failed = |message: String| CredentialsError::Sts {
        endpoint: sts.url.clone(),
        message,
    };
    let body = Zeroizing::new(format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName={}&WebIdentityToken={}",
        form_encode(role),
        form_encode(session),
        form_encode(token.as_str()),
    ));
    let net = connect(sts.plain_http.clone());
    let resp = net
        .send(
            &Request::new("POST", sts.url.clone(), "STS AssumeRoleWithWebIdentity")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Accept", "application/xml")
                .body(body.as_bytes())
                .max_body(64 * 1024),
        )
        .map_err(|e| failed(e.to_string()))?;
    let answer = Zeroizing::new(resp.body);
    let creds = parse_sts_answer(resp.status, &answer).map_err(failed)?;
    tracing::debug!(role, endpoint = %sts.url, "AWS credentials from a web identity");
    Ok(creds)
}

fn read_token(path: &str) -> Result<Zeroizing<String>, String> {
    let bytes = Zeroizing::new(
        crate::fsread::read_limited(std::path::Path::new(path), MAX_TOKEN_FILE)
            .map_err(|e| e.to_string())?,
    );
    let text = std::str::from_utf8(&bytes).map_err(|_| "is not UTF-8 text".to_owned())?;
    let token = text.trim();
    if token.is_empty() {
        return Err("is empty".into());
    }
    Ok(Zeroizing::new(token.to_owned()))
}

/// Reads STS's answer to `AssumeRoleWithWebIdentity`: the credentials of a 200, or STS's
/// error code and message. Any bytes at all are read without panicking.
pub fn parse_sts_answer(status: u16, body: &[u8]) -> Result<Credentials, String> {
    let Ok(doc) = std::str::from_utf8(body) else {
        return Err(format!("HTTP {status} with an answer that is not text"));
    };
    if status != 200 {
        let code = xml_text(doc, "Code").unwrap_or_else(|| format!("HTTP {status}"));
        let message = xml_text(doc, "Message").unwrap_or_default();
        return Err(one_line(&format!("{code} (HTTP {status}): {message}")));
    }
    let creds =
        xml_element(doc, "Credentials").ok_or("HTTP 200 without Credentials in the answer")?;
    let field = |tag: &str| {
        xml_text(creds, tag)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("HTTP 200 without {tag} in the Credentials"))
    };
    Ok(Credentials {
        access_key_id: field("AccessKeyId")?,
        secret_access_key: Zeroizing::new(field("SecretAccessKey")?),
        session_token: Some(Zeroizing::new(field("SessionToken")?)),
    })
}

/// The content of the first `<tag>…</tag>` in `doc` (no attributes on it), or `None`.
fn xml_element<'a>(doc: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = doc.find(&open)? + open.len();
    let len = doc[start..].find(&close)?;
    Some(&doc[start..start + len])
}

/// The text of the first `<tag>…</tag>`, with XML's entities and character references read.
pub fn xml_text(doc: &str, tag: &str) -> Option<String> {
    let raw = xml_element(doc, tag)?;
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 12) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..end];
        let c = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => name
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Some(out.trim().to_owned())
}

/// Hosts the SDKs reach the container credentials endpoint on over plain HTTP: the ECS task
/// endpoint, EKS Pod Identity's agent (IPv4 and IPv6), and loopback.
fn container_plain_http_ok(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    matches!(
        bare,
        "169.254.170.2" | "169.254.170.23" | "fd00:ec2::23" | "localhost"
    ) || bare
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

fn container(
    env: Env<'_>,
    url: &str,
    connect: Connect<'_>,
) -> Result<Credentials, CredentialsError> {
    let failed = |message: String| CredentialsError::Container {
        url: url.to_owned(),
        message,
    };
    let origin = Origin::of_url(url).map_err(failed)?;
    let plain_http = match origin.scheme {
        Scheme::Https => Vec::new(),
        Scheme::Http if container_plain_http_ok(&origin.host) => vec![HostPort {
            host: origin.host.clone(),
            port: Some(origin.port),
        }],
        Scheme::Http => {
            return Err(failed(
                "plain HTTP goes only to loopback, 169.254.170.2 or 169.254.170.23; use https://"
                    .into(),
            ));
        }
    };
    let token = match var(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        Some(path) => Some(read_token(&path).map_err(|m| {
            failed(format!(
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {path}: {m}"
            ))
        })?),
        None => var(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN").map(Zeroizing::new),
    };
    if token.as_ref().is_some_and(|t| t.contains(['\r', '\n'])) {
        return Err(failed("the authorization token holds a line break".into()));
    }
    let credential = token.map(|t| Credential::new(origin, t));
    let net = connect(plain_http);
    let resp = net
        .send(
            &Request::new("GET", url.to_owned(), "container credentials")
                .credential(credential.as_ref())
                .max_body(64 * 1024),
        )
        .map_err(|e| failed(e.to_string()))?;
    let answer = Zeroizing::new(resp.body);
    let creds = parse_container_answer(resp.status, &answer).map_err(failed)?;
    tracing::debug!(%url, "AWS credentials from the container credentials endpoint");
    Ok(creds)
}

/// Reads the container credentials endpoint's answer: `AccessKeyId`, `SecretAccessKey`,
/// `Token` (and `Expiration`), or an error's `code` and `message`.
pub fn parse_container_answer(status: u16, body: &[u8]) -> Result<Credentials, String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Answer {
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
        token: Option<String>,
    }
    if status != 200 {
        let parsed: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let code = parsed["code"]
            .as_str()
            .or_else(|| parsed["Code"].as_str())
            .map_or_else(|| format!("HTTP {status}"), str::to_owned);
        let message = parsed["message"]
            .as_str()
            .or_else(|| parsed["Message"].as_str())
            .unwrap_or_default();
        return Err(one_line(&format!("{code} (HTTP {status}): {message}")));
    }
    let a: Answer = serde_json::from_slice(body)
        .map_err(|_| "HTTP 200 with an answer that is not the credentials' JSON".to_owned())?;
    let (Some(id), Some(secret)) = (
        a.access_key_id.filter(|v| !v.is_empty()),
        a.secret_access_key.filter(|v| !v.is_empty()),
    ) else {
        return Err("HTTP 200 without AccessKeyId and SecretAccessKey".into());
    };
    Ok(Credentials {
        access_key_id: id,
        secret_access_key: Zeroizing::new(secret),
        session_token: a.token.filter(|v| !v.is_empty()).map(Zeroizing::new),
    })
}

/// Where a service is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://kms.eu-west-1.amazonaws.com/`, or the override as written.
    pub url: String,
    /// `host[:port]` as the URL names it: the signed `host` header.
    pub host: String,
    /// The endpoint's host and port when the override is `http://` (the user wrote it).
    pub plain_http: Vec<HostPort>,
}

/// A service's endpoint: `over` (from the user: a reference, an `AWS_ENDPOINT_URL_*`) when
/// given, else the region's public endpoint (`service.amazonaws.com` without a region).
pub fn endpoint(
    over: Option<String>,
    service: &str,
    region: Option<&str>,
) -> Result<Endpoint, String> {
    let (url, plain_http) = match over {
        Some(e) => {
            let origin = Origin::of_url(&e).map_err(|m| format!("the endpoint {e:?}: {m}"))?;
            let plain = (origin.scheme == Scheme::Http)
                .then(|| HostPort {
                    host: origin.host.clone(),
                    port: Some(origin.port),
                })
                .into_iter()
                .collect();
            (e, plain)
        }
        None => match region {
            Some(region) => {
                if !region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                {
                    return Err(format!("the region {region:?} is not an AWS region name"));
                }
                let suffix = if region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                (format!("https://{service}.{region}.{suffix}/"), Vec::new())
            }
            None => (format!("https://{service}.amazonaws.com/"), Vec::new()),
        },
    };
    let after_scheme = url.split_once("://").map_or("", |(_, r)| r);
    let host = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    Ok(Endpoint {
        url,
        host,
        plain_http,
    })
}

/// The endpoint's path, for signing: `/` when it has none.
pub fn endpoint_path(endpoint: &str) -> String {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let path = rest
        .find('/')
        .map_or("", |i| &rest[i..])
        .split(['?', '#'])
        .next()
        .unwrap_or_default();
    if path.is_empty() {
        "/".into()
    } else {
        path.into()
    }
}

/// One answer of a JSON-protocol service (KMS, DynamoDB).
#[derive(Debug)]
pub struct JsonAnswer {
    pub status: u16,
    pub body: serde_json::Value,
    /// The exception's short name (`NotFoundException`) when the status is not 200.
    pub error_type: Option<String>,
    pub message: String,
}

impl JsonAnswer {
    /// Reads a body that may be anything: a server's answer is never trusted to be JSON.
    pub fn read(status: u16, body: &[u8]) -> Self {
        let parsed: serde_json::Value =
            serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
        if status == 200 {
            return Self {
                status,
                body: parsed,
                error_type: None,
                message: String::new(),
            };
        }
        // `com.amazonaws.kms#NotFoundException`, or the short name alone. A refusal before
        // the service (a bad signature at the front door) can come as a query-protocol XML
        // `ErrorResponse` instead.
        let xml = std::str::from_utf8(body)
            .ok()
            .filter(|b| b.trim_start().starts_with('<'));
        let error_type = parsed["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
            .or_else(|| xml.and_then(|x| xml_text(x, "Code")))
            .unwrap_or_else(|| format!("HTTP {status}"));
        let message = parsed["message"]
            .as_str()
            .or_else(|| parsed["Message"].as_str())
            .map(str::to_owned)
            .or_else(|| xml.and_then(|x| xml_text(x, "Message")))
            .unwrap_or_else(|| {
                let shown = body.get(..200).unwrap_or(body);
                String::from_utf8_lossy(shown).into_owned()
            });
        Self {
            status,
            body: parsed,
            // From the answer's bytes: one line, like the message.
            error_type: Some(one_line(&error_type)),
            message: one_line(&message),
        }
    }

    /// `Sign: NotFoundException (HTTP 400): …`
    pub fn describe(&self, op: &str) -> String {
        let kind = self.error_type.as_deref().unwrap_or("error");
        format!("{op}: {kind} (HTTP {}): {}", self.status, self.message)
    }
}

/// Error types a JSON-protocol service answers when it is asked too often: retried.
const THROTTLED: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
];

/// A service of the JSON protocol (`X-Amz-Target`), signed with SigV4.
pub struct JsonService {
    pub endpoint: Endpoint,
    pub region: String,
    /// The signing name: `kms`, `dynamodb`.
    pub service: &'static str,
    /// `application/x-amz-json-1.1` (KMS) or `-1.0` (DynamoDB).
    pub content_type: &'static str,
    /// `TrentService` (KMS), `DynamoDB_20120810`.
    pub target_prefix: &'static str,
    pub creds: Credentials,
    pub net: Transport,
}

impl JsonService {
    /// Calls one operation. 5xx and connection trouble are retried by the transport, throttling
    /// (a 400 in this protocol) here, both under the run's deadline. Errors are the transport's
    /// (no answer); every answer, error or not, is the caller's to judge.
    pub fn call(
        &self,
        operation: &str,
        body: &serde_json::Value,
    ) -> Result<JsonAnswer, crate::net::Error> {
        let body = Zeroizing::new(serde_json::to_vec(body).expect("serialising JSON cannot fail"));
        let mut wait = Duration::from_millis(100);
        loop {
            let answer = self.send_once(operation, &body)?;
            let throttled = answer
                .error_type
                .as_deref()
                .is_some_and(|t| THROTTLED.contains(&t));
            let wait_now = crate::net::jitter(wait);
            if !throttled || Instant::now() + wait_now >= self.net.deadline() {
                return Ok(answer);
            }
            tracing::debug!(operation, "throttled; retrying in {wait_now:?}");
            std::thread::sleep(wait_now);
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    fn send_once(&self, operation: &str, body: &[u8]) -> Result<JsonAnswer, crate::net::Error> {
        let amz_date = amz_date(SystemTime::now());
        let target = format!("{}.{operation}", self.target_prefix);
        let mut signed: Vec<(&str, &str)> = vec![
            ("content-type", self.content_type),
            ("host", &self.endpoint.host),
            ("x-amz-date", &amz_date),
            ("x-amz-target", &target),
        ];
        if let Some(token) = &self.creds.session_token {
            signed.push(("x-amz-security-token", token.as_str()));
        }
        let path = endpoint_path(&self.endpoint.url);
        let authorization = authorization(
            &self.creds,
            &Signable {
                method: "POST",
                path: &path,
                query: "",
                headers: &signed,
                body,
                region: &self.region,
                service: self.service,
                amz_date: &amz_date,
            },
        );
        let op = format!("{} {operation}", self.service.to_ascii_uppercase());
        let origin = Origin::of_url(&self.endpoint.url).map_err(|m| crate::net::Error {
            op: op.clone(),
            kind: crate::net::ErrorKind::Refused(m),
        })?;
        let credential = Credential::new(origin, authorization);
        let mut req = Request::new("POST", self.endpoint.url.clone(), op)
            .header("Host", self.endpoint.host.clone())
            .header("Content-Type", self.content_type)
            .header("X-Amz-Date", amz_date.clone())
            .header("X-Amz-Target", target.clone())
            .body(body)
            .credential(Some(&credential))
            .max_body(1 << 20);
        if let Some(token) = &self.creds.session_token {
            req = req.header("X-Amz-Security-Token", token.as_str());
        }
        let resp = self.net.send(&req)?;
        Ok(JsonAnswer::read(resp.status, &resp.body))
    }
}

/// `application/x-www-form-urlencoded` encoding of one value (RFC 3986 unreserved kept).
fn form_encode(value: &str) -> String {
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

/// An AWS message on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published SigV4 test suite: its example credentials, region and service.
    fn example() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Zeroizing::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            session_token: None,
        }
    }

    fn sign(method: &str, query: &str) -> String {
        let headers = [
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
        ];
        authorization(
            &example(),
            &Signable {
                method,
                path: "/",
                query,
                headers: &headers,
                body: b"",
                region: "us-east-1",
                service: "service",
                amz_date: "20150830T123600Z",
            },
        )
        .to_string()
    }

    #[test]
    fn matches_the_published_aws_test_suite() {
        let prefix = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=";
        // get-vanilla
        assert_eq!(
            sign("GET", ""),
            format!("{prefix}5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        );
        // get-vanilla-query-order-key-case: the pairs are sorted before signing.
        assert_eq!(
            sign("GET", "Param2=value2&Param1=value1"),
            format!("{prefix}b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
        );
        // post-vanilla
        assert_eq!(
            sign("POST", ""),
            format!("{prefix}5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")
        );
    }

    #[test]
    fn amz_date_is_the_compact_utc_form() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160);
        assert_eq!(amz_date(t), "20150830T123600Z");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = Credentials {
            session_token: Some(Zeroizing::new("TOKEN".into())),
            ..example()
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("EXAMPLEKEY") && !shown.contains("TOKEN"),
            "{shown}"
        );
    }

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn no_network(_: Vec<HostPort>) -> Transport {
        panic!("no request expected")
    }

    #[test]
    fn credentials_from_the_environment_need_both_keys() {
        let c = credentials(
            &env(&[
                ("AWS_ACCESS_KEY_ID", "AKID"),
                ("AWS_SECRET_ACCESS_KEY", "s"),
                ("AWS_SESSION_TOKEN", "t"),
                // The environment's keys win over a role, as in AWS's SDKs.
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/t"),
            ]),
            None,
            &no_network,
        )
        .unwrap();
        assert_eq!(c.access_key_id, "AKID");
        assert_eq!(c.session_token.as_deref().map(String::as_str), Some("t"));
        let e = credentials(&env(&[("AWS_ACCESS_KEY_ID", "AKID")]), None, &no_network);
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("AWS_SECRET_ACCESS_KEY is not"),
        );
        let e = credentials(&env(&[("AWS_ACCESS_KEY_ID", "")]), None, &no_network);
        assert!(matches!(e, Err(CredentialsError::Missing)));
        let e = credentials(
            &env(&[("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/t")]),
            None,
            &no_network,
        );
        assert!(e.unwrap_err().to_string().contains("AWS_ROLE_ARN is not"));
        // An unreadable token file is named before anything is sent.
        let e = credentials(
            &env(&[
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token"),
                ("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/r"),
            ]),
            Some("eu-west-1"),
            &no_network,
        );
        assert!(
            e.unwrap_err()
                .to_string()
                .starts_with("web-identity token /nonexistent/token:")
        );
        // Plain HTTP to the container endpoint only on loopback and AWS's link-local hosts.
        let e = credentials(
            &env(&[(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://creds.example/v1",
            )]),
            None,
            &no_network,
        );
        assert!(e.unwrap_err().to_string().contains("plain HTTP goes only"));
        assert!(container_plain_http_ok("169.254.170.23"));
        assert!(container_plain_http_ok("[fd00:ec2::23]"));
        assert!(container_plain_http_ok("127.0.0.1"));
        assert!(!container_plain_http_ok("10.0.0.1"));
    }

    #[test]
    fn sts_answers_give_credentials_or_sts_error() {
        let ok = br#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult><Credentials>
    <AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>wJal/r+x</SecretAccessKey>
    <SessionToken>IQo&amp;b3&#x4A;&#75;</SessionToken><Expiration>2026-12-02T02:00:00Z</Expiration>
  </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"#;
        let c = parse_sts_answer(200, ok).unwrap();
        assert_eq!(c.access_key_id, "ASIAEXAMPLE");
        assert_eq!(c.secret_access_key.as_str(), "wJal/r+x");
        assert_eq!(
            c.session_token.as_deref().map(String::as_str),
            Some("IQo&b3JK")
        );
        let refused =
            br#"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>
            <Message>No OpenIDConnect provider found</Message></Error></ErrorResponse>"#;
        assert_eq!(
            parse_sts_answer(400, refused).unwrap_err(),
            "InvalidIdentityToken (HTTP 400): No OpenIDConnect provider found"
        );
        assert!(parse_sts_answer(200, b"<x/>").is_err());
        assert!(parse_sts_answer(200, &[0xff, 0xfe]).is_err());
        assert_eq!(
            xml_text("<a>&bogus; &#xD800; &</a>", "a").unwrap(),
            "&bogus; &#xD800; &"
        );
    }

    #[test]
    fn container_answers_give_credentials_or_the_endpoints_error() {
        let c = parse_container_answer(
            200,
            br#"{"AccessKeyId":"ASIA","SecretAccessKey":"s","Token":"t","Expiration":"2026-12-02T02:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.secret_access_key.as_str()),
            ("ASIA", "s")
        );
        assert_eq!(
            parse_container_answer(403, br#"{"code":"AccessDenied","message":"no"}"#).unwrap_err(),
            "AccessDenied (HTTP 403): no"
        );
        assert!(parse_container_answer(200, br#"{"AccessKeyId":"ASIA"}"#).is_err());
        assert!(parse_container_answer(200, b"not json").is_err());
    }

    #[test]
    fn endpoints_are_the_override_or_the_regions() {
        let e = endpoint(None, "kms", Some("eu-west-1")).unwrap();
        assert_eq!(
            (e.url.as_str(), e.host.as_str()),
            (
                "https://kms.eu-west-1.amazonaws.com/",
                "kms.eu-west-1.amazonaws.com"
            )
        );
        assert!(e.plain_http.is_empty());
        let e = endpoint(None, "sts", Some("cn-north-1")).unwrap();
        assert_eq!(e.url, "https://sts.cn-north-1.amazonaws.com.cn/");
        assert_eq!(
            endpoint(None, "sts", None).unwrap().url,
            "https://sts.amazonaws.com/"
        );
        let e = endpoint(
            Some("http://127.0.0.1:4566".into()),
            "kms",
            Some("us-east-1"),
        )
        .unwrap();
        assert_eq!(e.host, "127.0.0.1:4566");
        assert_eq!(e.plain_http.len(), 1);
        assert!(endpoint(None, "kms", Some("us-east-1/../x")).is_err());
        assert_eq!(endpoint_path("http://127.0.0.1:4566"), "/");
        assert_eq!(endpoint_path("https://proxy.example/aws/?x"), "/aws/");
    }

    #[test]
    fn json_errors_are_read_from_json_or_xml() {
        let a = JsonAnswer::read(
            400,
            br#"{"__type":"com.amazonaws.kms#NotFoundException","message":"Alias not found"}"#,
        );
        assert_eq!(
            a.describe("GetPublicKey"),
            "GetPublicKey: NotFoundException (HTTP 400): Alias not found"
        );
        let a = JsonAnswer::read(403, b"<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>The request\n signature</Message></Error></Errors></ErrorResponse>");
        assert_eq!(a.error_type.as_deref(), Some("SignatureDoesNotMatch"));
        let a = JsonAnswer::read(502, b"\xff bad gateway");
        assert_eq!(a.error_type.as_deref(), Some("HTTP 502"));
        assert!(JsonAnswer::read(200, b"{}").error_type.is_none());
    }
}
