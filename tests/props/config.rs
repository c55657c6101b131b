//! Configuration (`config::Config::load_with`): a config folder of arbitrary file names and
//! contents, and arbitrary `--override` and `--set` strings. A configuration that loads must
//! answer every accessor `main` uses.

use proptest::prelude::*;

use chainlet::config::{ArtifactType, Config, KEYS};

use crate::support::{self, any_string, near_str};

/// Key names: real ones, near-misses of real ones, anything.
fn key_name() -> impl Strategy<Value = String> {
    let real: Vec<&'static str> = KEYS.iter().map(|k| k.name).collect();
    let real: &'static [&'static str] = Vec::leak(real);
    prop_oneof![
        3 => prop::sample::select(real).prop_map(str::to_owned),
        2 => near_str(real),
        1 => any_string(),
    ]
}

/// Values: the ones Chains accepts (lists included), near-misses of them, anything.
fn key_value() -> impl Strategy<Value = String> {
    let real: Vec<&'static str> = KEYS
        .iter()
        .flat_map(|k| k.values.iter().map(|v| v.name))
        .chain([
            "oci,file",
            " tekton , oci,oci",
            "True",
            "0",
            "",
            "\n",
            "a\r\n",
        ])
        .collect();
    let real: &'static [&'static str] = Vec::leak(real);
    prop_oneof![
        3 => prop::sample::select(real).prop_map(str::to_owned),
        2 => near_str(real),
        1 => any_string(),
    ]
}

/// `KEY=VALUE` strings and near-misses: no `=`, several, blank, spaces around the key.
pub fn set_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (key_name(), key_value()).prop_map(|(k, v)| format!("{k}={v}")),
        1 => (key_name(), key_value()).prop_map(|(k, v)| format!(" {k} ={v}=")),
        1 => key_name(),
        1 => any_string(),
    ]
}

#[derive(Debug, Clone)]
enum ConfigEntry {
    File(Vec<u8>),
    Dir,
    Link(String),
}

fn config_dir() -> impl Strategy<Value = Vec<(String, ConfigEntry)>> {
    let name = prop_oneof![
        4 => key_name(),
        1 => Just("..data".to_owned()),
        1 => Just("..2024_01_01_00_00_00.1".to_owned()),
    ];
    let entry = prop_oneof![
        6 => key_value().prop_map(|v| ConfigEntry::File(v.into_bytes())),
        1 => support::any_bytes().prop_map(ConfigEntry::File),
        1 => Just(ConfigEntry::Dir),
        1 => key_name().prop_map(ConfigEntry::Link),
    ];
    prop::collection::vec((name, entry), 0..6)
}

proptest! {
    #![proptest_config(support::cases(256))]

    /// A config folder and `--override` / `--set` strings of any kind give a configuration
    /// or an error; a loaded one renders, checks and answers every accessor.
    #[test]
    fn config_loads_or_fails(
        entries in config_dir(),
        overrides in prop::collection::vec(set_string(), 0..4),
        sets in prop::collection::vec(set_string(), 0..4),
        use_dir in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        for (name, entry) in &entries {
            if name.is_empty() || name.len() > 255 || name.contains(['/', '\0'])
                || name == "." || name == ".."
            {
                continue;
            }
            let path = dir.path().join(name);
            if std::fs::symlink_metadata(&path).is_ok() {
                continue;
            }
            match entry {
                ConfigEntry::File(bytes) => std::fs::write(&path, bytes).unwrap(),
                ConfigEntry::Dir => std::fs::create_dir(&path).unwrap(),
                // (A target too long for the system is no link at all.)
                ConfigEntry::Link(target) if !target.contains('\0') && !target.is_empty() => {
                    let _ = std::os::unix::fs::symlink(target, &path);
                }
                ConfigEntry::Link(_) => {}
            }
        }
        let config_dir = use_dir.then_some(dir.path());
        if let Ok(mut config) = Config::load_with(config_dir, &overrides, &sets) {
            let types = [ArtifactType::TaskRun, ArtifactType::PipelineRun, ArtifactType::Oci];
            let _ = config.render();
            let _ = config.check_supported(&types);
            for t in types {
                let _ = (config.format(t), config.storage(t), config.enabled(t));
            }
            config.add_file_storage();
            let _ = config.check_supported(&types);
            for key in KEYS {
                let _ = config.get(key.name);
            }
        }
    }
}
