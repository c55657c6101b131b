//! Payloads compared with Chains' own test vectors in `../shared/fixtures/chains`: for the same
//! results, the statement's subjects, predicateType, buildType, byproducts and
//! resolvedDependencies are Chains'.
//!
//! Chains' e2e expectations are Go templates filled from the finished run; the test fills them
//! with this run's UID, name and times, and with no step images (the pod cannot see them; README
//! lists the fields that need the TaskRun API).

use std::path::Path;

use crate::common::*;
use serde_json::Value;

const STARTED: &str = "2026-01-02T03:04:05Z";
const FINISHED: &str = "2026-01-02T03:05:06Z";

/// Results written by the `echo … | tee $(results.NAME.path)` and `echo -n … > …` lines of a
/// Chains example's step script, as the shell would write them.
fn results_from_example(yaml: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in yaml.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("echo ") else {
            continue;
        };
        let (no_newline, rest) = match rest.strip_prefix("-n ") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let quote = rest.chars().next().unwrap();
        let body = &rest[1..];
        let end = body.rfind(quote).unwrap();
        let mut value = if quote == '"' {
            body[..end].replace("\\\"", "\"")
        } else {
            body[..end].to_owned()
        };
        if !no_newline {
            value.push('\n');
        }
        let name = line
            .split("$(results.")
            .nth(1)
            .and_then(|s| s.split(".path)").next())
            .unwrap();
        out.push((name.to_owned(), value));
    }
    out
}

/// Fills one of Chains' e2e templates for this run.
fn render(template: &str) -> Value {
    let mut text = template.to_owned();
    while let Some(start) = text.find("{{range .URIDigest}}") {
        let end = text[start..].find("{{end}}").unwrap() + start + "{{end}}".len();
        text.replace_range(start..end, "");
    }
    let text = text
        .replace("{{.UID}}", UID)
        .replace("{{.TektonObjectName}}", "build-run")
        .replace("{{index .BuildStartTimes 0}}", STARTED)
        .replace("{{index .BuildFinishedTimes 0}}", FINISHED);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("template did not render: {e}"))
}

fn pod_for_example(fx: &Path, example: &str) -> Pod {
    let pod = Pod::new();
    let yaml = std::fs::read_to_string(fx.join("chains/examples").join(example)).unwrap();
    let results = results_from_example(&yaml);
    assert!(!results.is_empty(), "no results found in {example}");
    for (name, value) in results {
        pod.result(&name, &value);
    }
    pod.chains_key(fx);
    pod
}

