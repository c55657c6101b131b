//! The Tekton YAML in tasks/ drives this binary as Tekton would: its params' defaults and
//! `$(…)` variables substituted into the step's args and env, the volume mounts mapped to
//! folders of a test pod. Catches a StepAction or Task that names a flag or variable chainlet
//! does not have, or passes values in a form chainlet reads differently.

use std::collections::{BTreeMap, BTreeSet};
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
        ![
            "$(params.",
            "$(context.",
            "$(step.",
            "$(results.",
            "$(workspaces."
        ]
        .iter()
        .any(|v| out.contains(v)),
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
        ("step.results.images.path".to_owned(), pod.s("images")),
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

// ---------------------------------------------------------------------------------------------
// Every resource of tasks/: params wired, env names that are chainlet's, refs that resolve.

/// Every YAML document of tasks/ as (file name, document).
fn tasks_docs() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tasks");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let docs = yaml_all(&std::fs::read_to_string(&path).unwrap());
        out.extend(docs.into_iter().map(|d| (name.clone(), d)));
    }
    assert!(!out.is_empty(), "no YAML in {}", dir.display());
    out
}

/// All documents of a YAML stream (`yaml_to_json` reads one).
fn yaml_all(text: &str) -> Vec<Value> {
    let mut child = std::process::Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d is not None]))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with the yaml module (apt-get install python3-yaml)");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "not YAML");
    match serde_json::from_slice(&out.stdout).unwrap() {
        Value::Array(docs) => docs,
        other => panic!("expected a list of documents, got {other}"),
    }
}

fn kind(doc: &Value) -> &str {
    doc["kind"].as_str().unwrap_or("")
}

fn name_of(v: &Value) -> &str {
    v["name"]
        .as_str()
        .or_else(|| v["metadata"]["name"].as_str())
        .unwrap_or("")
}

fn declared(spec: &Value, key: &str) -> BTreeSet<String> {
    spec[key]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| name_of(p).to_owned())
        .collect()
}

