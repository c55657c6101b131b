//! Helpers shared by the integration tests: the chainlet binary, the shared fixtures, the real
//! cosign binary, and pod directories.

pub mod apiserver;
pub mod attest;
pub mod fault;
pub mod http;
pub mod kubeapi;
pub mod registry;
pub mod sigstore;
pub mod tls;
pub mod token;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub use attest::Attest;

pub const DIGEST_A: &str = "05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5";
pub const DIGEST_B: &str = "2996854378975c2f8011ddf0526975d1aaf1790b404da7aad4bf25293055bc8b";
pub const DIGEST_C: &str = "586789aa031fafc7d78a5393cdc772e0b55107ea54bb8bcf3f2cdac6c6da51ee";
pub const UID: &str = "6b6a2a1c-7a8e-4b3f-9c1e-1234567890ab";

/// The shared test vectors: `CHAINLET_FIXTURES`, default `../shared/fixtures` next to the
/// repository. `None` when the folder is absent: the test is then [`skipped`].
pub fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("CHAINLET_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"));
    if dir.join("MANIFEST.md").is_file() {
        Some(dir)
    } else {
        skipped(&format!(
            "fixtures folder {} is absent (set CHAINLET_FIXTURES)",
            dir.display()
        ));
        None
    }
}

/// Where skipped tests leave a note for `scripts/test` to count and name.
pub fn skipped_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests")
}

/// Marks the running test as skipped for `why` (a missing test dependency). With `CI=true` a
/// skip is a failure: CI must run every test. Elsewhere the test returns early, and its name
/// and reason are printed and recorded, so `scripts/test` can say how many did not run.
pub fn skipped(why: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_owned();
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: {why}; with CI=true a test may not be skipped");
    }
    eprintln!("SKIPPED: {test}: {why}");
    let dir = skipped_dir();
    let file: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join(file), format!("{test}: {why}\n"));
    }
}

/// The real cosign binary: `CHAINLET_COSIGN`, else `cosign` on PATH. Tests that need it fail
/// when it is missing: `.ci/run` installs it.
pub fn cosign() -> PathBuf {
    if let Some(p) = std::env::var_os("CHAINLET_COSIGN") {
        return PathBuf::from(p);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("cosign"))
            .find(|p| p.is_file())
    });
    found.expect("cosign not found: run .ci/run (it installs cosign) or set CHAINLET_COSIGN")
}

/// Runs chainlet with arguments; logs are kept at warn to keep test output short.
pub fn chainlet(args: &[&str]) -> Output {
    chainlet_env(args, &[])
}

pub fn chainlet_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("chainlet runs")
}

