//! Configuration with Chains' `chains-config` keys.
//!
//! Sources, later wins: built-in defaults < `--config-dir` (a mounted ConfigMap: one file per
//! key) < `--set KEY=VALUE`. Unlike Chains, an unknown key or an invalid value is an error (Chains
//! ignores unknown keys and bad booleans), and a valid Chains value that chainlet does not
//! implement yet fails at start-up instead of failing later or being ignored.

pub mod keys;
pub mod names;
pub mod run;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use keys::{KEYS, Kind};
pub use names::{SignerName, StorageName};

/// Where a value came from, for `--print-config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    ConfigDir(PathBuf),
    /// `--override` (a Tekton param with a value).
    Override,
    Flag,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::ConfigDir(p) => write!(f, "{}", p.display()),
            Source::Override => f.write_str("--override"),
            Source::Flag => f.write_str("--set"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{origin}: unknown config key {key:?} (see `chainlet attest --help` or README for the keys)"
    )]
    UnknownKey { key: String, origin: String },
    #[error("{origin}: invalid value {value:?} for {key}; accepted: {accepted}")]
    InvalidValue {
        key: &'static str,
        value: String,
        origin: String,
        accepted: String,
    },
    #[error(
        "{key} = {value:?} (from {origin}) is not supported yet: {why}; choose another value with --set {key}=…"
    )]
    NotSupported {
        key: &'static str,
        value: String,
        origin: String,
        why: &'static str,
    },
    #[error("{path}: {problem}")]
    ConfigFile { path: PathBuf, problem: String },
    #[error("{flag} {given:?}: expected KEY=VALUE")]
    BadSet { flag: &'static str, given: String },
    #[error("{path}: cannot read the config directory: {source}")]
    ConfigDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An artifact type and its three keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactType {
    TaskRun,
    PipelineRun,
    Oci,
}

impl ArtifactType {
    fn prefix(self) -> &'static str {
        match self {
            ArtifactType::TaskRun => "artifacts.taskrun",
            ArtifactType::PipelineRun => "artifacts.pipelinerun",
            ArtifactType::Oci => "artifacts.oci",
        }
    }
}

#[derive(Debug, Clone)]
struct Setting {
    value: String,
    source: Source,
    /// `--output-dir` added `file` to this storage list.
    added_file: bool,
}

/// The resolved configuration: every known key with its value and source. Values are validated
/// on construction, so the typed accessors cannot fail.
#[derive(Debug, Clone)]
pub struct Config {
    settings: BTreeMap<&'static str, Setting>,
}

impl Config {
    /// Resolves defaults < files in `config_dir` < `sets`, validating every value.
    pub fn load(config_dir: Option<&Path>, sets: &[String]) -> Result<Self, ConfigError> {
        Self::load_with(config_dir, &[], sets)
    }

    /// [`Config::load`] with `--override` values between the config directory and `--set`:
    /// like `--set`, except that an empty value means "not given" (a Tekton param left at
    /// its empty default), so the config directory's value stays.
    pub fn load_with(
        config_dir: Option<&Path>,
        overrides: &[String],
        sets: &[String],
    ) -> Result<Self, ConfigError> {
        let mut settings: BTreeMap<&'static str, Setting> = KEYS
            .iter()
            .map(|k| {
                (
                    k.name,
                    Setting {
                        value: k.default.to_owned(),
                        source: Source::Default,
                        added_file: false,
                    },
                )
            })
            .collect();
        if let Some(dir) = config_dir {
            for (name, value, path) in read_config_dir(dir)? {
                let origin = path.display().to_string();
                let key = keys::find(&name).ok_or_else(|| ConfigError::UnknownKey {
                    key: name.clone(),
                    origin: origin.clone(),
                })?;
                let value = normalise(key, &value, &origin)?;
                settings.insert(
                    key.name,
                    Setting {
                        value,
                        source: Source::ConfigDir(path),
                        added_file: false,
                    },
                );
            }
        }
        // An override with an empty value is not given, but its key must still be one.
        for (name, _) in overrides
            .iter()
            .filter_map(|o| o.split_once('='))
            .filter(|(_, v)| v.trim().is_empty())
        {
            keys::find(name.trim()).ok_or_else(|| ConfigError::UnknownKey {
                key: name.to_owned(),
                origin: format!("--override {name}"),
            })?;
        }
        let given = overrides
            .iter()
            .filter(|o| o.split_once('=').is_none_or(|(_, v)| !v.trim().is_empty()))
            .map(|o| (o, "--override", Source::Override))
            .chain(sets.iter().map(|s| (s, "--set", Source::Flag)));
        // Blank entries are skipped: the environment form is one KEY=VALUE per line.
        for (set, flag, source) in given.filter(|(s, _, _)| !s.trim().is_empty()) {
            let (name, value) = set.split_once('=').ok_or_else(|| ConfigError::BadSet {
                flag,
                given: set.clone(),
            })?;
            let origin = format!("{flag} {name}");
            let key = keys::find(name.trim()).ok_or_else(|| ConfigError::UnknownKey {
                key: name.to_owned(),
                origin: origin.clone(),
            })?;
            let value = normalise(key, value, &origin)?;
            settings.insert(
                key.name,
                Setting {
                    value,
                    source,
                    added_file: false,
                },
            );
        }
        Ok(Self { settings })
    }

