//! Keyless signing (`signers.x509.fulcio.enabled: true`): an ephemeral ECDSA P-256 key that
//! never leaves memory, and a short-lived Fulcio certificate binding it to the pod's identity
//! token, as Chains' x509 signer gets one through cosign.
//!
//! The run:
//! 1. the identity token from the provider `signers.x509.fulcio.provider` names (Chains: a
//!    set `signers.x509.identity.token.file` means the file, whatever the provider; otherwise
//!    cosign's providers: `filesystem` reads `/var/run/sigstore/cosign/oidc-token`, `envvar`
//!    reads `SIGSTORE_ID_TOKEN`, empty tries both). Its claims are read, not verified (Fulcio
//!    verifies it): an expired token, one without the `sigstore` audience, or one with no
//!    subject is refused before any request, and no message ever carries the token;
//! 2. `POST <signers.x509.fulcio.address>/api/v2/signingCert` with the public key and the
//!    proof of possession (the key's signature over the token's subject: its `email` when it
//!    has one, else `sub`, as sigstore's clients compute it);
//! 3. the returned leaf must hold our key, chain to a certificate authority of the trusted root
//!    (`--trusted-root`) with the code-signing usage, and embed an SCT that a CT log of the
//!    trusted root signed over the precertificate (RFC 6962 §3.2).
//!
//! One certificate serves every signature of the run; storage writes it where Chains does.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use der::asn1::{AnyRef, ObjectIdentifier};
use der::{Decode as _, Encode as _, Tagged as _};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::{Certificate, KeyPair, OpenContext, SignError, Signer, SigningError};
use crate::config::Config;
use crate::pki::{self, CertKey};

/// Why keyless signing needs `--trusted-root`.
pub const NO_TRUSTED_ROOT: &str = "signers.x509.fulcio.enabled: keyless signing checks the \
    Fulcio certificate against a trusted root: mount trusted_root.json (with the Fulcio CA and \
    CT log) and pass --trusted-root; reading it from signers.x509.tuf.mirror.url is not \
    supported yet";

/// Where cosign's `filesystem` provider reads a token.
pub const COSIGN_TOKEN_PATH: &str = "/var/run/sigstore/cosign/oidc-token";
/// cosign's `envvar` provider.
pub const TOKEN_ENV: &str = "SIGSTORE_ID_TOKEN";
/// The audience Fulcio requires (Chains' and cosign's OIDC client id).
pub const AUDIENCE: &str = "sigstore";

pub const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
const SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
pub const SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
pub const ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
pub const ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
/// Seconds a token's `exp` may lie in the past (clock skew), as OIDC libraries allow.
const LEEWAY: u64 = 60;

fn error(what: impl Into<String>, reason: impl Into<String>) -> SigningError {
    SigningError::Kms {
        reference: what.into(),
        reason: reason.into(),
    }
}

/// Where the identity token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    File(std::path::PathBuf),
    Env,
    /// No provider named: the file cosign's `filesystem` provider reads, else `SIGSTORE_ID_TOKEN`.
    Any,
}

/// Checks the keyless configuration before the run (a usage error, exit 2): the provider.
pub fn check_config(config: &Config) -> Result<TokenSource, String> {
    let file = config.get("signers.x509.identity.token.file").trim();
    let provider = config.get("signers.x509.fulcio.provider").trim();
    if !file.is_empty() {
        // Chains: a token file is read whatever the provider says, for the filesystem ones.
        return match provider {
            "" | "filesystem" | "filesystem-custom-path" => {
                Ok(TokenSource::File(std::path::PathBuf::from(file)))
            }
            other => Err(format!(
                "signers.x509.fulcio.provider {other:?} with signers.x509.identity.token.file: \
                 a token file is the filesystem-custom-path provider; leave the provider empty"
            )),
        };
    }
    match provider {
        "" => Ok(TokenSource::Any),
        "filesystem" => Ok(TokenSource::File(COSIGN_TOKEN_PATH.into())),
        "envvar" => Ok(TokenSource::Env),
        "filesystem-custom-path" => {
            Err("signers.x509.fulcio.provider filesystem-custom-path needs \
             signers.x509.identity.token.file"
                .into())
        }
        "spiffe" => Err(
            "signers.x509.fulcio.provider spiffe is not supported yet (a JWT-SVID from the SPIRE \
             agent's Workload API); mount a projected service-account token and set \
             signers.x509.identity.token.file"
                .into(),
        ),
        "google" | "github-actions" | "buildkite-agent" => Err(format!(
            "signers.x509.fulcio.provider {provider} is not supported (it reads a token from \
             that CI service, which a Tekton pod is not); set signers.x509.identity.token.file"
        )),
        other => Err(format!(
            "signers.x509.fulcio.provider {other:?} is unknown: expected filesystem, \
             filesystem-custom-path, envvar or empty (with signers.x509.identity.token.file)"
        )),
    }
}

