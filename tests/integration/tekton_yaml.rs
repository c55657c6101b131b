//! The Tekton YAML in tasks/ drives this binary as Tekton would: its params' defaults and
//! `$(…)` variables substituted into the step's args and env, the volume mounts mapped to
//! folders of a test pod. Catches a StepAction or Task that names a flag or variable chainlet
//! does not have, or passes values in a form chainlet reads differently.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::*;
use serde_json::Value;

/// A YAML file as JSON.
fn yaml(path: &Path) -> Value {
    yaml_to_json(&std::fs::read(path).unwrap())
}

fn tasks_file(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tasks")
        .join(name)
}

/// Tekton's substitution: string params, context and result paths. Array params are expanded
/// by [`args`].
fn substitute(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("$({k})"), v);
    }
    assert!(
        !out.contains("$(params.") && !out.contains("$(context."),
        "unsubstituted variable left in {out:?}"
    );
    out
}

/// Every param's value: its default, overridden by `given`.
fn params(spec: &Value, given: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for p in spec["params"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        if let Some(d) = p.get("default").and_then(Value::as_str) {
            vars.insert(format!("params.{name}"), d.to_owned());
        }
    }
    for (k, v) in given {
        vars.insert(format!("params.{k}"), (*v).to_owned());
    }
    vars
}

fn step_env(step: &Value, vars: &BTreeMap<String, String>) -> Vec<(String, String)> {
    step["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                substitute(e["value"].as_str().unwrap(), vars),
            )
        })
        .collect()
}

/// The step's args, with `$(params.x[*])` expanded to one argument per element.
fn args(step: &Value, vars: &BTreeMap<String, String>, arrays: &[(&str, &[&str])]) -> Vec<String> {
    let mut out = Vec::new();
    for a in step["args"].as_array().unwrap() {
        let a = a.as_str().unwrap();
        if let Some((_, items)) = arrays
            .iter()
            .find(|(name, _)| a == format!("$(params.{name}[*])"))
        {
            out.extend(items.iter().map(|s| (*s).to_owned()));
        } else {
            out.push(substitute(a, vars));
        }
    }
    out
}

/// Runs the step: the mounts and Tekton's directories mapped to the pod's folders.
fn run_step(pod: &Pod, args: &[String], env: Vec<(String, String)>) -> std::process::Output {
    let mut env: BTreeMap<String, String> = env.into_iter().collect();
    std::fs::create_dir_all(pod.path("config")).unwrap();
    std::fs::create_dir_all(pod.path("home")).unwrap();
    for (k, v) in [
        ("CHAINLET_SIGNING_SECRETS", pod.s("secrets")),
        ("CHAINLET_CONFIG_DIR", pod.s("config")),
        ("CHAINLET_RESULTS_DIR", pod.s("results")),
        ("CHAINLET_STEPS_DIR", pod.s("steps")),
        ("HOME", pod.s("home")),
    ] {
        env.insert(k.to_owned(), v);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    chainlet_env(&args, &env)
}

fn context(pod: &Pod) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("context.taskRun.name".to_owned(), "build-run".to_owned()),
        ("context.taskRun.uid".to_owned(), UID.to_owned()),
        ("context.taskRun.namespace".to_owned(), "builds".to_owned()),
        ("context.task.name".to_owned(), "build".to_owned()),
        (
            "step.results.statement-digest.path".to_owned(),
            pod.s("statement-digest"),
        ),
        ("step.results.subjects.path".to_owned(), pod.s("subjects")),
        ("step.results.log-index.path".to_owned(), pod.s("log-index")),
        ("step.results.log-uuid.path".to_owned(), pod.s("log-uuid")),
        (
            "results.statement-digest.path".to_owned(),
            pod.s("statement-digest"),
        ),
        ("results.subjects.path".to_owned(), pod.s("subjects")),
    ])
}

#[test]
fn the_stepaction_runs_chainlet_as_its_params_say() {
    let pod = Pod::new();
    pod.typical_results().chainlet_key("test");
    std::fs::create_dir_all(pod.path("steps")).unwrap();
    let doc = yaml(&tasks_file("stepaction-chainlet-attest.yaml"));
    let spec = &doc["spec"];
    let out_dir = pod.s("out");
    let mut vars = params(
        spec,
        &[
            ("taskrun-storage", "file"),
            ("oci-storage", "file"),
            ("taskrun-format", "slsa/v1"),
            ("output-dir", &out_dir),
            ("provenance-params", "MESSAGE=hello"),
        ],
    );
    vars.extend(context(&pod));
    let args = args(spec, &vars, &[]);
    assert_eq!(args, ["attest"]);
    let out = run_step(&pod, &args, step_env(spec, &vars));
    ok(&out);

    let statement = std::fs::read(pod.path(&format!("out/taskrun-{UID}/statement.json"))).unwrap();
    let v: Value = serde_json::from_slice(&statement).unwrap();
    assert_eq!(v["predicateType"], "https://slsa.dev/provenance/v0.2");
    assert_eq!(
        v["predicate"]["invocation"]["parameters"]["MESSAGE"],
        "hello"
    );
    let digest = std::fs::read_to_string(pod.path("statement-digest")).unwrap();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    let subjects: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(pod.path("subjects")).unwrap()).unwrap();
    assert!(!subjects.is_empty());
    // Nothing was logged (transparency.enabled is false): the log results are empty.
    for name in ["log-index", "log-uuid"] {
        assert_eq!(
            std::fs::read_to_string(pod.path(name)).unwrap(),
            "",
            "{name}"
        );
    }
}

#[test]
fn the_finally_task_passes_results_after_the_separator() {
    let pod = Pod::new();
    pod.chainlet_key("test");
    let doc = yaml(&tasks_file("task-attest-pipelinerun.yaml"));
    let spec = &doc["spec"];
    let step = &spec["steps"][0];
    let mut vars = params(
        spec,
        &[
            ("pipelinerun-name", "pr-1"),
            ("pipelinerun-uid", "0a1b2c3d-1111-2222-3333-444455556666"),
            ("storage", "file"),
            ("format", "slsa/v2alpha4"),
        ],
    );
    vars.extend(context(&pod));
    let digest = "05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5";
    let image_digest = format!("IMAGE_DIGEST=sha256:{digest}");
    let results: &[&str] = &["IMAGE_URL=gcr.io/foo/bar", &image_digest];
    let args = args(step, &vars, &[("results", results)]);
    assert_eq!(args[..3], ["attest", "--pipelinerun", "--"]);
    let mut env = step_env(step, &vars);
    // The Task has no output folder of its own; the test gives storage `file` one.
    env.push(("CHAINLET_OUTPUT_DIR".into(), pod.s("out")));
    let out = run_step(&pod, &args, env);
    ok(&out);
    let statement: Value = serde_json::from_slice(
        &std::fs::read(
            pod.path("out/pipelinerun-0a1b2c3d-1111-2222-3333-444455556666/statement.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(statement["subject"][0]["name"], "gcr.io/foo/bar");
    assert_eq!(statement["subject"][0]["digest"]["sha256"], digest);
    let written = std::fs::read_to_string(pod.path("statement-digest")).unwrap();
    assert!(written.starts_with("sha256:"), "{written}");
}