/// An absent list and an empty one mean the same (protojson omits empty lists).
fn list(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

fn assert_v1_matches(ours: &Value, expected: &Value) {
    for key in ["_type", "predicateType", "subject"] {
        assert_eq!(ours[key], expected[key], "{key}");
    }
    let (o, e) = (&ours["predicate"], &expected["predicate"]);
    for key in ["builder", "buildType"] {
        assert_eq!(o[key], e[key], "predicate.{key}");
    }
    assert_eq!(
        o["invocation"]["configSource"],
        e["invocation"]["configSource"]
    );
    assert_eq!(o["invocation"]["parameters"], e["invocation"]["parameters"]);
    assert_eq!(o["metadata"], e["metadata"], "metadata");
    assert_eq!(list(&o["materials"]), list(&e["materials"]), "materials");
}

fn assert_v2_matches(ours: &Value, expected: &Value) {
    for key in ["_type", "predicateType", "subject"] {
        assert_eq!(ours[key], expected[key], "{key}");
    }
    let (o, e) = (&ours["predicate"], &expected["predicate"]);
    assert_eq!(
        o["buildDefinition"]["buildType"],
        e["buildDefinition"]["buildType"]
    );
    assert_eq!(
        list(&o["buildDefinition"]["resolvedDependencies"]),
        list(&e["buildDefinition"]["resolvedDependencies"]),
        "resolvedDependencies"
    );
    assert_eq!(o["runDetails"]["builder"], e["runDetails"]["builder"]);
    assert_eq!(o["runDetails"]["metadata"], e["runDetails"]["metadata"]);
    assert_eq!(
        list(&o["runDetails"]["byproducts"]),
        list(&e["runDetails"]["byproducts"]),
        "byproducts"
    );
}

#[test]
fn task_output_image_matches_chains_in_every_format() {
    let Some(fx) = fixtures() else { return };
    let pod = pod_for_example(&fx, "taskruns/task-output-image.yaml");
    for (format, dir) in [
        ("slsa/v1", "v1"),
        ("slsa/v2alpha3", "v2alpha3"),
        ("slsa/v2alpha4", "v2alpha4"),
    ] {
        let _ = std::fs::remove_dir_all(pod.path("out"));
        ok(&pod.attest(&["--set", &format!("artifacts.taskrun.format={format}")]));
        let template = std::fs::read_to_string(
            fx.join("chains/test/testdata/slsa")
                .join(dir)
                .join("task-output-image.json"),
        )
        .unwrap();
        let expected = render(&template);
        if dir == "v1" {
            assert_v1_matches(&pod.statement(), &expected);
        } else {
            assert_v2_matches(&pod.statement(), &expected);
        }
    }
}

#[test]
fn object_type_hinting_example_fails_on_the_invalid_result_by_default() {
    let Some(fx) = fixtures() else { return };
    let pod = pod_for_example(&fx, "v2alpha4/task-with-object-type-hinting.yaml");
    let out = pod.attest(&["--set", "artifacts.taskrun.format=slsa/v2alpha4"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("fourth-ARTIFACT_OUTPUTS") && err.contains("basd-sha"),
        "{err}"
    );
}

#[test]
fn object_type_hinting_example_matches_chains_when_skipping_invalid_hints() {
    let Some(fx) = fixtures() else { return };
    let pod = pod_for_example(&fx, "v2alpha4/task-with-object-type-hinting.yaml");
    ok(&pod.attest(&[
        "--set",
        "artifacts.taskrun.format=slsa/v2alpha4",
        "--skip-invalid-hints",
    ]));
    let template = std::fs::read_to_string(
        fx.join("chains/test/testdata/slsa/v2alpha4/task-with-object-type-hinting.json"),
    )
    .unwrap();
    assert_v2_matches(&pod.statement(), &render(&template));
}

/// A pod directory from one of Chains' unit-test TaskRun objects: task results, step results
/// (in `status.steps` order) and `spec.params` passed with --param.
fn pod_for_taskrun(fx: &Path, rel: &str) -> (Pod, Vec<String>) {
    let tr: Value = serde_json::from_slice(
        &std::fs::read(fx.join("chains/pkg/chains/formats/slsa/testdata").join(rel)).unwrap(),
    )
    .unwrap();
    let pod = Pod::new();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for r in list(&tr["status"]["results"]) {
        pod.result(r["name"].as_str().unwrap(), &text(&r["value"]));
    }
    for (i, step) in list(&tr["status"]["steps"]).iter().enumerate() {
        for r in list(&step["results"]) {
            pod.step_result(
                step["name"].as_str().unwrap(),
                i,
                r["name"].as_str().unwrap(),
                &text(&r["value"]),
            );
        }
    }
    let mut args = Vec::new();
    for p in list(&tr["spec"]["params"]) {
        args.push("--param".to_owned());
        args.push(format!(
            "{}={}",
            p["name"].as_str().unwrap(),
            text(&p["value"])
        ));
    }
    if let Some(name) = tr["metadata"]["name"].as_str() {
        args.push("--taskrun-name".into());
        args.push(name.to_owned());
    }
    pod.chains_key(fx);
    (pod, args)
}

fn attest_taskrun(pod: &Pod, args: &[String], format: &str) -> Value {
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    let set = format!("artifacts.taskrun.format={format}");
    all.extend(["--set", &set]);
    let _ = std::fs::remove_dir_all(pod.path("out"));
    ok(&pod.attest(&all));
    pod.statement()
}

fn subject(name: &str, sha256: &str) -> Value {
    serde_json::json!({"name": name, "digest": {"sha256": sha256}})
}

// The expectations below are those of Chains' unit tests for these TaskRuns
// (slsa/v2alpha4/internal/taskrun and v2alpha3 tests), for the fields results determine.
const MY_IMAGE: &str = "d31cc8328054de2bd93735f9cbf0ccfb6e0ee8f4c4225da7d8f8cb3900eaf466";
/// Also the IMAGE_DIGEST of the v1 and v2alpha3 unit TaskRuns.
const FROM_STEP: &str = "827521c857fdcd4374f4da5442fbae2edb01e7fbae285c3ec15673d4c1daecb7";

#[test]
fn v2alpha4_unit_taskrun_step_results_come_first() {
    let Some(fx) = fixtures() else { return };
    let (pod, args) = pod_for_taskrun(&fx, "slsa-v2alpha4/taskrun1.json");
    let st = attest_taskrun(&pod, &args, "slsa/v2alpha4");
    assert_eq!(
        st["subject"],
        serde_json::json!([
            subject("gcr.io/my/image/fromstep3", FROM_STEP),
            subject("gcr.io/my/image", MY_IMAGE)
        ])
    );
    let byproducts = &st["predicate"]["runDetails"]["byproducts"];
    assert_eq!(
        byproducts,
        &serde_json::json!([
            {"content": "InJlc3VsdC12YWx1ZSI=", "mediaType": "application/json",
             "name": "stepResults/taskrun-build/step1_result1"},
            {"content": "eyJkaWdlc3QiOiJzaGEyNTY6ODI3NTIxYzg1N2ZkY2Q0Mzc0ZjRkYTU0NDJmYmFlMmVkYjAxZTdmYmFlMjg1YzNlYzE1NjczZDRjMWRhZWNiNyIsInVyaSI6Imdjci5pby9teS9pbWFnZS9mcm9tc3RlcDIifQ==",
             "mediaType": "application/json",
             "name": "stepResults/taskrun-build/step1_result1-ARTIFACT_OUTPUTS"}
        ])
    );
    assert_eq!(
        st["predicate"]["buildDefinition"]["resolvedDependencies"],
        serde_json::json!([{"digest": {"sha1": "taskrun"}, "name": "inputs/result", "uri": "git+https://git.test.com.git"}])
    );
    assert_eq!(
        st["predicate"]["buildDefinition"]["externalParameters"]["runSpec"]["params"],
        serde_json::json!([
            {"name": "IMAGE", "value": "test.io/test/image"},
            {"name": "CHAINS-GIT_COMMIT", "value": "taskrun"},
            {"name": "CHAINS-GIT_URL", "value": "https://git.test.com"}
        ])
    );
}

#[test]
fn v2alpha3_unit_taskrun_byproducts_are_every_task_result() {
    let Some(fx) = fixtures() else { return };
    let (pod, args) = pod_for_taskrun(&fx, "slsa-v2alpha3/taskrun1.json");
    let st = attest_taskrun(&pod, &args, "slsa/v2alpha3");
    assert_eq!(
        st["subject"],
        serde_json::json!([subject("gcr.io/my/image", FROM_STEP)])
    );
    let names: Vec<&str> = st["predicate"]["runDetails"]["byproducts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["taskRunResults/IMAGE_DIGEST", "taskRunResults/IMAGE_URL"]
    );
    assert_eq!(
        st["predicate"]["runDetails"]["byproducts"][1]["content"],
        "Imdjci5pby9teS9pbWFnZSI="
    );
}

#[test]
fn v1_unit_taskrun_subject_parameters_and_git_material() {
    let Some(fx) = fixtures() else { return };
    let (pod, args) = pod_for_taskrun(&fx, "pipeline-v1/taskrun1.json");
    let st = attest_taskrun(&pod, &args, "slsa/v1");
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v0.1");
    assert_eq!(
        st["subject"],
        serde_json::json!([subject("gcr.io/my/image", FROM_STEP)])
    );
    assert_eq!(
        st["predicate"]["invocation"]["parameters"],
        serde_json::json!({"CHAINS-GIT_COMMIT": "sha:taskrun", "CHAINS-GIT_URL": "https://git.test.com", "IMAGE": "test.io/test/image"})
    );
    assert_eq!(
        st["predicate"]["materials"],
        serde_json::json!([{"digest": {"sha1": "sha:taskrun"}, "uri": "git+https://git.test.com.git"}])
    );
    assert_eq!(st["predicate"]["buildType"], "tekton.dev/v1/TaskRun");
}

#[test]
fn multiple_subjects_keep_chains_order() {
    let Some(fx) = fixtures() else { return };
    for (rel, format) in [
        (
            "slsa-v2alpha3/taskrun-multiple-subjects.json",
            "slsa/v2alpha3",
        ),
        ("pipeline-v1/taskrun-multiple-subjects.json", "slsa/v1"),
    ] {
        let tr: Value = serde_json::from_slice(
            &std::fs::read(fx.join("chains/pkg/chains/formats/slsa/testdata").join(rel)).unwrap(),
        )
        .unwrap();
        // IMAGES entries in order, normalised as go-containerregistry does.
        let images = tr["status"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "IMAGES")
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_owned();
        let (pod, args) = pod_for_taskrun(&fx, rel);
        let st = attest_taskrun(&pod, &args, format);
        let ours: Vec<String> = list(&st["subject"])
            .iter()
            .map(|s| {
                format!(
                    "{}@sha256:{}",
                    s["name"].as_str().unwrap(),
                    s["digest"]["sha256"].as_str().unwrap()
                )
            })
            .collect();
        let expected: Vec<String> = images
            .split([',', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.to_owned())
            .collect();
        assert_eq!(ours, expected, "{rel}");
    }
}

#[test]
fn same_inputs_and_times_give_the_same_bytes() {
    let Some(fx) = fixtures() else { return };
    let pod = pod_for_example(&fx, "taskruns/task-output-image.yaml");
    ok(&pod.attest(&[]));
    let path = pod.path(&format!("out/taskrun-{UID}/statement.json"));
    let first = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(pod.path("out")).unwrap();
    ok(&pod.attest(&[]));
    assert_eq!(first, std::fs::read(&path).unwrap());
    // Compact and without a trailing newline, as Chains' protojson writes it.
    assert!(!first.ends_with(b"\n") && !first.windows(2).any(|w| w == b": "));
}

/// Walks raw JSON in document order (serde's visitor sees keys as written, whatever map type
/// serde_json is built with) and records every object's keys.
struct KeyOrder(Vec<Vec<String>>);

impl<'de> serde::de::DeserializeSeed<'de> for &mut KeyOrder {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for &mut KeyOrder {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            keys.push(k);
            map.next_value_seed(&mut *self)?;
        }
        self.0.push(keys);
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(&mut *self)?.is_some() {}
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
}

#[test]
fn every_object_in_the_predicate_has_sorted_keys_like_protojson() {
    let Some(fx) = fixtures() else { return };
    let pod = pod_for_example(&fx, "v2alpha4/task-with-object-type-hinting.yaml");
    for format in ["slsa/v1", "slsa/v2alpha4"] {
        let _ = std::fs::remove_dir_all(pod.path("out"));
        ok(&pod.attest(&[
            "--set",
            &format!("artifacts.taskrun.format={format}"),
            "--skip-invalid-hints",
        ]));
        let raw = std::fs::read(pod.path(&format!("out/taskrun-{UID}/statement.json"))).unwrap();
        let mut order = KeyOrder(Vec::new());
        use serde::de::DeserializeSeed as _;
        (&mut order)
            .deserialize(&mut serde_json::Deserializer::from_slice(&raw))
            .unwrap();
        let top = order.0.pop().unwrap();
        assert_eq!(top, ["_type", "subject", "predicateType", "predicate"]);
        for keys in order.0 {
            if keys == ["name", "digest"] {
                continue; // subjects are messages: name, then digest
            }
            let mut sorted = keys.clone();
            sorted.sort();
            assert_eq!(keys, sorted, "{format}");
        }
    }
}