/// The claims of an identity token that signing needs. Read without verifying the signature:
/// Fulcio does that; these checks only fail early and clearly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub issuer: String,
    /// What the proof of possession signs: `email` when there is one, else `sub`.
    pub subject: String,
    pub expires: Option<u64>,
}

#[derive(Deserialize)]
struct RawClaims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(default)]
    exp: Option<serde_json::Value>,
}

/// Parses and checks a token's claims at `now` (seconds since the epoch). `name` names the
/// token in errors (its file); the token itself is never in a message.
pub fn claims(token: &str, name: &str, now: u64) -> Result<Claims, String> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    if parts.len() != 3 {
        return Err(format!(
            "{name}: not a JWT (expected three dot-separated parts)"
        ));
    }
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1].trim_end_matches('='))
        .map_err(|_| format!("{name}: the JWT's payload is not base64url"))?;
    let raw: RawClaims = serde_json::from_slice(&payload)
        .map_err(|_| format!("{name}: the JWT's payload is not a JSON object of claims"))?;
    let audiences: Vec<String> = match &raw.aud {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    if !audiences.iter().any(|a| a == AUDIENCE) {
        return Err(format!(
            "{name}: the token's audience is {} where Fulcio needs {AUDIENCE:?} (a projected \
             service-account token with `audience: sigstore`)",
            if audiences.is_empty() {
                "missing".to_owned()
            } else {
                format!("{audiences:?}")
            }
        ));
    }
    let expires = match &raw.exp {
        None => None,
        Some(v) => Some(
            v.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
                .ok_or_else(|| format!("{name}: the token's exp claim is not a time"))?,
        ),
    };
    if let Some(exp) = expires
        && exp.saturating_add(LEEWAY) < now
    {
        return Err(format!(
            "{name}: the token expired at {} (now {})",
            when(exp),
            when(now)
        ));
    }
    let issuer = raw
        .iss
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{name}: the token has no issuer (iss)"))?;
    let verified = match raw.email_verified {
        Some(serde_json::Value::Bool(b)) => b,
        Some(serde_json::Value::String(s)) => s == "true",
        _ => false,
    };
    let subject = match raw.email.filter(|e| !e.is_empty()) {
        Some(email) if verified => email,
        Some(_) => {
            return Err(format!(
                "{name}: the token's email is not verified by its issuer (email_verified)"
            ));
        }
        None => raw
            .sub
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("{name}: the token has no subject (sub)"))?,
    };
    Ok(Claims {
        issuer,
        subject,
        expires,
    })
}

/// A time in seconds since the epoch as RFC 3339, or the number when no date can hold it.
fn when(secs: u64) -> String {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .filter(|_| secs < 253_402_300_800)
        .map(crate::time::format_rfc3339_seconds)
        .unwrap_or_else(|| format!("{secs} s after the epoch"))
}

/// Reads the token. Returns it and the name errors use for it.
fn read_token(
    source: &TokenSource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Zeroizing<String>, String), SigningError> {
    let from_file = |path: &std::path::Path| {
        let name = format!("identity token {}", path.display());
        let bytes = super::read_secret(path).map_err(|e| error(&name, strip_path(&e, path)))?;
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| error(&name, "not UTF-8 text"))?;
        Ok((Zeroizing::new(text.trim().to_owned()), name))
    };
    match source {
        TokenSource::File(path) => from_file(path),
        TokenSource::Env => env(TOKEN_ENV)
            .filter(|t| !t.trim().is_empty())
            .map(|t| (Zeroizing::new(t.trim().to_owned()), TOKEN_ENV.to_owned()))
            .ok_or_else(|| {
                error(
                    TOKEN_ENV,
                    "unset or empty (signers.x509.fulcio.provider envvar)",
                )
            }),
        TokenSource::Any => {
            let default = std::path::Path::new(COSIGN_TOKEN_PATH);
            if default.exists() {
                return from_file(default);
            }
            env(TOKEN_ENV)
                .filter(|t| !t.trim().is_empty())
                .map(|t| (Zeroizing::new(t.trim().to_owned()), TOKEN_ENV.to_owned()))
                .ok_or_else(|| {
                    error(
                        "signers.x509.fulcio.enabled",
                        format!(
                            "no identity token: set signers.x509.identity.token.file to a \
                             projected service-account token (audience sigstore), or provide \
                             {COSIGN_TOKEN_PATH} or {TOKEN_ENV}"
                        ),
                    )
                })
        }
    }
}

