//! Registry credentials and the token flow.
//!
//! Credentials come from a Docker `config.json`: `--docker-config DIR` (a mounted
//! `kubernetes.io/dockerconfigjson` Secret: `DIR/.dockerconfigjson` or `DIR/config.json`), else
//! `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json` (where Tekton copies
//! `/tekton/creds`). Entries are looked up by `host/repository`, then by host, as
//! go-containerregistry does. Credential helpers (`credHelpers`, `credsStore`) run programs a
//! `FROM scratch` image does not have; they are not used.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;
use zeroize::Zeroizing;

/// Credentials for one registry. `Debug` never shows them.
#[derive(Clone, Default)]
pub struct Credentials {
    pub username: String,
    pub password: Zeroizing<String>,
    /// An OAuth2 refresh token (`identitytoken`), exchanged at the token realm.
    pub identity_token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({:?}, …)", self.username)
    }
}

impl Credentials {
    /// The `Authorization: Basic` value.
    pub fn basic(&self) -> Zeroizing<String> {
        let raw = Zeroizing::new(format!("{}:{}", self.username, *self.password));
        Zeroizing::new(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw.as_bytes())
        ))
    }
}

#[derive(Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{path}: {problem}")]
    Config { path: PathBuf, problem: String },
}

/// The credentials of a Docker config file, by key.
#[derive(Debug, Default, Clone)]
pub struct Keychain {
    entries: Vec<(String, Credentials)>,
    pub source: Option<PathBuf>,
}

impl Keychain {
    /// Finds and reads the config file. No file means anonymous access.
    pub fn load(explicit_dir: Option<&Path>) -> Result<Self, AuthError> {
        let candidates: Vec<PathBuf> = match explicit_dir {
            Some(dir) => vec![dir.join(".dockerconfigjson"), dir.join("config.json")],
            None => {
                let mut c = Vec::new();
                if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
                    c.push(PathBuf::from(d).join("config.json"));
                }
                if let Some(h) = std::env::var_os("HOME") {
                    c.push(PathBuf::from(h).join(".docker/config.json"));
                }
                c
            }
        };
        let Some(path) = candidates.into_iter().find(|p| p.is_file()) else {
            if let Some(dir) = explicit_dir {
                return Err(AuthError::Config {
                    path: dir.to_owned(),
                    problem: "has neither .dockerconfigjson nor config.json".into(),
                });
            }
            return Ok(Self::default());
        };
        let bytes =
            crate::fsread::read_limited(&path, 1024 * 1024).map_err(|e| AuthError::Config {
                path: path.clone(),
                problem: e.to_string(),
            })?;
        let bytes = Zeroizing::new(bytes);
        let file: ConfigFile = serde_json::from_slice(&bytes).map_err(|e| AuthError::Config {
            path: path.clone(),
            // serde_json's message names a line and column, never the content.
            problem: format!("not a Docker config.json: {e}"),
        })?;
        let mut entries = Vec::new();
        for (key, entry) in file.auths {
            let (mut username, mut password) = (
                entry.username.unwrap_or_default(),
                Zeroizing::new(entry.password.unwrap_or_default()),
            );
            if let Some(auth) = entry.auth.filter(|a| !a.is_empty()) {
                let decoded = Zeroizing::new(
                    base64::engine::general_purpose::STANDARD
                        .decode(auth.trim())
                        .map_err(|_| AuthError::Config {
                            path: path.clone(),
                            problem: format!("auths[{key:?}].auth is not base64"),
                        })?,
                );
                let text = std::str::from_utf8(&decoded).map_err(|_| AuthError::Config {
                    path: path.clone(),
                    problem: format!("auths[{key:?}].auth is not user:password"),
                })?;
                let (u, p) = text.split_once(':').ok_or_else(|| AuthError::Config {
                    path: path.clone(),
                    problem: format!("auths[{key:?}].auth is not user:password"),
                })?;
                username = u.to_owned();
                password = Zeroizing::new(p.to_owned());
            }
            entries.push((
                normalise_key(&key),
                Credentials {
                    username,
                    password,
                    identity_token: entry
                        .identitytoken
                        .filter(|t| !t.is_empty())
                        .map(Zeroizing::new),
                },
            ));
        }
        Ok(Self {
            entries,
            source: Some(path),
        })
    }

    /// Credentials for `registry/repository`: the full name first, then the host. Docker Hub
    /// is stored under `https://index.docker.io/v1/`.
    pub fn lookup(&self, registry: &str, repository: &str) -> Option<&Credentials> {
        let host = registry;
        let full = format!("{registry}/{repository}");
        self.entries
            .iter()
            .find(|(k, _)| *k == full)
            .or_else(|| self.entries.iter().find(|(k, _)| k == host))
            .or_else(|| {
                (registry == "index.docker.io")
                    .then(|| self.entries.iter().find(|(k, _)| k == "docker.io"))
                    .flatten()
            })
            .map(|(_, c)| c)
    }
}

/// `https://index.docker.io/v1/` → `index.docker.io`; `https://host:5000/x` → `host:5000/x`.
fn normalise_key(key: &str) -> String {
    let k = key
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let k = k
        .strip_suffix("/v1")
        .or_else(|| k.strip_suffix("/v2"))
        .unwrap_or(k);
    k.to_owned()
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses `Basic realm="x"` or `Bearer realm="…",service="…",scope="…"`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => {
            let params = parse_params(rest);
            Some(Challenge::Bearer {
                realm: params.get("realm")?.clone(),
                service: params.get("service").cloned(),
                scope: params.get("scope").cloned(),
            })
        }
        _ => None,
    }
}

/// `k="v", k2=v2` with quoted values that may hold commas.
fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (q[..end].to_owned(), q.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        out.insert(key, value);
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// The token endpoint's answer: `access_token` wins over `token`.
#[derive(Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl TokenResponse {
    pub fn into_token(self) -> Option<Zeroizing<String>> {
        self.access_token
            .filter(|t| !t.is_empty())
            .or(self.token.filter(|t| !t.is_empty()))
            .map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        assert_eq!(
            parse_challenge("Basic realm=\"registry\""),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(
                "Bearer realm=\"https://auth.example/token\",service=\"reg\",scope=\"repository:a/b:pull,push\""
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("reg".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(parse_challenge("Negotiate abc"), None);
    }

    #[test]
    fn keychain_reads_auth_user_password_and_identity_tokens() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".dockerconfigjson"),
            r#"{"auths":{
                "https://index.docker.io/v1/":{"auth":"dTE6cDE="},
                "reg.example:5000":{"username":"u2","password":"secret-password-2"},
                "reg.example:5000/team/app":{"auth":"dTM6cDM="},
                "tok.example":{"identitytoken":"refresh"}}}"#,
        )
        .unwrap();
        let k = Keychain::load(Some(dir.path())).unwrap();
        assert_eq!(
            k.lookup("index.docker.io", "library/busybox")
                .unwrap()
                .username,
            "u1"
        );
        assert_eq!(
            k.lookup("reg.example:5000", "team/app").unwrap().username,
            "u3"
        );
        assert_eq!(
            k.lookup("reg.example:5000", "other").unwrap().username,
            "u2"
        );
        assert!(
            k.lookup("tok.example", "x")
                .unwrap()
                .identity_token
                .is_some()
        );
        assert!(k.lookup("elsewhere.example", "x").is_none());
        // (A distinctive password: the temporary folder's random name is in the output too.)
        assert!(!format!("{:?}", k).contains("secret-password-2"));
    }
}