/// The names of the `$(params.NAME…)` in every string under `v`, skipping descriptions (prose
/// may mention a variable) and, with `skip`, some keys of the top object.
fn param_refs(v: &Value, skip: &[&str]) -> BTreeSet<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::String(s) => {
                let mut rest = s.as_str();
                while let Some(i) = rest.find("$(params.") {
                    rest = &rest[i + "$(params.".len()..];
                    let end = rest
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                        .unwrap_or(rest.len());
                    out.insert(rest[..end].to_owned());
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(map) => map
                .iter()
                .filter(|(k, _)| k.as_str() != "description")
                .for_each(|(_, v)| walk(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    match v {
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()) && k.as_str() != "description")
            .for_each(|(_, v)| walk(v, &mut out)),
        other => walk(other, &mut out),
    }
    out
}

/// A Task's (or StepAction's) spec: every param it declares is used, and every param it uses
/// is declared by it or, for a Pipeline's embedded Task, by the Pipeline (Tekton propagates
/// those). Embedded specs under `tasks[].taskSpec` are checked on their own.
fn check_params(spec: &Value, outer: &BTreeSet<String>, at: &str, problems: &mut Vec<String>) {
    let own = declared(spec, "params");
    let used = param_refs(spec, &["params", "tasks", "finally"]);
    for p in own.difference(&used) {
        problems.push(format!("{at}: param {p:?} is declared but never used"));
    }
    for p in used.difference(&own) {
        if !outer.contains(p) {
            problems.push(format!("{at}: uses $(params.{p}), which is not declared"));
        }
    }
}

#[test]
fn every_param_is_used_and_every_param_used_is_declared() {
    let mut problems = Vec::new();
    for (file, doc) in tasks_docs() {
        let spec = &doc["spec"];
        let at = format!("tasks/{file} {} {}", kind(&doc), name_of(&doc));
        match kind(&doc) {
            "StepAction" | "Task" => check_params(spec, &BTreeSet::new(), &at, &mut problems),
            "Pipeline" => {
                let own = declared(spec, "params");
                // The Pipeline's own params: used by its tasks' params, whens or embedded specs.
                let mut used = BTreeSet::new();
                for pt in pipeline_tasks(spec) {
                    used.extend(param_refs(pt, &[]));
                }
                used.extend(param_refs(&spec["results"], &[]));
                for p in own.difference(&used) {
                    problems.push(format!("{at}: param {p:?} is declared but never used"));
                }
                for pt in pipeline_tasks(spec) {
                    let pat = format!("{at} task {}", name_of(pt));
                    for p in param_refs(pt, &["taskSpec"]).difference(&own) {
                        problems.push(format!("{pat}: uses $(params.{p}), which is not declared"));
                    }
                    if pt["taskSpec"].is_object() {
                        check_params(&pt["taskSpec"], &own, &pat, &mut problems);
                    }
                }
            }
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn pipeline_tasks(spec: &Value) -> impl Iterator<Item = &Value> {
    ["tasks", "finally"]
        .into_iter()
        .flat_map(move |k| spec[k].as_array().into_iter().flatten())
}

/// The containers of tasks/ that run chainlet (image CHAINLET_IMAGE), as (where, container):
/// StepActions and the steps of Tasks and of Pipelines' embedded Tasks.
fn chainlet_containers(docs: &[(String, Value)]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let steps_of = |spec: &Value, at: &str, out: &mut Vec<(String, Value)>| {
        for step in spec["steps"].as_array().into_iter().flatten() {
            if step["image"] == "CHAINLET_IMAGE" {
                out.push((format!("{at} step {}", name_of(step)), step.clone()));
            }
        }
    };
    for (file, doc) in docs {
        let at = format!("tasks/{file} {} {}", kind(doc), name_of(doc));
        match kind(doc) {
            "StepAction" if doc["spec"]["image"] == "CHAINLET_IMAGE" => {
                out.push((at, doc["spec"].clone()))
            }
            "Task" => steps_of(&doc["spec"], &at, &mut out),
            "Pipeline" => {
                for pt in pipeline_tasks(&doc["spec"]) {
                    steps_of(
                        &pt["taskSpec"],
                        &format!("{at} task {}", name_of(pt)),
                        &mut out,
                    );
                }
            }
            _ => {}
        }
    }
    out
}

/// What `chainlet SUB --help` documents: its flags (`--name`) and the environment variables
/// of its flags (clap's `[env: NAME=…]`, which may be wrapped onto the next line).
fn help_names(help: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut env = BTreeSet::new();
    let mut rest = help;
    while let Some(i) = rest.find("[env:") {
        rest = rest[i + "[env:".len()..].trim_start();
        let end = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        env.insert(rest[..end].to_owned());
    }
    let flags = help
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.split(['=', '<']).next().unwrap().to_owned())
        .collect();
    (flags, env)
}

#[test]
fn the_yaml_names_only_flags_and_variables_chainlet_has() {
    let docs = tasks_docs();
    let containers = chainlet_containers(&docs);
    // Every StepAction of tasks/ runs chainlet; the test must see each one.
    let step_actions = docs.iter().filter(|(_, d)| kind(d) == "StepAction").count();
    assert!(
        containers
            .iter()
            .filter(|(at, _)| at.contains(" StepAction "))
            .count()
            == step_actions,
        "a StepAction of tasks/ does not run image CHAINLET_IMAGE"
    );
    let mut by_sub: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    for (at, c) in containers {
        assert_eq!(c["command"], serde_json::json!(["/chainlet"]), "{at}");
        let sub = c["args"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: args[0] is not chainlet's subcommand"))
            .to_owned();
        by_sub.entry(sub).or_default().push((at, c));
    }
    assert!(by_sub.contains_key("attest") && by_sub.contains_key("verify"));
    let mut problems = Vec::new();
    for (sub, users) in &by_sub {
        let out = chainlet(&[sub, "--help"]);
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            let first = stderr(&out).lines().next().unwrap_or("").to_owned();
            for (at, _) in users {
                problems.push(format!(
                    "{at}: runs `chainlet {sub}`, but `chainlet {sub} --help` fails ({}): {first}",
                    out.status
                ));
            }
            continue;
        }
        let (flags, env) = help_names(&help);
        assert!(
            env.len() >= 3 && env.contains("CHAINLET_LOG_LEVEL"),
            "could not read the variables of `chainlet {sub} --help` (found {env:?}):\n{help}"
        );
        for (at, c) in users {
            for e in c["env"].as_array().into_iter().flatten() {
                let name = e["name"].as_str().unwrap();
                if name.starts_with("CHAINLET_") && !env.contains(name) {
                    problems.push(format!(
                        "{at}: env {name} is not a variable of `chainlet {sub}` (it has: {})",
                        env.iter().cloned().collect::<Vec<_>>().join(" ")
                    ));
                }
            }
            for a in c["args"].as_array().unwrap().iter().skip(1) {
                let a = a.as_str().unwrap();
                let flag = a.split('=').next().unwrap();
                if flag.starts_with("--") && flag != "--" && !flags.contains(flag) {
                    problems.push(format!("{at}: arg {a} is not a flag of `chainlet {sub}`"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn step_and_task_refs_resolve_in_tasks() {
    let docs = tasks_docs();
    let names = |k: &str| -> BTreeSet<String> {
        docs.iter()
            .filter(|(_, d)| kind(d) == k)
            .map(|(_, d)| name_of(d).to_owned())
            .collect()
    };
    let (step_actions, tasks) = (names("StepAction"), names("Task"));
    let mut problems = Vec::new();
    let check_steps = |spec: &Value, at: &str, problems: &mut Vec<String>| {
        for step in spec["steps"].as_array().into_iter().flatten() {
            let r = &step["ref"];
            if r.is_object() && r["resolver"].is_null() {
                let n = name_of(r);
                if !step_actions.contains(n) {
                    problems.push(format!(
                        "{at}: step {} refs StepAction {n:?}, not in tasks/",
                        name_of(step)
                    ));
                }
            }
        }
    };
    for (file, doc) in &docs {
        let at = format!("tasks/{file} {} {}", kind(doc), name_of(doc));
        match kind(doc) {
            "Task" => check_steps(&doc["spec"], &at, &mut problems),
            "Pipeline" => {
                for pt in pipeline_tasks(&doc["spec"]) {
                    let pat = format!("{at} task {}", name_of(pt));
                    if pt["taskSpec"].is_object() {
                        check_steps(&pt["taskSpec"], &pat, &mut problems);
                    } else if pt["taskRef"]["resolver"].is_null() {
                        let n = name_of(&pt["taskRef"]);
                        if !tasks.contains(n) {
                            problems.push(format!("{pat}: refs Task {n:?}, not in tasks/"));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

const GATE_PIPELINE: &str = "pipeline-build-attest-verify-deploy.yaml";

fn pipeline_task<'a>(spec: &'a Value, name: &str) -> &'a Value {
    pipeline_tasks(spec)
        .find(|pt| name_of(pt) == name)
        .unwrap_or_else(|| panic!("{GATE_PIPELINE}: no task {name:?}"))
}

/// Tasks that `name` runs after: its runAfter and the tasks whose results it reads, closed.
fn runs_after(spec: &Value, name: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![name.to_owned()];
    while let Some(n) = todo.pop() {
        let pt = pipeline_task(spec, &n);
        let mut before: Vec<String> = pt["runAfter"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let text = pt["params"].to_string();
        for (i, _) in text.match_indices("$(tasks.") {
            let rest = &text[i + "$(tasks.".len()..];
            before.push(rest[..rest.find('.').unwrap()].to_owned());
        }
        for b in before {
            if seen.insert(b.clone()) {
                todo.push(b);
            }
        }
    }
    seen
}

#[test]
fn the_example_pipeline_deploys_only_what_verify_passed() {
    let doc = yaml(&tasks_file(GATE_PIPELINE));
    let spec = &doc["spec"];
    assert_eq!(doc["kind"], "Pipeline");
    assert!(runs_after(spec, "verify").contains("build"));
    let deploy_after = runs_after(spec, "deploy");
    assert!(
        deploy_after.contains("verify"),
        "deploy can run before verify"
    );
    assert!(
        !runs_after(spec, "build").contains("verify"),
        "build after verify"
    );
    // deploy gets its image from verify's result only, never the build's unverified one.
    let deploy = pipeline_task(spec, "deploy");
    let params = deploy["params"].to_string();
    assert!(params.contains("$(tasks.verify.results."), "{params}");
    assert!(!params.contains("$(tasks.build."), "{params}");
    assert!(
        deploy["when"].is_null(),
        "a when on deploy could skip the gate"
    );

    let verify = &pipeline_task(spec, "verify")["taskSpec"];
    let steps = verify["steps"].as_array().unwrap();
    assert_eq!(
        steps[0]["ref"]["name"], "chainlet-verify",
        "verify's first step"
    );
    assert!(
        steps
            .iter()
            .all(|s| s["onError"].is_null() || s["onError"] == "stopAndFail")
    );
    // Its result is written by a later step, so it exists only when chainlet verify passed.
    for r in verify["results"].as_array().unwrap() {
        let path = format!("$(results.{}.path)", name_of(r));
        let writer = steps
            .iter()
            .position(|s| s.to_string().contains(&path))
            .unwrap_or_else(|| panic!("no step writes {path}"));
        assert!(writer > 0, "{path} is written before chainlet verify runs");
    }
    // The verifying Task holds the public key only: no Secret, and no signing-secrets.
    let volumes = verify["volumes"].to_string();
    assert!(
        !volumes.contains("secretName") && !volumes.contains("signing-secrets"),
        "{volumes}"
    );
    // The policy is the sample ConfigMap's, through the policy workspace.
    let policy = yaml(&tasks_file("verify-policy.yaml"));
    assert_eq!(policy["kind"], "ConfigMap");
    let text = policy["data"]["policy.yaml"].as_str().unwrap();
    assert!(text.contains("https://tekton.dev/chains/v2\n"), "{text}");
    assert!(
        steps[0]
            .to_string()
            .contains("$(workspaces.policy.path)/policy.yaml")
    );
}

/// The verify step of the example Pipeline, as Tekton runs it: the Pipeline task's params into
/// its embedded Task, the step's params into the chainlet-verify StepAction, the public-key
/// volume mounted at /etc/signing-secrets (here `public/`), the policy workspace (`policy/`).
fn verify_gate(pod: &Pod, image: &str, insecure: &str) -> std::process::Output {
    let pipeline = yaml(&tasks_file(GATE_PIPELINE));
    let step = &pipeline_task(&pipeline["spec"], "verify")["taskSpec"]["steps"][0];
    let task_vars = BTreeMap::from([
        ("params.IMAGE".to_owned(), image.to_owned()),
        ("params.INSECURE_REGISTRIES".to_owned(), insecure.to_owned()),
        ("workspaces.policy.path".to_owned(), pod.s("policy")),
    ]);
    let mut given = Vec::new();
    let mut images = Vec::new();
    for p in step["params"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap().to_owned();
        match &p["value"] {
            Value::Array(items) => {
                assert_eq!(name, "images");
                images = items
                    .iter()
                    .map(|i| substitute(i.as_str().unwrap(), &task_vars))
                    .collect();
            }
            v => given.push((name, substitute(v.as_str().unwrap(), &task_vars))),
        }
    }
    let action = yaml(&tasks_file("stepaction-chainlet-verify.yaml"));
    let spec = &action["spec"];
    let given: Vec<(&str, &str)> = given
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let vars = params(spec, &given);
    let images: Vec<&str> = images.iter().map(String::as_str).collect();
    let args = args(spec, &vars, &[("images", &images)]);
    assert_eq!(args[..2], ["verify", "--"]);
    let mount = pod.s("public");
    let mut env: Vec<(String, String)> = step_env(spec, &vars)
        .into_iter()
        .map(|(k, v)| (k, v.replace("/etc/signing-secrets", &mount)))
        .collect();
    std::fs::create_dir_all(pod.path("home")).unwrap();
    env.retain(|(k, _)| k != "HOME");
    env.push(("HOME".into(), pod.s("home")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    chainlet_env(&args, &env)
}

/// Attests `IMAGE_URL`/`IMAGE_DIGEST` of the pod with the chainlet-attest StepAction's defaults
/// (SLSA v1.0, storage oci: the signature and attestation next to the image).
fn attest_with_stepaction(pod: &Pod, insecure: &str) {
    std::fs::create_dir_all(pod.path("steps")).unwrap();
    let doc = yaml(&tasks_file("stepaction-chainlet-attest.yaml"));
    let spec = &doc["spec"];
    let mut vars = params(spec, &[("insecure-registries", insecure)]);
    vars.extend(context(pod));
    let args = args(spec, &vars, &[]);
    ok(&run_step(pod, &args, step_env(spec, &vars)));
}

#[test]
fn the_verify_gate_passes_an_attested_image_and_stops_any_other() {
    let reg = crate::common::registry::Registry::plain();
    let hex = crate::common::registry::push_image(&reg.addr, "team/app");
    let image = format!("{}/team/app@sha256:{hex}", reg.addr);
    let pod = Pod::new();
    pod.chainlet_key("test")
        .result("IMAGE_URL", &format!("{}/team/app", reg.addr))
        .result("IMAGE_DIGEST", &format!("sha256:{hex}"));
    attest_with_stepaction(&pod, &reg.addr);

    // The verifying Task's volume: the public key, nothing else.
    std::fs::create_dir_all(pod.path("public")).unwrap();
    std::fs::copy(
        pod.path("secrets/cosign.pub"),
        pod.path("public/cosign.pub"),
    )
    .unwrap();
    std::fs::create_dir_all(pod.path("policy")).unwrap();
    let policy = yaml(&tasks_file("verify-policy.yaml"));
    let sample = policy["data"]["policy.yaml"].as_str().unwrap();
    std::fs::write(pod.path("policy/policy.yaml"), sample).unwrap();

    ok(&verify_gate(&pod, &image, &reg.addr));

    // An image of the same repository that nobody attested.
    let other = crate::common::registry::push_image(&reg.addr, "team/app");
    let out = verify_gate(
        &pod,
        &format!("{}/team/app@sha256:{other}", reg.addr),
        &reg.addr,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "unattested image: {}",
        stderr(&out)
    );

    // The attested image under a policy that wants another builder.
    std::fs::write(
        pod.path("policy/policy.yaml"),
        sample.replace(
            "https://tekton.dev/chains/v2\n",
            "https://ci.example.com/builder\n",
        ),
    )
    .unwrap();
    let out = verify_gate(&pod, &image, &reg.addr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "other builder: {}",
        stderr(&out)
    );
    std::fs::write(pod.path("policy/policy.yaml"), sample).unwrap();

    // Another key than the one that signed.
    let again = Pod::new();
    again.chainlet_key("other");
    std::fs::copy(
        again.path("secrets/cosign.pub"),
        pod.path("public/cosign.pub"),
    )
    .unwrap();
    let out = verify_gate(&pod, &image, &reg.addr);
    assert_eq!(out.status.code(), Some(1), "other key: {}", stderr(&out));
}