/// A read error without the path repeated (the name already says it).
fn strip_path(e: &SigningError, path: &std::path::Path) -> String {
    let text = e.to_string();
    let prefix = format!("{}: ", path.display());
    text.strip_prefix(&prefix).unwrap_or(&text).to_owned()
}

/// The ephemeral key and its certificate.
pub struct FulcioSigner {
    key: KeyPair,
    certificate: Certificate,
    identity: String,
    issuer: String,
}

impl Signer for FulcioSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.key.sign(message)
    }
    fn public_key_der(&self) -> Vec<u8> {
        self.key.public_key_der()
    }
    fn key_id(&self) -> String {
        self.key.key_id()
    }
    fn describe(&self) -> String {
        format!(
            "ephemeral ecdsa-p256 with a Fulcio certificate for {} (issuer {})",
            self.identity, self.issuer
        )
    }
    fn certificate(&self) -> Option<&Certificate> {
        Some(&self.certificate)
    }
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Opens the keyless signer: token, key, certificate, checks.
pub fn open(ctx: &OpenContext<'_>) -> Result<Arc<dyn Signer>, SigningError> {
    open_with(ctx, &process_env, SystemTime::now())
}

/// [`open`] with the caller's environment and clock.
pub fn open_with(
    ctx: &OpenContext<'_>,
    env: &dyn Fn(&str) -> Option<String>,
    now: SystemTime,
) -> Result<Arc<dyn Signer>, SigningError> {
    let source = check_config(ctx.config).map_err(|m| error("signers.x509.fulcio", m))?;
    let address = ctx
        .config
        .get("signers.x509.fulcio.address")
        .trim()
        .trim_end_matches('/')
        .to_owned();
    let fulcio = format!("Fulcio {address}");
    let trusted = trusted_root(ctx)?;
    if trusted.certificate_authorities.is_empty() {
        return Err(error(
            &trusted.file,
            "the trusted root has no certificateAuthorities: keyless signing checks the Fulcio \
             certificate against them",
        ));
    }
    let (token, token_name) = read_token(&source, env)?;
    let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let claims = claims(&token, &token_name, now_secs).map_err(|m| {
        // The name is the message's first word; keep one line "name: reason".
        let reason = m
            .strip_prefix(&format!("{token_name}: "))
            .unwrap_or(&m)
            .to_owned();
        error(&token_name, reason)
    })?;
    let key = KeyPair::generate_p256()
        .map_err(|e| error(&fulcio, format!("no random bytes for the key: {e}")))?;
    let proof = key
        .sign(claims.subject.as_bytes())
        .map_err(|e| error(&fulcio, e.reason))?;
    let body = serde_json::json!({
        "credentials": { "oidcIdentityToken": token.as_str() },
        "publicKeyRequest": {
            "publicKey": { "algorithm": "ECDSA", "content": key.public_key_pem() },
            "proofOfPossession": super::base64(&proof),
        },
    });
    let body = Zeroizing::new(serde_json::to_vec(&body).expect("a JSON value serializes"));
    let chain = request_certificate(ctx, &address, &token, &body).map_err(|m| error(&fulcio, m))?;
    let certificate = verify_certificate(&chain, &key.public_key_der(), &trusted, now_secs)
        .map_err(|m| error(&fulcio, format!("the certificate it issued: {m}")))?;
    tracing::info!(
        fulcio = %address,
        identity = %certificate.identity,
        issuer = %certificate.issuer,
        "got a signing certificate"
    );
    Ok(Arc::new(FulcioSigner {
        key,
        identity: certificate.identity,
        issuer: certificate.issuer,
        certificate: Certificate {
            cert_pem: pem("CERTIFICATE", &chain[0]),
            chain_pem: chain[1..].iter().map(|c| pem("CERTIFICATE", c)).collect(),
        },
    }))
}

fn pem(label: &str, der: &[u8]) -> String {
    super::keypair::pem_encode(label, der)
}

fn trusted_root(
    ctx: &OpenContext<'_>,
) -> Result<crate::transparency::trust::TrustedRoot, SigningError> {
    let Some(path) = ctx.trusted_root else {
        return Err(SigningError::Kms {
            reference: "--trusted-root".into(),
            reason: NO_TRUSTED_ROOT.into(),
        });
    };
    crate::transparency::trust::TrustedRoot::read(path).map_err(|e| match e {
        crate::transparency::trust::TrustError::File { file, message } => error(file, message),
        other => error("--trusted-root", other.to_string()),
    })
}