    /// Adds `file` to the storage list of every artifact type (what `--output-dir` means).
    pub fn add_file_storage(&mut self) {
        for t in [
            ArtifactType::TaskRun,
            ArtifactType::PipelineRun,
            ArtifactType::Oci,
        ] {
            let name = keys::find(&format!("{}.storage", t.prefix()))
                .expect("storage keys exist")
                .name;
            let setting = self.settings.get_mut(name).expect("every key has a value");
            let mut items = split_list(&setting.value);
            if items.is_empty() || items.iter().any(|i| i == "file") {
                // Disabled ("") stays disabled; `file` already present changes nothing.
                continue;
            }
            items.push("file".into());
            items.sort();
            setting.value = items.join(",");
            setting.added_file = true;
        }
    }

    /// Fails with "not supported yet" when a value this run would use is a valid Chains value
    /// chainlet does not implement. Only the artifact types the run produces are checked:
    /// PipelineRun keys are checked when a PipelineRun is attested.
    pub fn check_supported(&self, types: &[ArtifactType]) -> Result<(), ConfigError> {
        let mut relevant: Vec<&'static str> = vec![
            "transparency.enabled",
            "signers.x509.fulcio.enabled",
            "builddefinition.buildtype",
        ];
        for t in types {
            if !self.enabled(*t) {
                continue;
            }
            for suffix in ["format", "storage", "signer"] {
                relevant.push(
                    keys::find(&format!("{}.{suffix}", t.prefix()))
                        .expect("artifact keys exist")
                        .name,
                );
            }
        }
        if types.iter().any(|t| self.stores(*t, StorageName::Oci)) {
            relevant.push("storage.oci.encoding-format");
        }
        if types
            .iter()
            .any(|t| self.stores(*t, StorageName::Kafka) || self.stores(*t, StorageName::Pubsub))
        {
            relevant.push("storage.pubsub.provider");
        }
        for name in relevant {
            let key = keys::find(name).expect("relevant keys exist");
            let setting = &self.settings[name];
            let items = match key.kind {
                Kind::List => split_list(&setting.value),
                _ => vec![setting.value.clone()],
            };
            for item in items {
                if let Some(v) = key.values.iter().find(|v| v.name == item)
                    && let Some(why) = v.pending
                {
                    return Err(ConfigError::NotSupported {
                        key: key.name,
                        value: item,
                        origin: setting.source.to_string(),
                        why,
                    });
                }
            }
        }
        Ok(())
    }

    /// The raw value of a key.
    pub fn get(&self, name: &str) -> &str {
        &self
            .settings
            .get(name)
            .unwrap_or_else(|| panic!("unknown config key {name} used in code"))
            .value
    }

    /// Whether a key is at its default (set by nobody).
    pub fn is_default(&self, name: &str) -> bool {
        self.settings
            .get(name)
            .is_none_or(|s| matches!(s.source, Source::Default))
    }

    /// The format configured for an artifact type.
    pub fn format(&self, t: ArtifactType) -> &str {
        self.get(&format!("{}.format", t.prefix()))
    }

    /// The storage backends of an artifact type, sorted (Chains runs them in sorted order).
    pub fn storage(&self, t: ArtifactType) -> Vec<StorageName> {
        split_list(self.get(&format!("{}.storage", t.prefix())))
            .iter()
            .filter_map(|v| StorageName::parse(v))
            .collect()
    }

    /// Whether an artifact type is on and stores in `backend`.
    pub fn stores(&self, t: ArtifactType, backend: StorageName) -> bool {
        self.enabled(t) && self.storage(t).contains(&backend)
    }

    /// The signer configured for an artifact type.
    pub fn signer(&self, t: ArtifactType) -> SignerName {
        SignerName::parse(self.get(&format!("{}.signer", t.prefix())))
            .expect("the config validated the signer")
    }

    /// Whether an artifact type is produced at all: Chains turns a type off when its signer is
    /// `none` or its storage is the empty string.
    pub fn enabled(&self, t: ArtifactType) -> bool {
        self.signer(t) != SignerName::None && !self.storage(t).is_empty()
    }

    /// The resolved configuration with the source of each value, one `key = value  # source`
    /// line per key.
    pub fn render(&self) -> String {
        let width = KEYS.iter().map(|k| k.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for key in KEYS {
            let s = &self.settings[key.name];
            let added = if s.added_file {
                ", file added by --output-dir"
            } else {
                ""
            };
            let shown = if keys::is_secret(key.name) && !s.value.is_empty() {
                format!("<redacted, {} bytes>", s.value.len())
            } else {
                format!("{:?}", s.value)
            };
            out.push_str(&format!(
                "{:width$} = {shown}  # {}{added}\n",
                key.name, s.source
            ));
        }
        out
    }
}

