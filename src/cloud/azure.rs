//! Azure credentials for the `azurekms` signer, found in the environment the way Azure's
//! identity library (the `DefaultAzureCredential` sigstore's Key Vault client uses) finds them
//! in a pod:
//!
//! - a client secret: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` (its
//!   environment credential, tried first);
//! - workload identity federation (AKS): `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
//!   `AZURE_FEDERATED_TOKEN_FILE`, the projected service-account token sent as a
//!   `client_assertion`. The file is read at every exchange, because the kubelet rotates it.
//!
//! Both trade at `POST {authority}/{tenant}/oauth2/v2.0/token` (`grant_type=client_credentials`)
//! for an access token of one scope. The authority is `AZURE_AUTHORITY_HOST` (the workload
//! identity webhook sets it), else the cloud `AZURE_ENVIRONMENT` names as sigstore reads it, else
//! Azure's public cloud; it must be HTTPS. Certificates (`AZURE_CLIENT_CERTIFICATE_PATH`),
//! managed identity and the Azure CLI are not read: an error says so.
//!
//! Tokens are cached per scope until shortly before they expire. Errors name the token endpoint
//! and the variable or file, never the secret, the assertion or a token.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use zeroize::{Zeroize as _, Zeroizing};

use crate::cloud::google::{form_encode, parse_token};
use crate::net::{self, Origin, Policy, Request, Scheme, Transport, tls};

/// Azure's public cloud authority.
const PUBLIC_AUTHORITY: &str = "https://login.microsoftonline.com";
/// A projected service-account token is a few kilobytes.
const MAX_TOKEN_FILE: u64 = 64 * 1024;

/// An Azure cloud, as `AZURE_ENVIRONMENT` names it (sigstore's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Public,
    UsGovernment,
    China,
}

impl Cloud {
    pub fn from_env(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            Some("AZUREUSGOVERNMENT" | "AZUREUSGOVERNMENTCLOUD") => Cloud::UsGovernment,
            Some("AZURECHINACLOUD") => Cloud::China,
            _ => Cloud::Public,
        }
    }

    pub fn authority(self) -> &'static str {
        match self {
            Cloud::Public => PUBLIC_AUTHORITY,
            Cloud::UsGovernment => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// The Key Vault resource of this cloud (its token scope is `{resource}/.default`).
    pub fn key_vault(self) -> &'static str {
        match self {
            Cloud::Public => "https://vault.azure.net",
            Cloud::UsGovernment => "https://vault.usgovcloudapi.net",
            Cloud::China => "https://vault.azure.cn",
        }
    }
}

/// How the credentials reach the token endpoint.
#[derive(Debug, Clone)]
pub struct Options {
    /// The run's deadline: no token request outlives it.
    pub deadline: Instant,
    /// CAs trusted besides the system's (`--registry-ca`).
    pub extra_ca: Vec<tls::ExtraCa>,
}

/// Azure credentials: a client secret or a federated token file, with a token cache.
pub struct AzureAuth {
    secret: Secret,
    client_id: String,
    token_url: String,
    cloud: Cloud,
    net: Transport,
    /// (scope, token, when to stop using it)
    cache: Mutex<Vec<(String, Zeroizing<String>, Instant)>>,
}

enum Secret {
    ClientSecret(Zeroizing<String>),
    FederatedTokenFile(PathBuf),
}

/// What went wrong getting a token; never carries a secret, an assertion or a token.
#[derive(Debug, thiserror::Error)]
pub enum AzureAuthError {
    /// The environment does not name usable credentials.
    #[error("Azure credentials: {0}")]
    Config(String),
    /// `AZURE_FEDERATED_TOKEN_FILE` does not read as a token.
    #[error("Azure credentials AZURE_FEDERATED_TOKEN_FILE {path}: {message}")]
    TokenFile { path: String, message: String },
    /// The token endpoint answered, but not with a token.
    #[error("Azure token from {endpoint}: {message}")]
    Token { endpoint: String, message: String },
    /// The token endpoint could not be reached.
    #[error("Azure token from {endpoint}: {source}")]
    Net {
        endpoint: String,
        #[source]
        source: net::Error,
    },
}

impl std::fmt::Debug for AzureAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureAuth")
            .field("source", &self.describe())
            .finish_non_exhaustive()
    }
}