/// The Fulcio answer's certificates, DER, leaf first.
fn request_certificate(
    ctx: &OpenContext<'_>,
    address: &str,
    token: &str,
    body: &[u8],
) -> Result<Vec<Vec<u8>>, String> {
    if !(address.starts_with("https://") || address.starts_with("http://")) {
        return Err("signers.x509.fulcio.address must be an http:// or https:// URL".into());
    }
    let mut plain_http = Vec::new();
    if let Some(rest) = address.strip_prefix("http://") {
        // An http:// address the user wrote is theirs to choose (an in-cluster Fulcio).
        plain_http.push(crate::net::HostPort::parse(
            rest.split('/').next().unwrap_or_default(),
        )?);
    }
    let transport = super::remote_transport(ctx.deadline, ctx.registry_ca, plain_http);
    let url = format!("{address}/api/v2/signingCert");
    let credential = crate::net::Credential::new(
        crate::net::origin::Origin::of_url(&url)?,
        Zeroizing::new(format!("Bearer {token}")),
    );
    let resp = transport
        .send(
            &crate::net::Request::new("POST", &url, "POST /api/v2/signingCert")
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .body(body)
                .credential(Some(&credential))
                .max_body(1 << 20),
        )
        .map_err(|e| e.to_string())?;
    if !(200..300).contains(&resp.status) {
        return Err(format!(
            "answered {}{}",
            resp.status,
            answer_text(&resp.body, token)
        ));
    }
    parse_response(&resp.body)
}

/// A short, one-line excerpt of an error answer, never repeating the token.
fn answer_text(body: &[u8], token: &str) -> String {
    let text = String::from_utf8_lossy(body);
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| text.into_owned());
    let line: String = message
        .replace(token, "<token>")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect();
    if line.is_empty() {
        String::new()
    } else {
        format!(": {line}")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResponse {
    signed_certificate_embedded_sct: Option<RawSigned>,
    signed_certificate_detached_sct: Option<RawSigned>,
}

#[derive(Deserialize)]
struct RawSigned {
    chain: RawChain,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<String>,
}

/// Parses Fulcio's `signingCert` answer into DER certificates, leaf first.
pub fn parse_response(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let raw: RawResponse = serde_json::from_slice(body)
        .map_err(|e| format!("its answer is not a signingCert response: {e}"))?;
    let chain = match (
        raw.signed_certificate_embedded_sct,
        raw.signed_certificate_detached_sct,
    ) {
        (Some(s), _) => s.chain.certificates,
        (None, Some(_)) => {
            return Err(
                "it returned a certificate with a detached SCT; chainlet checks only \
                        certificates with an embedded SCT, as Fulcio issues them"
                    .into(),
            );
        }
        (None, None) => return Err("its answer has no certificate".into()),
    };
    if chain.is_empty() {
        return Err("its answer has no certificate".into());
    }
    chain
        .iter()
        .enumerate()
        .map(|(i, p)| {
            certificate_der(p).ok_or_else(|| format!("certificate {i} of its answer is not PEM"))
        })
        .collect()
}

/// The DER of one PEM `CERTIFICATE` block, read as leniently as Go's `pem.Decode` (base64 in
/// lines of any length, surrounding whitespace).
fn certificate_der(pem: &str) -> Option<Vec<u8>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = pem.find(BEGIN)? + BEGIN.len();
    let end = start + pem[start..].find(END)?;
    let b64: String = pem[start..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// What the certificate says about the signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The subject alternative name (an email or URI).
    pub identity: String,
    /// The OIDC issuer extension.
    pub issuer: String,
}

/// How far (seconds) Fulcio's clock may be ahead of the pod's when its fresh certificate is
/// checked.
const FULCIO_CLOCK_SKEW: i64 = 60;

/// Checks Fulcio's certificates (DER, leaf first) for `public_key` (DER SPKI) at `now`: the
/// leaf holds that key, has the code-signing usage and chains to a CA of the trusted root, and
/// an SCT in it verifies with a CT log of the trusted root.
pub fn verify_certificate(
    chain: &[Vec<u8>],
    public_key: &[u8],
    trusted: &crate::transparency::trust::TrustedRoot,
    now: u64,
) -> Result<Identity, String> {
    let leaf_der = chain.first().ok_or("no certificate")?;
    let leaf = x509_cert::Certificate::from_der(leaf_der)
        .map_err(|e| format!("the leaf is not an X.509 certificate: {e}"))?;
    let leaf_key = leaf
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| format!("the leaf's public key: {e}"))?;
    if leaf_key != public_key {
        return Err("it is not for the key chainlet sent".into());
    }
    // The leaf under each trusted CA's chain (the CA's own intermediates and root): one must
    // hold. What else Fulcio returned is not trusted.
    let mut failures = Vec::new();
    let mut anchored: Option<Vec<u8>> = None;
    for ca in &trusted.certificate_authorities {
        let parsed: Result<Vec<x509_cert::Certificate>, _> = ca
            .chain
            .iter()
            .map(|d| x509_cert::Certificate::from_der(d))
            .collect();
        let Ok(parsed) = parsed else {
            failures.push(format!("{}: a certificate does not parse", ca.uri));
            continue;
        };
        let mut full: Vec<(x509_cert::Certificate, &[u8])> = vec![(leaf.clone(), leaf_der)];
        full.extend(parsed.into_iter().zip(ca.chain.iter().map(|d| &d[..])));
        // Fulcio's clock may run a little ahead of the pod's, and a certificate issued in the
        // second after `now` was read starts after it: valid now, or valid a minute from now,
        // is valid.
        let at = now as i64;
        let checked = pki::check_chain(&full, at, CODE_SIGNING, "codeSigning").or_else(|e| {
            pki::check_chain(&full, at + FULCIO_CLOCK_SKEW, CODE_SIGNING, "codeSigning")
                .map_err(|_| e)
        });
        match checked {
            Ok(()) => {
                anchored = Some(ca.chain[0].clone());
                break;
            }
            Err(e) => failures.push(format!(
                "{}: {e}",
                if ca.uri.is_empty() { "a CA" } else { &ca.uri }
            )),
        }
    }
    let Some(issuer_der) = anchored else {
        return Err(format!(
            "it does not chain to a certificate authority of {} ({})",
            trusted.file,
            failures.join("; ")
        ));
    };
    verify_sct(leaf_der, &leaf, &issuer_der, trusted)?;
    identity(&leaf)
}

