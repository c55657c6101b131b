//! Which log, which key, which timestamp authority: the transparency stage's setup, resolved
//! once from the config (`transparency.url`), the flags (`--rekor-version`, `--timestamp-url`)
//! and, when mounted, a Sigstore trusted root and signing config — the two files cosign 3
//! and sigstore-go take (`--trusted-root`, `--signing-config`).
//!
//! A trusted root says which keys to trust: the log's public key (to check its SET, checkpoint
//! and proof) and the timestamp authority's certificate chain. A signing config says where to
//! send things: the log's URL and API version, the timestamp authority's URL. Both are
//! untrusted input until parsed: every field is checked here and a bad file is a one-line error.

use std::path::Path;

use base64::Engine as _;
use serde::Deserialize;

/// The trusted root's and signing config's media types this parser knows.
pub const TRUSTED_ROOT_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
pub const SIGNING_CONFIG_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.signingconfig.v0.2+json";

/// A Rekor API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `POST /api/v1/log/entries`: Rekor v1 (rekor.sigstore.dev, Chains' default).
    V1,
    /// `POST /api/v2/log/entries`: the tile-backed Rekor v2 (rekor-tiles).
    V2,
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V2 => "v2",
        })
    }
}

/// Everything the log's client needs, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSetup {
    /// The log's base URL without a trailing `/` (`https://rekor.sigstore.dev`).
    pub url: String,
    pub version: ApiVersion,
    /// The log's public key (DER SubjectPublicKeyInfo) from the trusted root. `None`: a v1
    /// client asks the log (`GET /api/v1/log/publicKey`) and says that it did.
    pub key: Option<Vec<u8>>,
    /// The timestamp authority (required for v2, which gives no integrated time).
    pub timestamp: Option<TsaSetup>,
    /// Where the key and the version came from, for logs and errors.
    pub origin: String,
}

/// A timestamp authority: where to send requests, and which chain its answers must chain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsaSetup {
    /// The full endpoint (`https://timestamp.sigstore.dev/api/v1/timestamp`).
    pub url: String,
    /// Its certificate chain, leaf first, DER, from the trusted root. Empty: the client reads
    /// `<url>/certchain` from the authority itself and says that it did.
    pub chain: Vec<Vec<u8>>,
}

/// What the flags say about trust.
#[derive(Debug, Default, Clone)]
pub struct TrustFlags<'a> {
    pub trusted_root: Option<&'a Path>,
    pub signing_config: Option<&'a Path>,
    pub rekor_version: Option<ApiVersion>,
    pub timestamp_url: Option<&'a str>,
    /// `transparency.url` was set (not Chains' default), so it wins over a signing config.
    pub url_explicit: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{0}")]
    Setup(String),
}

fn file_error(file: &Path, message: impl Into<String>) -> TrustError {
    TrustError::File {
        file: file.display().to_string(),
        message: message.into(),
    }
}