impl AzureAuth {
    /// Credentials from an environment given as a lookup (the process's, or a test's).
    pub fn from_lookup(
        env: impl Fn(&str) -> Option<String>,
        opts: Options,
    ) -> Result<Self, AzureAuthError> {
        let set = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let config = |m: String| AzureAuthError::Config(m);
        let cloud = Cloud::from_env(set("AZURE_ENVIRONMENT").as_deref());
        let secret = if let Some(s) = env("AZURE_CLIENT_SECRET").filter(|v| !v.is_empty()) {
            Secret::ClientSecret(Zeroizing::new(s))
        } else if set("AZURE_CLIENT_CERTIFICATE_PATH").is_some() {
            return Err(config(
                "AZURE_CLIENT_CERTIFICATE_PATH is set, but chainlet reads only a client secret \
                 (AZURE_CLIENT_SECRET) or workload identity (AZURE_FEDERATED_TOKEN_FILE)"
                    .into(),
            ));
        } else if let Some(file) = set("AZURE_FEDERATED_TOKEN_FILE") {
            Secret::FederatedTokenFile(PathBuf::from(file.trim()))
        } else {
            return Err(config(
                "none found: set AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_FEDERATED_TOKEN_FILE \
                 (workload identity) or AZURE_CLIENT_SECRET; managed identity and the Azure CLI \
                 are not read"
                    .into(),
            ));
        };
        let what = match secret {
            Secret::ClientSecret(_) => "AZURE_CLIENT_SECRET",
            Secret::FederatedTokenFile(_) => "AZURE_FEDERATED_TOKEN_FILE",
        };
        let tenant = set("AZURE_TENANT_ID")
            .map(|t| t.trim().to_owned())
            .ok_or_else(|| config(format!("{what} is set but AZURE_TENANT_ID is not")))?;
        if !tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            || tenant.starts_with('.')
        {
            return Err(config(format!(
                "AZURE_TENANT_ID {:?} is not a tenant ID or domain",
                tenant.chars().take(64).collect::<String>()
            )));
        }
        let client_id = set("AZURE_CLIENT_ID")
            .map(|c| c.trim().to_owned())
            .ok_or_else(|| config(format!("{what} is set but AZURE_CLIENT_ID is not")))?;
        let authority = match set("AZURE_AUTHORITY_HOST") {
            Some(a) => a.trim().trim_end_matches('/').to_owned(),
            None => cloud.authority().to_owned(),
        };
        let origin =
            Origin::of_url(&authority).map_err(|e| config(format!("AZURE_AUTHORITY_HOST: {e}")))?;
        if origin.scheme != Scheme::Https {
            return Err(config(format!(
                "AZURE_AUTHORITY_HOST {authority:?} is not https; credentials go only over TLS"
            )));
        }
        let net = Transport::new(net::Options {
            deadline: opts.deadline,
            plain_http: Vec::new(),
            trust: tls::Trust::system_and(opts.extra_ca, "--registry-ca"),
        });
        Ok(Self {
            secret,
            client_id,
            token_url: format!("{authority}/{tenant}/oauth2/v2.0/token"),
            cloud,
            net,
            cache: Mutex::new(Vec::new()),
        })
    }

    /// The cloud `AZURE_ENVIRONMENT` names.
    pub fn cloud(&self) -> Cloud {
        self.cloud
    }

    /// Where tokens come from, for logs and errors.
    pub fn describe(&self) -> String {
        match &self.secret {
            Secret::ClientSecret(_) => {
                format!("client secret of {} at {}", self.client_id, self.token_url)
            }
            Secret::FederatedTokenFile(p) => format!(
                "workload identity of {} ({}) at {}",
                self.client_id,
                p.display(),
                self.token_url
            ),
        }
    }

    /// An access token for `scope` (`https://vault.azure.net/.default`), from the cache while
    /// it is fresh.
    pub fn token(&self, scope: &str) -> Result<Zeroizing<String>, AzureAuthError> {
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, token, _)) = cache.iter().find(|(k, _, u)| k == scope && now < *u) {
                return Ok(token.clone());
            }
        }
        let (token, lifetime) = self.exchange(scope)?;
        let margin = Duration::from_secs(300).min(lifetime / 2);
        let until = now + lifetime.saturating_sub(margin);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|(k, _, _)| k != scope);
        cache.push((scope.to_owned(), token.clone(), until));
        Ok(token)
    }

    fn exchange(&self, scope: &str) -> Result<(Zeroizing<String>, Duration), AzureAuthError> {
        let endpoint = self.token_url.clone();
        let mut form = Zeroizing::new(format!(
            "grant_type=client_credentials&client_id={}&scope={}",
            form_encode(&self.client_id),
            form_encode(scope)
        ));
        match &self.secret {
            Secret::ClientSecret(s) => {
                form.push_str("&client_secret=");
                form.push_str(&form_encode(s));
            }
            Secret::FederatedTokenFile(path) => {
                let assertion = read_token_file(path)?;
                form.push_str("&client_assertion_type=");
                form.push_str(&form_encode(
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
                form.push_str("&client_assertion=");
                form.push_str(&form_encode(&assertion));
            }
        }
        let answer = self.net.send(
            &Request::new("POST", endpoint.clone(), "Azure token exchange")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Accept", "application/json")
                .body(form.as_bytes())
                .policy(Policy::idempotent())
                .max_body(64 * 1024),
        );
        form.zeroize();
        let answer = answer.map_err(|source| AzureAuthError::Net {
            endpoint: endpoint.clone(),
            source,
        })?;
        let mut body = answer.body;
        let result = if answer.status == 200 {
            parse_token(&body).map_err(|message| AzureAuthError::Token {
                endpoint: endpoint.clone(),
                message,
            })
        } else {
            Err(AzureAuthError::Token {
                endpoint: endpoint.clone(),
                message: format!("HTTP {}{}", answer.status, oauth_error(&body)),
            })
        };
        body.zeroize();
        result
    }
}

/// The federated token, trimmed; an error names the file, never its content.
fn read_token_file(path: &Path) -> Result<Zeroizing<String>, AzureAuthError> {
    use std::io::Read as _;
    let err = |m: String| AzureAuthError::TokenFile {
        path: path.display().to_string(),
        message: m,
    };
    let file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_TOKEN_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(e.to_string()))?;
    if bytes.len() as u64 > MAX_TOKEN_FILE {
        return Err(err("larger than a service-account token can be".into()));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| err("not text".into()))?;
    let token = text.trim();
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(err("does not hold a token".into()));
    }
    Ok(Zeroizing::new(token.to_owned()))
}