/// The SAN and issuer extension of a Fulcio leaf.
fn identity(leaf: &x509_cert::Certificate) -> Result<Identity, String> {
    let mut identity = None;
    let mut issuer = None;
    for ext in leaf.tbs_certificate().extensions().into_iter().flatten() {
        match ext.extn_id {
            SAN => {
                let san = x509_cert::ext::pkix::SubjectAltName::from_der(ext.extn_value.as_bytes())
                    .map_err(|e| format!("its subject alternative name: {e}"))?;
                for name in san.0 {
                    use x509_cert::ext::pkix::name::GeneralName;
                    match name {
                        GeneralName::Rfc822Name(s) => identity = Some(s.to_string()),
                        GeneralName::UniformResourceIdentifier(s) => identity = Some(s.to_string()),
                        _ => {}
                    }
                }
            }
            ISSUER_V2 => {
                if let Ok(s) = der::asn1::Utf8StringRef::from_der(ext.extn_value.as_bytes()) {
                    issuer = Some(s.as_str().to_owned());
                }
            }
            ISSUER_V1 if issuer.is_none() => {
                issuer = Some(String::from_utf8_lossy(ext.extn_value.as_bytes()).into_owned());
            }
            _ => {}
        }
    }
    Ok(Identity {
        identity: identity.ok_or("it has no email or URI subject alternative name")?,
        issuer: issuer.unwrap_or_default(),
    })
}

/// One SCT of a certificate's SCT list extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sct {
    pub log_id: [u8; 32],
    pub timestamp: u64,
    pub extensions: Vec<u8>,
    pub hash_algorithm: u8,
    pub signature_algorithm: u8,
    pub signature: Vec<u8>,
}

/// Parses the TLS-encoded `SignedCertificateTimestampList` inside the extension's OCTET STRING.
pub fn parse_sct_list(ext_value: &[u8]) -> Result<Vec<Sct>, String> {
    let inner = <&der::asn1::OctetStringRef>::from_der(ext_value)
        .map_err(|e| format!("the SCT list is not an OCTET STRING: {e}"))?;
    let mut r = Tls(inner.as_bytes());
    let mut list = Tls(r.vec16("the SCT list")?);
    r.end("the SCT list")?;
    let mut out = Vec::new();
    while !list.0.is_empty() {
        let mut sct = Tls(list.vec16("an SCT")?);
        let version = sct.u8("the SCT version")?;
        if version != 0 {
            return Err(format!("SCT version {version} is not v1"));
        }
        let log_id: [u8; 32] = sct
            .take(32, "the SCT log id")?
            .try_into()
            .expect("32 bytes");
        let ts = sct.take(8, "the SCT timestamp")?;
        let timestamp = u64::from_be_bytes(ts.try_into().expect("8 bytes"));
        let extensions = sct.vec16("the SCT extensions")?.to_vec();
        let hash_algorithm = sct.u8("the SCT hash algorithm")?;
        let signature_algorithm = sct.u8("the SCT signature algorithm")?;
        let signature = sct.vec16("the SCT signature")?.to_vec();
        sct.end("an SCT")?;
        out.push(Sct {
            log_id,
            timestamp,
            extensions,
            hash_algorithm,
            signature_algorithm,
            signature,
        });
    }
    Ok(out)
}