/// Resolves the log the run writes to. `url` is `transparency.url`.
pub fn resolve(url: &str, flags: &TrustFlags<'_>) -> Result<LogSetup, TrustError> {
    let root = flags
        .trusted_root
        .map(|p| read_json::<RawTrustedRoot>(p).and_then(|raw| TrustedRoot::from_raw(raw, p)))
        .transpose()?;
    let signing = flags
        .signing_config
        .map(|p| read_json::<RawSigningConfig>(p).and_then(|raw| SigningConfig::from_raw(raw, p)))
        .transpose()?;
    let mut origin = Vec::new();

    // The URL: transparency.url, unless it was left at its default and a signing config
    // names the log.
    let mut url = normalise(url);
    let mut version = None;
    if let Some(sc) = &signing {
        let chosen = if flags.url_explicit {
            sc.rekor.iter().find(|s| normalise(&s.url) == url)
        } else {
            sc.rekor.iter().max_by_key(|s| s.major_api_version)
        };
        if let Some(service) = chosen {
            url = normalise(&service.url);
            version = Some(api_version(service.major_api_version, &sc.file)?);
            origin.push(format!("log from {}", sc.file));
        }
    }
    if let Some(v) = flags.rekor_version {
        version = Some(v);
    }
    let version = version.unwrap_or(ApiVersion::V1);
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(TrustError::Setup(format!(
            "transparency.url {url:?}: not an http(s) URL"
        )));
    }

    let key = match &root {
        Some(r) => {
            let log = r
                .logs
                .iter()
                .find(|l| normalise(&l.base_url) == url)
                .ok_or_else(|| {
                    file_error(
                        Path::new(&r.file),
                        format!(
                            "has no transparency log at {url} (its logs: {})",
                            r.log_urls()
                        ),
                    )
                })?;
            origin.push(format!("key from {}", r.file));
            Some(log.public_key.clone())
        }
        None => None,
    };

    let tsa_url = flags.timestamp_url.map(str::to_owned).or_else(|| {
        signing
            .as_ref()
            .and_then(|sc| sc.tsa.first().map(|s| s.url.clone()))
    });
    let timestamp = match tsa_url {
        Some(tsa_url) => {
            let tsa_url = normalise(&tsa_url);
            let chain = match &root {
                Some(r) => {
                    let found = r
                        .timestamp_authorities
                        .iter()
                        .find(|t| normalise(&t.uri) == tsa_url)
                        .or(if r.timestamp_authorities.len() == 1 {
                            r.timestamp_authorities.first()
                        } else {
                            None
                        })
                        .ok_or_else(|| {
                            file_error(
                                Path::new(&r.file),
                                format!("has no timestamp authority at {tsa_url}"),
                            )
                        })?;
                    found.chain.clone()
                }
                None => Vec::new(),
            };
            Some(TsaSetup {
                url: tsa_url,
                chain,
            })
        }
        None => None,
    };
    if version == ApiVersion::V2 && timestamp.is_none() {
        return Err(TrustError::Setup(format!(
            "transparency.url {url} is a Rekor v2 log, which gives no signing time: name a \
             timestamp authority with --timestamp-url or a --signing-config with tsaUrls"
        )));
    }
    if version == ApiVersion::V2 && key.is_none() {
        return Err(TrustError::Setup(format!(
            "transparency.url {url} is a Rekor v2 log, which does not serve its key: give a \
             --trusted-root that lists it"
        )));
    }
    Ok(LogSetup {
        url,
        version,
        key,
        timestamp,
        origin: if origin.is_empty() {
            "transparency.url".into()
        } else {
            origin.join(", ")
        },
    })
}

fn normalise(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

fn api_version(major: u32, file: &str) -> Result<ApiVersion, TrustError> {
    match major {
        1 => Ok(ApiVersion::V1),
        2 => Ok(ApiVersion::V2),
        other => Err(file_error(
            Path::new(file),
            format!(
                "rekorTlogUrls: majorApiVersion {other} is not a Rekor API chainlet knows (1 or 2)"
            ),
        )),
    }
}

/// Files are small; anything past this is not a trusted root.
const MAX_FILE: u64 = 4 << 20;

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, TrustError> {
    let bytes =
        crate::fsread::read_limited(path, MAX_FILE).map_err(|e| file_error(path, e.to_string()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| file_error(path, format!("not valid JSON for this file: {e}")))
}

/// A parsed trusted root: the logs and timestamp authorities it trusts.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    pub file: String,
    pub logs: Vec<TrustedLog>,
    pub timestamp_authorities: Vec<TrustedTsa>,
    /// Fulcio CAs: the chains a signing certificate must lead to.
    pub certificate_authorities: Vec<TrustedTsa>,
    /// Certificate transparency logs, whose SCTs a Fulcio certificate embeds.
    pub ctlogs: Vec<TrustedLog>,
}

#[derive(Debug, Clone)]
pub struct TrustedLog {
    pub base_url: String,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// The log id the root gives (SHA-256 of the key for v1 logs).
    pub log_id: Vec<u8>,
    /// `publicKey.validFor`: when the key was the log's.
    pub valid: Validity,
}

#[derive(Debug, Clone)]
pub struct TrustedTsa {
    pub uri: String,
    /// Leaf first, DER.
    pub chain: Vec<Vec<u8>>,
    /// `validFor`: when the authority was trusted.
    pub valid: Validity,
}

/// A trusted root's `validFor`: a key or authority counts for times in `[start, end)` only,
/// so a retired log key or CA stops vouching for anything dated after it was retired. Either
/// end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Validity {
    pub start: Option<std::time::SystemTime>,
    pub end: Option<std::time::SystemTime>,
}

