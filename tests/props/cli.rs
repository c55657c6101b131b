//! The binary as a whole: arbitrary `--param`, `--set`, `--override`, `--write-result` and
//! `--pipeline-result` values and arbitrary result files. The exit code is 0, 1 or 2 (never a
//! panic's 101 or an abort's signal), and a failure ends stderr with one `chainlet: error:`
//! line.
//!
//! Every run stays on this machine: storage is forced to `file` (the last `--set` wins),
//! transparency off, the Kubernetes API off, and `--write-result` paths are inside the run's
//! temporary folder.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::OnceLock;

use proptest::prelude::*;

use crate::support::{self, any_string, near_str};

/// A P-256 key as `x509.pem` (fast to load, unlike a cosign key).
fn x509_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| {
        let key = chainlet::signing::KeyPair::generate_p256().unwrap();
        support::pem("PRIVATE KEY", &key.to_pkcs8_der())
    })
}

/// An argument value: no NUL (no process can be given one).
fn arg(s: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    s.prop_map(|s| s.replace('\0', ""))
}

/// `NAME=VALUE` for `--param` and `--pipeline-result`: a hint name and a value near a real one.
fn name_value() -> impl Strategy<Value = String> {
    arg((
        crate::results::result_name(),
        near_str(&[
            "gcr.io/foo/bar",
            "sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4",
            "{\"uri\":\"gcr.io/a/b\",\"digest\":\"sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4\",\"isBuildArtifact\":\"true\"}",
            "[\"a\",\"b\"]",
            "https://git.example/a",
        ]),
    )
        .prop_map(|(n, v)| format!("{n}={v}")))
}

/// A valid `--set` / `--override`, or a free-text key with any value.
fn set() -> impl Strategy<Value = String> {
    arg(prop_oneof![
        3 => prop::sample::select(&[
            "artifacts.taskrun.format=slsa/v1",
            "artifacts.taskrun.format=in-toto",
            "artifacts.taskrun.format=slsa/v2alpha3",
            "artifacts.taskrun.format=slsa/v2alpha4",
            "builddefinition.buildtype=https://tekton.dev/chains/v2/slsa-tekton",
            "artifacts.oci.signer=none",
            "artifacts.taskrun.signer=none",
            "artifacts.pipelinerun.enable-deep-inspection=false",
            "storage.oci.encoding-format=sigstore-bundle",
            "artifacts.oci.storage=",
            "builder.id=",
        ][..])
        .prop_map(str::to_owned),
        1 => (
            prop::sample::select(&["builder.id", "storage.oci.repository", "transparency.url"][..]),
            any_string(),
        )
            .prop_map(|(k, v)| format!("{k}={v}")),
    ])
}

/// Which flag gets one arbitrary value besides the valid ones.
#[derive(Debug, Clone, Copy)]
enum Flag {
    Param,
    Set,
    Override,
    WriteResult,
    PipelineResult,
}

/// One flag's arbitrary value: a near-miss of `KEY=VALUE` or anything.
fn odd_value() -> impl Strategy<Value = (Flag, String)> {
    (
        prop::sample::select(
            &[
                Flag::Param,
                Flag::Set,
                Flag::Override,
                Flag::WriteResult,
                Flag::PipelineResult,
            ][..],
        ),
        arg(prop_oneof![
            crate::config::set_string(),
            near_str(&["statement-digest=", "subjects", "subjects==x", "=x"]),
            any_string(),
        ]),
    )
}

#[derive(Debug, Clone)]
struct Run {
    results: BTreeMap<String, Vec<u8>>,
    params: Vec<String>,
    sets: Vec<String>,
    overrides: Vec<String>,
    /// `--write-result` names; the paths are files in the run's folder.
    write_results: Vec<&'static str>,
    pipeline_results: Vec<String>,
    /// Now and then, one flag with an arbitrary value (most runs then stop at usage).
    odd: Option<(Flag, String)>,
    pipelinerun: bool,
    skip_invalid_hints: bool,
    format: &'static str,
}