/// A TLS presentation-language reader.
struct Tls<'a>(&'a [u8]);

impl<'a> Tls<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!("{what} is cut short"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }
    fn vec16(&mut self, what: &str) -> Result<&'a [u8], String> {
        let len = self.take(2, what)?;
        let n = u16::from_be_bytes([len[0], len[1]]) as usize;
        self.take(n, what)
    }
    fn end(&self, what: &str) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(format!("{what} has trailing bytes"))
        }
    }
}

/// Checks that an SCT in `leaf` verifies with a CT log of the trusted root, over the
/// precertificate: the leaf's TBSCertificate without the SCT list, issued by `issuer_der`.
pub fn verify_sct(
    leaf_der: &[u8],
    leaf: &x509_cert::Certificate,
    issuer_der: &[u8],
    trusted: &crate::transparency::trust::TrustedRoot,
) -> Result<(), String> {
    let ext = leaf
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .find(|e| e.extn_id == SCT_LIST)
        .ok_or("it embeds no SCT (signed certificate timestamp)")?;
    let scts = parse_sct_list(ext.extn_value.as_bytes())?;
    let issuer =
        x509_cert::Certificate::from_der(issuer_der).map_err(|e| format!("the issuing CA: {e}"))?;
    let issuer_key_hash = Sha256::digest(
        issuer
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| format!("the issuing CA's key: {e}"))?,
    );
    let tbs = precert_tbs(&pki::tbs_bytes(leaf_der).map_err(|e| e.to_string())?)?;
    if tbs.len() >= 1 << 24 {
        return Err("its TBSCertificate is too large for an SCT".into());
    }
    let mut unknown = 0;
    for sct in &scts {
        let Some(log) = trusted.ctlogs.iter().find(|l| {
            l.log_id.as_slice() == sct.log_id || Sha256::digest(&l.public_key)[..] == sct.log_id
        }) else {
            unknown += 1;
            continue;
        };
        let hash = match sct.hash_algorithm {
            4 => pki::Hash::Sha256,
            5 => pki::Hash::Sha384,
            6 => pki::Hash::Sha512,
            other => return Err(format!("an SCT with hash algorithm {other}")),
        };
        let mut signed = Vec::with_capacity(tbs.len() + 64);
        signed.push(0); // v1
        signed.push(0); // certificate_timestamp
        signed.extend_from_slice(&sct.timestamp.to_be_bytes());
        signed.extend_from_slice(&1u16.to_be_bytes()); // precert_entry
        signed.extend_from_slice(&issuer_key_hash);
        signed.extend_from_slice(&(tbs.len() as u32).to_be_bytes()[1..]);
        signed.extend_from_slice(&tbs);
        signed.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
        signed.extend_from_slice(&sct.extensions);
        let key = CertKey::from_spki_der(&log.public_key)
            .ok_or("a CT log key of the trusted root is not ECDSA P-256, P-384 or RSA")?;
        return key
            .verify(hash, &signed, &sct.signature)
            .map_err(|pki::BadSignature| {
                format!("its SCT from CT log {} does not verify", log.base_url)
            });
    }
    Err(format!(
        "none of its {} SCTs is from a CT log of {} ({unknown} from unknown logs)",
        scts.len(),
        trusted.file
    ))
}

/// A TBSCertificate (DER) with the SCT list extension removed, as the CT log signed it.
pub fn precert_tbs(tbs: &[u8]) -> Result<Vec<u8>, String> {
    let bad = |e: der::Error| format!("its TBSCertificate: {e}");
    let outer = AnyRef::from_der(tbs).map_err(bad)?;
    let mut reader = der::SliceReader::new(outer.value()).map_err(bad)?;
    let mut fields = Vec::new();
    while !der::Reader::is_finished(&reader) {
        let field = AnyRef::decode(&mut reader).map_err(bad)?;
        let is_extensions = matches!(
            field.tag(),
            der::Tag::ContextSpecific { constructed: true, number } if number == der::TagNumber(3)
        );
        if !is_extensions {
            fields.extend_from_slice(&field.to_der().map_err(bad)?);
            continue;
        }
        let seq = AnyRef::from_der(field.value()).map_err(bad)?;
        let mut exts = der::SliceReader::new(seq.value()).map_err(bad)?;
        let mut kept = Vec::new();
        while !der::Reader::is_finished(&exts) {
            let ext = AnyRef::decode(&mut exts).map_err(bad)?;
            let mut inner = der::SliceReader::new(ext.value()).map_err(bad)?;
            let oid: ObjectIdentifier = der::Decode::decode(&mut inner).map_err(bad)?;
            if oid != SCT_LIST {
                kept.extend_from_slice(&ext.to_der().map_err(bad)?);
            }
        }
        fields.extend_from_slice(&tlv(0xa3, &tlv(0x30, &kept)));
    }
    Ok(tlv(0x30, &fields))
}