impl Validity {
    /// Whether `t` is in the window.
    pub fn covers(&self, t: std::time::SystemTime) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t < e)
    }

    fn read(raw: Option<&RawValidity>, field: &str, path: &Path) -> Result<Self, TrustError> {
        let Some(v) = raw else {
            return Ok(Self::default());
        };
        let parse = |t: &Option<String>, what: &str| {
            t.as_deref()
                .map(|t| {
                    crate::time::parse_rfc3339(t).map_err(|e| {
                        file_error(path, format!("{field}.validFor.{what} {t:?}: {e}"))
                    })
                })
                .transpose()
        };
        Ok(Self {
            start: parse(&v.start, "start")?,
            end: parse(&v.end, "end")?,
        })
    }
}

impl TrustedRoot {
    /// Parses a trusted root file.
    pub fn read(path: &Path) -> Result<Self, TrustError> {
        read_json::<RawTrustedRoot>(path).and_then(|raw| Self::from_raw(raw, path))
    }

    fn from_raw(raw: RawTrustedRoot, path: &Path) -> Result<Self, TrustError> {
        if !raw
            .media_type
            .starts_with("application/vnd.dev.sigstore.trustedroot")
        {
            return Err(file_error(
                path,
                format!(
                    "mediaType {:?} is not a Sigstore trusted root ({TRUSTED_ROOT_MEDIA_TYPE})",
                    raw.media_type
                ),
            ));
        }
        let logs = logs_of(raw.tlogs, "tlogs", path)?;
        let ctlogs = logs_of(raw.ctlogs, "ctlogs", path)?;
        let timestamp_authorities =
            authorities_of(raw.timestamp_authorities, "timestampAuthorities", path)?;
        let certificate_authorities =
            authorities_of(raw.certificate_authorities, "certificateAuthorities", path)?;
        Ok(TrustedRoot {
            file: path.display().to_string(),
            logs,
            timestamp_authorities,
            certificate_authorities,
            ctlogs,
        })
    }