/// `: error: description` from an OAuth error answer, short and printable, or nothing.
/// Entra's descriptions carry an `AADSTS` code and trace IDs, never what was sent.
pub fn oauth_error(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct OAuthError {
        error: Option<String>,
        error_description: Option<String>,
    }
    let Ok(e) = serde_json::from_slice::<OAuthError>(body) else {
        return String::new();
    };
    let clean = |s: String| -> String { s.chars().filter(|c| !c.is_control()).take(240).collect() };
    match (e.error.map(clean), e.error_description.map(clean)) {
        (Some(e), Some(d)) => format!(": {e}: {d}"),
        (Some(e), None) => format!(": {e}"),
        (None, Some(d)) => format!(": {d}"),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            deadline: Instant::now() + Duration::from_secs(5),
            extra_ca: Vec::new(),
        }
    }

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_client_secret_wins_over_a_federated_token_as_in_azures_library() {
        let a = AzureAuth::from_lookup(
            env(&[
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "s3cret"),
                ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
            ]),
            opts(),
        )
        .unwrap();
        assert_eq!(
            a.describe(),
            "client secret of c at https://login.microsoftonline.com/t/oauth2/v2.0/token"
        );
        assert!(!format!("{a:?}").contains("s3cret"));
        let a = AzureAuth::from_lookup(
            env(&[
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
                ("AZURE_ENVIRONMENT", "AZURECHINACLOUD"),
            ]),
            opts(),
        )
        .unwrap();
        assert!(
            a.describe().contains("login.chinacloudapi.cn/t/"),
            "{}",
            a.describe()
        );
        assert_eq!(a.cloud().key_vault(), "https://vault.azure.cn");
    }

    #[test]
    fn missing_or_unsafe_settings_are_named() {
        let e = AzureAuth::from_lookup(env(&[]), opts())
            .unwrap_err()
            .to_string();
        assert!(e.contains("AZURE_FEDERATED_TOKEN_FILE"), "{e}");
        let e = AzureAuth::from_lookup(
            env(&[("AZURE_CLIENT_SECRET", "s3cret"), ("AZURE_CLIENT_ID", "c")]),
            opts(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("AZURE_TENANT_ID") && !e.contains("s3cret"),
            "{e}"
        );
        let e = AzureAuth::from_lookup(
            env(&[
                ("AZURE_TENANT_ID", "t/../x"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "s"),
            ]),
            opts(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not a tenant"), "{e}");
        let e = AzureAuth::from_lookup(
            env(&[
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "s"),
                ("AZURE_AUTHORITY_HOST", "http://login.example"),
            ]),
            opts(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not https"), "{e}");
    }

    #[test]
    fn a_token_file_error_names_the_file_and_not_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "eyJ secret with spaces").unwrap();
        let e = read_token_file(&path).unwrap_err().to_string();
        assert!(e.contains("token") && !e.contains("eyJ"), "{e}");
        std::fs::write(&path, "  eyJhbGc.eyJzdWI.c2ln\n").unwrap();
        assert_eq!(
            read_token_file(&path).unwrap().as_str(),
            "eyJhbGc.eyJzdWI.c2ln"
        );
    }

    #[test]
    fn entra_errors_are_short_and_printable() {
        let e = oauth_error(
            br#"{"error":"invalid_client","error_description":"AADSTS700024: Client assertion is not within its valid time range.\r\nTrace ID: x","error_codes":[700024]}"#,
        );
        assert!(e.starts_with(": invalid_client: AADSTS700024"), "{e}");
        assert!(!e.contains('\n'));
        assert_eq!(oauth_error(b"<html>"), "");
    }
}