/// A DER element with `tag` and `content`.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = (n as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        let enc = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.{}",
            enc(br#"{"alg":"RS256"}"#),
            enc(claims.to_string().as_bytes()),
            enc(b"sig")
        )
    }

    #[test]
    fn claims_are_checked_without_naming_the_token() {
        let now = 1_800_000_000;
        let good = jwt(serde_json::json!({
            "iss": "https://kubernetes.default.svc", "sub": "system:serviceaccount:ci:build",
            "aud": ["sigstore"], "exp": now + 600
        }));
        let c = claims(&good, "t", now).unwrap();
        assert_eq!(c.subject, "system:serviceaccount:ci:build");
        assert_eq!(c.issuer, "https://kubernetes.default.svc");

        let email = jwt(serde_json::json!({
            "iss": "i", "sub": "s", "email": "a@b.c", "email_verified": true, "aud": "sigstore"
        }));
        assert_eq!(claims(&email, "t", now).unwrap().subject, "a@b.c");

        let expired =
            jwt(serde_json::json!({"iss": "i", "sub": "s", "aud": "sigstore", "exp": now - 3600}));
        let e = claims(&expired, "t", now).unwrap_err();
        assert!(e.contains("expired at"), "{e}");
        assert!(!e.contains(&expired), "{e}");

        let wrong = jwt(serde_json::json!({"iss": "i", "sub": "s", "aud": "kubernetes"}));
        let e = claims(&wrong, "t", now).unwrap_err();
        assert!(e.contains("audience") && e.contains("kubernetes"), "{e}");

        for bad in ["", "a.b", "a.!!.c", &jwt(serde_json::json!([1]))] {
            assert!(claims(bad, "t", now).is_err(), "{bad}");
        }
    }

    #[test]
    fn providers_follow_chains() {
        let config = |sets: &[&str]| {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            Config::load_with(None, &[], &sets).unwrap()
        };
        assert_eq!(
            check_config(&config(&["signers.x509.identity.token.file=/t"])).unwrap(),
            TokenSource::File("/t".into())
        );
        assert_eq!(check_config(&config(&[])).unwrap(), TokenSource::Any);
        assert_eq!(
            check_config(&config(&["signers.x509.fulcio.provider=envvar"])).unwrap(),
            TokenSource::Env
        );
        let e = check_config(&config(&["signers.x509.fulcio.provider=spiffe"])).unwrap_err();
        assert!(e.contains("not supported yet"), "{e}");
        let e = check_config(&config(&["signers.x509.fulcio.provider=nope"])).unwrap_err();
        assert!(e.contains("unknown"), "{e}");
    }

    #[test]
    fn sct_lists_parse_and_garbage_does_not_panic() {
        // One SCT: version 0, log id, timestamp 1, no extensions, sha256/ecdsa, 2-byte sig.
        let mut sct = vec![0u8];
        sct.extend_from_slice(&[7; 32]);
        sct.extend_from_slice(&1u64.to_be_bytes());
        sct.extend_from_slice(&[0, 0, 4, 3, 0, 2, 0xaa, 0xbb]);
        let mut list = (sct.len() as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&sct);
        let mut tls = (list.len() as u16).to_be_bytes().to_vec();
        tls.extend_from_slice(&list);
        let ext = tlv(0x04, &tls);
        let parsed = parse_sct_list(&ext).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].log_id, [7; 32]);
        assert_eq!(parsed[0].signature, vec![0xaa, 0xbb]);
        for cut in 0..ext.len() {
            let _ = parse_sct_list(&ext[..cut]);
        }
        assert!(parse_sct_list(b"").is_err());
    }

    #[test]
    fn precert_tbs_drops_only_the_sct_list() {
        let ext = |oid: &str, value: &[u8]| {
            let oid = ObjectIdentifier::new_unwrap(oid).to_der().unwrap();
            tlv(0x30, &[oid, tlv(0x04, value)].concat())
        };
        let version = tlv(0xa0, &[2, 1, 2]);
        let serial = vec![2, 1, 5];
        let keep = ext("2.5.29.15", b"ku");
        let drop = ext("1.3.6.1.4.1.11129.2.4.2", b"scts");
        let with = tlv(
            0x30,
            &[
                version.clone(),
                serial.clone(),
                tlv(0xa3, &tlv(0x30, &[keep.clone(), drop].concat())),
            ]
            .concat(),
        );
        let without = tlv(
            0x30,
            &[version, serial, tlv(0xa3, &tlv(0x30, &keep))].concat(),
        );
        assert_eq!(precert_tbs(&with).unwrap(), without);
        assert!(precert_tbs(b"\x30\x05").is_err());
    }

    /// A real public-good Fulcio certificate (cosign's test bundle) against the public-good
    /// trusted root: it chains to the Fulcio CA and its embedded SCT verifies with the real CT
    /// log key over the rebuilt precertificate; a changed SCT byte, another time or another key
    /// fails.
    #[test]
    fn a_public_good_fulcio_certificate_and_its_sct_verify() {
        let Some(dir) = crate::test_support::fixtures() else {
            return;
        };
        let bundle: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join("rekor/oci-attestation.sigstore.json")).unwrap(),
        )
        .unwrap();
        let leaf = base64::engine::general_purpose::STANDARD
            .decode(
                bundle["verificationMaterial"]["certificate"]["rawBytes"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        let trusted = crate::transparency::trust::TrustedRoot::read(
            &dir.join("rekor/trusted-root-public-good.json"),
        )
        .unwrap();
        let cert = x509_cert::Certificate::from_der(&leaf).unwrap();
        let key = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .unwrap();
        let at = 1_740_770_291; // the entry's integrated time, inside the 10-minute validity
        let id = verify_certificate(std::slice::from_ref(&leaf), &key, &trusted, at).unwrap();
        assert!(id.identity.contains('@'), "{id:?}");
        assert!(id.issuer.starts_with("https://"), "{id:?}");

        assert!(
            verify_certificate(std::slice::from_ref(&leaf), &key, &trusted, at + 3600).is_err()
        );
        // Fulcio's clock a little ahead: a certificate that starts within the minute is taken,
        // one that starts later is not.
        let not_before = cert
            .tbs_certificate()
            .validity()
            .not_before
            .to_unix_duration()
            .as_secs();
        let v = |t| verify_certificate(std::slice::from_ref(&leaf), &key, &trusted, t);
        assert!(v(not_before - 30).is_ok());
        assert!(v(not_before - 120).is_err());
        let other = KeyPair::generate_p256().unwrap().public_key_der();
        let e = verify_certificate(std::slice::from_ref(&leaf), &other, &trusted, at).unwrap_err();
        assert!(e.contains("not for the key"), "{e}");
        // The SCT's signature is the last bytes of its extension: flip one inside it. The
        // certificate's own signature then fails too, so check the SCT alone.
        let ext = cert
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
            .find(|e| e.extn_id == SCT_LIST)
            .unwrap();
        let scts = parse_sct_list(ext.extn_value.as_bytes()).unwrap();
        assert_eq!(scts.len(), 1);
        let issuer = &trusted
            .certificate_authorities
            .iter()
            .find(|ca| {
                let mut full: Vec<(x509_cert::Certificate, &[u8])> =
                    vec![(cert.clone(), &leaf[..])];
                full.extend(
                    ca.chain
                        .iter()
                        .map(|d| (x509_cert::Certificate::from_der(d).unwrap(), &d[..])),
                );
                pki::check_chain(&full, at as i64, CODE_SIGNING, "codeSigning").is_ok()
            })
            .unwrap()
            .chain[0];
        verify_sct(&leaf, &cert, issuer, &trusted).unwrap();
        let mut no_ct = trusted.clone();
        no_ct.ctlogs.clear();
        let e = verify_sct(&leaf, &cert, issuer, &no_ct).unwrap_err();
        assert!(e.contains("unknown logs"), "{e}");
        // Another issuer's key hash: the signed precertificate entry differs.
        let e = verify_sct(&leaf, &cert, &leaf, &trusted).unwrap_err();
        assert!(e.contains("does not verify"), "{e}");
    }

    #[test]
    fn error_answers_never_repeat_the_token() {
        let t = answer_text(
            br#"{"code":401,"message":"bad token abc.def.ghi"}"#,
            "abc.def.ghi",
        );
        assert_eq!(t, ": bad token <token>");
    }
}