    fn log_urls(&self) -> String {
        if self.logs.is_empty() {
            return "none".into();
        }
        self.logs
            .iter()
            .map(|l| l.base_url.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn logs_of(raw: Vec<RawTlog>, field: &str, path: &Path) -> Result<Vec<TrustedLog>, TrustError> {
    let mut logs = Vec::new();
    for (i, t) in raw.into_iter().enumerate() {
        let public_key = b64(&t.public_key.raw_bytes)
            .map_err(|e| file_error(path, format!("{field}[{i}].publicKey.rawBytes: {e}")))?;
        let log_id = match t.log_id {
            Some(id) => b64(&id.key_id)
                .map_err(|e| file_error(path, format!("{field}[{i}].logId.keyId: {e}")))?,
            None => Vec::new(),
        };
        let valid = Validity::read(
            t.public_key.valid_for.as_ref(),
            &format!("{field}[{i}].publicKey"),
            path,
        )?;
        logs.push(TrustedLog {
            base_url: t.base_url,
            public_key,
            log_id,
            valid,
        });
    }
    Ok(logs)
}

fn authorities_of(
    raw: Vec<RawAuthority>,
    field: &str,
    path: &Path,
) -> Result<Vec<TrustedTsa>, TrustError> {
    let mut out = Vec::new();
    for (i, t) in raw.into_iter().enumerate() {
        let mut chain = Vec::new();
        for (j, c) in t.cert_chain.certificates.iter().enumerate() {
            chain.push(b64(&c.raw_bytes).map_err(|e| {
                file_error(
                    path,
                    format!("{field}[{i}].certChain.certificates[{j}]: {e}"),
                )
            })?);
        }
        if chain.is_empty() {
            return Err(file_error(
                path,
                format!("{field}[{i}] has no certificates"),
            ));
        }
        let valid = Validity::read(t.valid_for.as_ref(), &format!("{field}[{i}]"), path)?;
        out.push(TrustedTsa {
            uri: t.uri,
            chain,
            valid,
        });
    }
    Ok(out)
}

/// A parsed signing config: the logs and timestamp authorities to use, newest API first.
#[derive(Debug, Clone)]
pub struct SigningConfig {
    pub file: String,
    pub rekor: Vec<Service>,
    pub tsa: Vec<Service>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub url: String,
    pub major_api_version: u32,
}

impl SigningConfig {
    fn from_raw(raw: RawSigningConfig, path: &Path) -> Result<Self, TrustError> {
        if !raw
            .media_type
            .starts_with("application/vnd.dev.sigstore.signingconfig")
        {
            return Err(file_error(
                path,
                format!(
                    "mediaType {:?} is not a Sigstore signing config ({SIGNING_CONFIG_MEDIA_TYPE})",
                    raw.media_type
                ),
            ));
        }
        let now = std::time::SystemTime::now();
        let current = |s: &RawService| -> Result<bool, TrustError> {
            let Some(v) = &s.valid_for else {
                return Ok(true);
            };
            let parse = |t: &Option<String>,
                         what: &str|
             -> Result<Option<std::time::SystemTime>, TrustError> {
                t.as_deref()
                    .map(|t| {
                        crate::time::parse_rfc3339(t).map_err(|e| {
                            file_error(path, format!("{} validFor.{what} {t:?}: {e}", s.url))
                        })
                    })
                    .transpose()
            };
            let start = parse(&v.start, "start")?;
            let end = parse(&v.end, "end")?;
            Ok(start.is_none_or(|s| s <= now) && end.is_none_or(|e| now < e))
        };
        let mut rekor = Vec::new();
        for s in &raw.rekor_tlog_urls {
            if current(s)? {
                rekor.push(Service {
                    url: s.url.clone(),
                    major_api_version: s.major_api_version.unwrap_or(1),
                });
            }
        }
        let mut tsa = Vec::new();
        for s in &raw.tsa_urls {
            if current(s)? {
                tsa.push(Service {
                    url: s.url.clone(),
                    major_api_version: s.major_api_version.unwrap_or(1),
                });
            }
        }
        Ok(SigningConfig {
            file: path.display().to_string(),
            rekor,
            tsa,
        })
    }
}

fn b64(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| format!("not base64: {e}"))
}

// The files' JSON (protobuf JSON: camelCase, int64 as strings; unknown fields ignored).

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTrustedRoot {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<RawTlog>,
    #[serde(default)]
    timestamp_authorities: Vec<RawAuthority>,
    #[serde(default)]
    certificate_authorities: Vec<RawAuthority>,
    #[serde(default)]
    ctlogs: Vec<RawTlog>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlog {
    #[serde(default)]
    base_url: String,
    public_key: RawPublicKey,
    log_id: Option<RawLogId>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPublicKey {
    raw_bytes: String,
    #[serde(default)]
    valid_for: Option<RawValidity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAuthority {
    #[serde(default)]
    uri: String,
    cert_chain: RawChain,
    #[serde(default)]
    valid_for: Option<RawValidity>,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSigningConfig {
    media_type: String,
    #[serde(default)]
    rekor_tlog_urls: Vec<RawService>,
    #[serde(default)]
    tsa_urls: Vec<RawService>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawService {
    url: String,
    major_api_version: Option<u32>,
    valid_for: Option<RawValidity>,
}

#[derive(Deserialize)]
struct RawValidity {
    start: Option<String>,
    end: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    const KEY_B64: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwrkBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==";

    fn root(dir: &Path) -> std::path::PathBuf {
        write(
            dir,
            "root.json",
            &format!(
                r#"{{"mediaType":"{TRUSTED_ROOT_MEDIA_TYPE}","tlogs":[{{"baseUrl":"http://127.0.0.1:9/","hashAlgorithm":"SHA2_256","publicKey":{{"rawBytes":"{KEY_B64}","keyDetails":"PKIX_ECDSA_P256_SHA_256"}},"logId":{{"keyId":"AAAA"}}}}],
                "timestampAuthorities":[{{"uri":"http://127.0.0.1:8/api/v1/timestamp","certChain":{{"certificates":[{{"rawBytes":"AQID"}}]}}}}]}}"#
            ),
        )
    }

    #[test]
    fn a_trusted_root_gives_the_logs_key_and_the_tsa_chain() {
        let dir = tempfile::tempdir().unwrap();
        let r = root(dir.path());
        let setup = resolve(
            "http://127.0.0.1:9",
            &TrustFlags {
                trusted_root: Some(&r),
                rekor_version: Some(ApiVersion::V2),
                timestamp_url: Some("http://127.0.0.1:8/api/v1/timestamp"),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(setup.version, ApiVersion::V2);
        assert_eq!(setup.key.as_ref().unwrap().len(), 91);
        assert_eq!(setup.timestamp.unwrap().chain, vec![vec![1, 2, 3]]);
    }

    #[test]
    fn a_log_the_root_does_not_list_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let r = root(dir.path());
        let e = resolve(
            "https://rekor.example",
            &TrustFlags {
                trusted_root: Some(&r),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("root.json") && e.contains("no transparency log at https://rekor.example"),
            "{e}"
        );
    }

    #[test]
    fn a_signing_config_names_the_log_and_its_version_unless_the_url_was_set() {
        let dir = tempfile::tempdir().unwrap();
        let r = root(dir.path());
        let sc = write(
            dir.path(),
            "signing.json",
            &format!(
                r#"{{"mediaType":"{SIGNING_CONFIG_MEDIA_TYPE}",
                "rekorTlogUrls":[{{"url":"http://127.0.0.1:9","majorApiVersion":2,"validFor":{{"start":"2020-01-01T00:00:00Z"}}}},
                                 {{"url":"http://old.example","majorApiVersion":1,"validFor":{{"start":"2020-01-01T00:00:00Z","end":"2021-01-01T00:00:00Z"}}}}],
                "tsaUrls":[{{"url":"http://127.0.0.1:8/api/v1/timestamp","majorApiVersion":1}}]}}"#
            ),
        );
        let flags = TrustFlags {
            trusted_root: Some(&r),
            signing_config: Some(&sc),
            ..Default::default()
        };
        let setup = resolve("https://rekor.sigstore.dev", &flags).unwrap();
        assert_eq!(setup.url, "http://127.0.0.1:9");
        assert_eq!(setup.version, ApiVersion::V2);
        assert!(setup.timestamp.is_some());
        // An explicit URL the signing config does not list keeps v1 and then needs the root to know it.
        let e = resolve(
            "http://old.example",
            &TrustFlags {
                url_explicit: true,
                ..flags.clone()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("no transparency log at http://old.example"),
            "{e}"
        );
    }

    #[test]
    fn v2_without_a_timestamp_authority_or_key_says_what_is_missing() {
        let e = resolve(
            "http://127.0.0.1:9",
            &TrustFlags {
                rekor_version: Some(ApiVersion::V2),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--timestamp-url"), "{e}");
        let e = resolve(
            "http://127.0.0.1:9",
            &TrustFlags {
                rekor_version: Some(ApiVersion::V2),
                timestamp_url: Some("http://127.0.0.1:8/api/v1/timestamp"),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--trusted-root"), "{e}");
    }

    #[test]
    fn bad_files_are_one_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        for body in [
            "",
            "{",
            "[]",
            r#"{"mediaType":"x"}"#,
            r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[{"publicKey":{"rawBytes":"!!"}}]}"#,
        ] {
            let p = write(dir.path(), "bad.json", body);
            let e = TrustedRoot::read(&p).unwrap_err().to_string();
            assert!(e.contains("bad.json") && !e.contains('\n'), "{e}");
        }
    }
}