/// Reads a mounted ConfigMap directory: one file per key. Kubernetes' own entries (`..data`,
/// `..<timestamp>`, anything starting with `..`) are skipped; the per-key symlinks into them
/// are followed. A trailing newline (from `kubectl create configmap --from-file`) is dropped.
fn read_config_dir(dir: &Path) -> Result<Vec<(String, String, PathBuf)>, ConfigError> {
    let io = |source| ConfigError::ConfigDir {
        path: dir.to_owned(),
        source,
    };
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("..") {
            continue;
        }
        let path = entry.path();
        // A ConfigMap volume holds regular files (through symlinks). Anything else under a
        // key's name is a mistake to report, not skip; a FIFO would block the read forever.
        let meta = std::fs::metadata(&path).map_err(|e| ConfigError::ConfigFile {
            path: path.clone(),
            problem: e.to_string(),
        })?;
        if !meta.is_file() {
            let kind = if meta.is_dir() {
                "a directory"
            } else {
                "not a regular file"
            };
            return Err(ConfigError::ConfigFile {
                path,
                problem: format!("is {kind}, where a config key's value belongs"),
            });
        }
        let bytes =
            crate::fsread::read_limited(&path, 64 * 1024).map_err(|e| ConfigError::ConfigFile {
                path: path.clone(),
                problem: e.to_string(),
            })?;
        let value = String::from_utf8(bytes).map_err(|_| ConfigError::ConfigFile {
            path: path.clone(),
            problem: "is not UTF-8 text".into(),
        })?;
        let value = value
            .strip_suffix("\r\n")
            .or_else(|| value.strip_suffix('\n'))
            .unwrap_or(&value)
            .to_owned();
        out.push((name, value, path));
    }
    Ok(out)
}