/// The chainlet binary with logs at warn and nothing of the caller's environment that steers
/// chainlet in a test.
pub fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chainlet"));
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("CHAINLET_") {
            cmd.env_remove(var);
        }
    }
    cmd.env("CHAINLET_LOG_LEVEL", "warn");
    for var in [
        "KUBERNETES_SERVICE_HOST",
        "KUBERNETES_SERVICE_PORT",
        "COSIGN_PASSWORD",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Asserts success and returns stdout.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A pod directory: `results/`, `steps/`, `secrets/`, and an `out/` that does not exist yet.
pub struct Pod {
    pub root: tempfile::TempDir,
}

impl Pod {
    pub fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("results")).unwrap();
        std::fs::create_dir_all(root.path().join("secrets")).unwrap();
        Self { root }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    pub fn s(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    pub fn result(&self, name: &str, value: &str) -> &Self {
        std::fs::write(self.path("results").join(name), value).unwrap();
        self
    }

    /// A step result in Tekton's layout: `steps/step-<name>` and `steps/<index>` both link to
    /// `run/<index>/status`, whose `results/` the step writes.
    pub fn step_result(&self, step: &str, index: usize, name: &str, value: &str) -> &Self {
        let status = self.path(&format!("run/{index}/status"));
        std::fs::create_dir_all(status.join("results")).unwrap();
        std::fs::write(status.join("results").join(name), value).unwrap();
        std::fs::create_dir_all(self.path("steps")).unwrap();
        for link in [format!("step-{step}"), index.to_string()] {
            let link = self.path("steps").join(link);
            if !link.exists() {
                std::os::unix::fs::symlink(format!("../run/{index}/status"), link).unwrap();
            }
        }
        self
    }

    /// A cosign key made by `chainlet generate-key-pair` with `password`, and the Secret's
    /// cosign.password holding it.
    pub fn chainlet_key(&self, password: &str) -> &Self {
        ok(&chainlet_env(
            &[
                "generate-key-pair",
                "--output-key-prefix",
                &self.s("secrets/cosign"),
            ],
            &[("COSIGN_PASSWORD", password)],
        ));
        self.secret("cosign.password", password.as_bytes())
    }

    pub fn secret_from(&self, name: &str, src: &Path) -> &Self {
        std::fs::copy(src, self.path("secrets").join(name)).unwrap();
        self
    }

    pub fn secret(&self, name: &str, value: &[u8]) -> &Self {
        std::fs::write(self.path("secrets").join(name), value).unwrap();
        self
    }

    /// The results of the "Done when" scenario: an image pair, IMAGES, an ARTIFACT_OUTPUTS
    /// object and the git hints.
    pub fn typical_results(&self) -> &Self {
        self.result("IMAGE_URL", "registry.example.com/team/app:v1\n")
            .result("IMAGE_DIGEST", &format!("sha256:{DIGEST_A}\n"))
            .result(
                "IMAGES",
                &format!("registry.example.com/team/base@sha256:{DIGEST_B}\nbusybox@sha256:{DIGEST_C}"),
            )
            .result(
                "bin-ARTIFACT_OUTPUTS",
                &format!(
                    r#"{{"uri":"pkg:generic/app-cli@1.0","digest":"sha256:{DIGEST_B}","isBuildArtifact":"true"}}"#
                ),
            )
            .result("CHAINS-GIT_URL", "https://github.com/example/app")
            .result("CHAINS-GIT_COMMIT", "0123456789abcdef0123456789abcdef01234567")
    }

    /// `chainlet attest` fully offline into `out/` ([`Attest::offline`]), with extra arguments.
    pub fn attest(&self, extra: &[&str]) -> Output {
        Attest::offline(self).args(extra).run()
    }

    /// Chains' e2e cosign key (`chains/test/testdata` of the fixtures `fx`, password "p").
    pub fn chains_key(&self, fx: &Path) -> &Self {
        let keys = fx.join("chains/test/testdata");
        self.secret_from("cosign.key", &keys.join("cosign.key"))
            .secret_from("cosign.password", &keys.join("cosign.password"))
    }

    pub fn envelope_path(&self) -> PathBuf {
        self.path(&format!("out/taskrun-{UID}/envelope.json"))
    }

    pub fn statement(&self) -> serde_json::Value {
        let bytes = std::fs::read(self.path(&format!("out/taskrun-{UID}/statement.json"))).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// Every file under `out/` (relative paths, sorted).
    pub fn written(&self) -> Vec<String> {
        let mut out = Vec::new();
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, base, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
        walk(&self.path("out"), &self.path("out"), &mut out);
        out.sort();
        out
    }
}

/// Runs the real cosign with arguments and extra environment; (success, stdout + stderr).
pub fn cosign_run(args: &[&OsStr], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(cosign());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("cosign runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs `cosign verify-blob-attestation` as the README and the issue describe, returning
/// (verified, combined output).
pub fn cosign_verify_attestation(pubkey: &Path, envelope: &Path, typ: &str) -> (bool, String) {
    verified(cosign_run(
        &os(&["verify-blob-attestation", "--insecure-ignore-tlog", "--key"])
            .into_iter()
            .chain([
                pubkey.as_os_str(),
                OsStr::new("--signature"),
                envelope.as_os_str(),
            ])
            .chain(os(&["--type", typ, "--check-claims=false", "/dev/null"]))
            .collect::<Vec<_>>(),
        &[],
    ))
}

/// Runs `cosign verify-blob` on a signature file (base64) over a payload.
pub fn cosign_verify_blob(pubkey: &Path, signature: &Path, blob: &Path) -> (bool, String) {
    verified(cosign_run(
        &os(&["verify-blob", "--insecure-ignore-tlog", "--key"])
            .into_iter()
            .chain([
                pubkey.as_os_str(),
                OsStr::new("--signature"),
                signature.as_os_str(),
                blob.as_os_str(),
            ])
            .collect::<Vec<_>>(),
        &[],
    ))
}

fn verified((ok, text): (bool, String)) -> (bool, String) {
    (ok && text.contains("Verified OK"), text)
}

fn os<'a>(args: &'a [&'a str]) -> Vec<&'a OsStr> {
    args.iter().map(OsStr::new).collect()
}

/// Runs openssl in `dir`; fails the test with openssl's message when it fails.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A YAML document as JSON (python3's yaml module, which the YAML lint needs anyway).
pub fn yaml_to_json(yaml: &[u8]) -> serde_json::Value {
    let mut child = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with the yaml module (apt-get install python3-yaml)");
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(yaml).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}