fn run() -> impl Strategy<Value = Run> {
    (
        prop::collection::btree_map(
            crate::results::result_name(),
            crate::results::result_text(),
            0..5,
        ),
        prop::collection::vec(name_value(), 0..3),
        prop::collection::vec(set(), 0..3),
        prop::collection::vec(set(), 0..3),
        prop::collection::vec(
            prop::sample::select(&["statement-digest", "subjects"][..]),
            0..3,
        ),
        prop::collection::vec(name_value(), 0..3),
        prop::option::weighted(0.3, odd_value()),
        prop::bool::weighted(0.3),
        any::<bool>(),
        // (`tekton` needs the Kubernetes API, which these runs do not have.)
        prop::sample::select(&["slsa/v1", "slsa/v2alpha3", "slsa/v2alpha4"][..]),
    )
        .prop_map(
            |(
                results,
                params,
                sets,
                overrides,
                write_results,
                pipeline_results,
                odd,
                pipelinerun,
                skip_invalid_hints,
                format,
            )| Run {
                results,
                params,
                sets,
                overrides,
                write_results,
                pipeline_results,
                odd,
                pipelinerun,
                skip_invalid_hints,
                format,
            },
        )
}

/// `chainlet attest` with arbitrary values exits 0, 1 or 2, and a failure's cause is the last
/// line of stderr, on one line. (A process a case: few cases.)
#[test]
fn attest_exits_0_1_or_2_with_a_one_line_error() {
    support::run_slow(file!(), 24, 64, run(), |run| {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for dir in [
            "results", "steps", "secrets", "config", "out", "home", "written",
        ] {
            std::fs::create_dir(root.join(dir)).unwrap();
        }
        for (name, bytes) in &run.results {
            if !name.is_empty()
                && name.len() <= 255
                && !name.contains(['/', '\0'])
                && name != "."
                && name != ".."
            {
                std::fs::write(root.join("results").join(name), bytes).unwrap();
            }
        }
        std::fs::write(root.join("secrets/x509.pem"), x509_pem()).unwrap();

        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chainlet"));
        cmd.env_clear()
            .env("HOME", root.join("home"))
            .current_dir(root)
            .arg("attest")
            .arg(format!("--results-dir={}", root.join("results").display()))
            .arg(format!("--steps-dir={}", root.join("steps").display()))
            .arg(format!(
                "--signing-secrets={}",
                root.join("secrets").display()
            ))
            .arg(format!("--config-dir={}", root.join("config").display()))
            .arg(format!("--output-dir={}", root.join("out").display()))
            .arg("--taskrun-name=build")
            .arg("--taskrun-uid=0f1e2d3c-aaaa-bbbb-cccc-123456789abc")
            .arg("--taskrun-api=off");
        if run.pipelinerun {
            cmd.arg("--pipelinerun")
                .arg("--pipelinerun-name=pr")
                .arg("--pipelinerun-uid=aaaa-bbbb");
        }
        if run.skip_invalid_hints {
            cmd.arg("--skip-invalid-hints");
        }
        for p in &run.params {
            cmd.arg(format!("--param={p}"));
        }
        for o in &run.overrides {
            cmd.arg(format!("--override={o}"));
        }
        for (i, name) in run.write_results.iter().enumerate() {
            let path = root.join("written").join(i.to_string());
            cmd.arg(format!("--write-result={name}={}", path.display()));
        }
        for r in &run.pipeline_results {
            cmd.arg(format!("--pipeline-result={r}"));
        }
        if let Some((flag, value)) = &run.odd {
            let flag = match flag {
                Flag::Param => "--param",
                Flag::Set => "--set",
                Flag::Override => "--override",
                Flag::WriteResult => "--write-result",
                Flag::PipelineResult => "--pipeline-result",
            };
            // A --write-result path that names a file writes only inside the run's folder:
            // relative paths are relative to it, and absolute ones are not generated.
            cmd.arg(format!("{flag}={}", value.trim_start_matches('/')));
        }
        cmd.arg(format!("--set=artifacts.taskrun.format={}", run.format));
        for s in &run.sets {
            cmd.arg(format!("--set={s}"));
        }
        // Last, so they win: nothing leaves this machine.
        for s in [
            "artifacts.taskrun.storage=file",
            "artifacts.pipelinerun.storage=file",
            "artifacts.oci.storage=file",
            "transparency.enabled=false",
            "signers.x509.fulcio.enabled=false",
        ] {
            cmd.arg(format!("--set={s}"));
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        prop_assert!(
            matches!(code, Some(0..=2)),
            "exit {:?} (signal {:?}); stderr:\n{}",
            code,
            std::os::unix::process::ExitStatusExt::signal(&out.status),
            stderr
        );
        if code != Some(0) {
            let last = stderr.lines().next_back().unwrap_or("");
            prop_assert!(
                last.starts_with("chainlet: error: "),
                "exit {:?}: the last line of stderr is not the error:\n{}",
                code,
                stderr
            );
        }
        Ok(())
    });
}