/// Validates a value for a key and returns its canonical form.
fn normalise(key: &'static keys::Key, value: &str, origin: &str) -> Result<String, ConfigError> {
    let accepted = || {
        key.values
            .iter()
            .map(|v| {
                if v.name.is_empty() {
                    "\"\"".to_owned()
                } else {
                    v.name.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let invalid = |v: &str| ConfigError::InvalidValue {
        key: key.name,
        value: v.to_owned(),
        origin: origin.to_owned(),
        accepted: accepted(),
    };
    match key.kind {
        Kind::Text => Ok(value.to_owned()),
        Kind::Enum => {
            let v = value.trim();
            if key.values.iter().any(|a| a.name == v) {
                Ok(v.to_owned())
            } else {
                Err(invalid(value))
            }
        }
        Kind::Bool => match value.trim() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok("true".into()),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok("false".into()),
            _ => Err(invalid(value)),
        },
        Kind::List => {
            if value.trim().is_empty() {
                return Ok(String::new());
            }
            let mut items = Vec::new();
            for item in value.split(',') {
                let item = item.trim();
                if !key.values.iter().any(|a| a.name == item) {
                    return Err(invalid(item));
                }
                if !items.contains(&item) {
                    items.push(item);
                }
            }
            items.sort_unstable();
            Ok(items.join(","))
        }
    }
}

fn split_list(value: &str) -> Vec<String> {
    if value.is_empty() {
        return Vec::new();
    }
    value.split(',').map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(sets: &[&str]) -> Result<Config, ConfigError> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Config::load(None, &sets)
    }

    #[test]
    fn defaults_are_chainlets() {
        let c = load(&[]).unwrap();
        assert_eq!(c.format(ArtifactType::TaskRun), "slsa/v2alpha4");
        assert_eq!(c.storage(ArtifactType::Oci), vec![StorageName::Oci]);
        assert_eq!(c.get("builder.id"), "https://tekton.dev/chains/v2");
    }

    #[test]
    fn lists_are_trimmed_deduplicated_and_sorted() {
        let c = load(&["artifacts.taskrun.storage= oci ,file,oci"]).unwrap();
        assert_eq!(
            c.storage(ArtifactType::TaskRun),
            vec![StorageName::File, StorageName::Oci]
        );
    }

    #[test]
    fn empty_storage_disables_the_artifact_type() {
        let c = load(&["artifacts.oci.storage="]).unwrap();
        assert!(!c.enabled(ArtifactType::Oci));
        assert!(c.enabled(ArtifactType::TaskRun));
    }

    #[test]
    fn signer_none_disables_the_artifact_type() {
        let c = load(&["artifacts.oci.signer=none"]).unwrap();
        assert!(!c.enabled(ArtifactType::Oci));
    }

    #[test]
    fn unknown_key_is_named() {
        let e = load(&["artifacts.taskrun.fromat=slsa/v1"]).unwrap_err();
        assert!(e.to_string().contains("artifacts.taskrun.fromat"), "{e}");
    }

    #[test]
    fn invalid_value_lists_the_accepted_ones() {
        let e = load(&["artifacts.taskrun.format=slsa/v3"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("slsa/v3") && e.contains("slsa/v2alpha4"), "{e}");
    }

    #[test]
    fn invalid_bool_is_an_error_not_ignored() {
        assert!(load(&["storage.oci.repository.insecure=yes"]).is_err());
        let c = load(&["storage.oci.repository.insecure=True"]).unwrap();
        assert_eq!(c.get("storage.oci.repository.insecure"), "true");
    }

    #[test]
    fn valid_but_unimplemented_value_fails_the_check() {
        let c = load(&[
            "artifacts.taskrun.storage=kafka",
            "storage.pubsub.provider=inmemory",
        ])
        .unwrap();
        let e = c
            .check_supported(&[ArtifactType::TaskRun])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("inmemory") && e.contains("not supported yet"),
            "{e}"
        );
    }

    #[test]
    fn disabled_artifact_types_are_not_checked() {
        let c = load(&["artifacts.taskrun.storage=file", "artifacts.oci.storage="]).unwrap();
        c.check_supported(&[ArtifactType::TaskRun, ArtifactType::Oci])
            .unwrap();
    }

    #[test]
    fn output_dir_adds_file_everywhere_but_keeps_disabled_types_off() {
        let mut c = load(&["artifacts.oci.storage="]).unwrap();
        c.add_file_storage();
        assert_eq!(
            c.storage(ArtifactType::TaskRun),
            vec![StorageName::File, StorageName::Oci]
        );
        assert!(c.storage(ArtifactType::Oci).is_empty());
    }

    #[test]
    fn a_folder_or_fifo_in_the_config_dir_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("builder.id")).unwrap();
        let e = Config::load(Some(dir.path()), &[]).unwrap_err().to_string();
        assert!(e.contains("builder.id") && e.contains("a directory"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("artifacts.taskrun.format");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo (coreutils)");
        let e = Config::load(Some(dir.path()), &[]).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn config_dir_skips_kubernetes_entries_and_set_wins() {
        let dir = std::env::temp_dir().join(format!("chainlet-cfg-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("..2024_01_01")).unwrap();
        std::fs::write(dir.join("..2024_01_01/builder.id"), "x").unwrap();
        std::fs::write(dir.join("builder.id"), "https://example.com/b\n").unwrap();
        std::fs::write(dir.join("artifacts.taskrun.format"), "slsa/v1").unwrap();
        let c = Config::load(
            Some(&dir),
            &["artifacts.taskrun.format=slsa/v2alpha3".to_string()],
        )
        .unwrap();
        assert_eq!(c.get("builder.id"), "https://example.com/b");
        assert_eq!(c.format(ArtifactType::TaskRun), "slsa/v2alpha3");
        assert!(c.render().contains("# --set"));
        let c = Config::load(None, &["signers.kms.auth.token=s.SECRET".to_string()]).unwrap();
        assert!(!c.render().contains("s.SECRET"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
