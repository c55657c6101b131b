//! TaskRun and PipelineRun JSON from the Kubernetes API (`collect::api::parse`,
//! `collect::api::parse_pipelinerun`), then what the formats build from what they return:
//! image dependencies, PipelineRun results resolved from children, every payload.
//!
//! Time fields are never edited: `status.startTime` and `status.completionTime` go to the RFC
//! 3339 parser, which is being rewritten elsewhere and is not tested here.

use proptest::prelude::*;
use serde_json::{Value, json};

use chainlet::collect::api::{self, ApiTaskRun};
use chainlet::collect::{PipelineRecord, RunRecord};

use crate::support::{self, any_string, duration_like, near_json, near_json_from};

const TIMES: &[&str] = &["startTime", "completionTime"];
const D: &str = "05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4";

/// A finished TaskRun of a PipelineRun, with the fields chainlet reads.
fn taskrun(task: &str) -> Value {
    json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "metadata": {
            "name": format!("pr-{task}"),
            "uid": "0f1e2d3c-aaaa-bbbb-cccc-123456789abc",
            "labels": {
                "tekton.dev/pipelineTask": task,
                "tekton.dev/pipelineRun": "pr",
                "chains.tekton.dev/reproducible": "true"
            },
            "annotations": {"chains.tekton.dev/signed": "true", "team": "a"}
        },
        "spec": {
            "params": [{"name": "CHAINS-GIT_URL", "value": "https://git.example/a"},
                       {"name": "list", "value": ["a", "b"]}],
            "serviceAccountName": "default",
            "timeout": "1h30m",
            "taskRef": {"resolver": "git", "params": [{"name": "url", "value": "u"}]},
            "taskSpec": {"steps": [{"name": "build", "image": "busybox"}],
                         "stepTemplate": {"env": []}}
        },
        "status": {
            "startTime": "2021-03-29T09:50:00Z",
            "completionTime": "2021-03-29T09:50:15Z",
            "conditions": [{"type": "Succeeded", "status": "True"}],
            "podName": "pod",
            "provenance": {
                "refSource": {"uri": "git+https://git.example/a.git",
                              "digest": {"sha1": "28b123"}, "entryPoint": "task.yaml"},
                "featureFlags": {"EnableAPIFields": "beta", "maxResultSize": 4096,
                                 "enableTektonOCIBundles": false}
            },
            "results": [
                {"name": "IMAGE_URL", "type": "string", "value": "gcr.io/foo/bar"},
                {"name": "IMAGE_DIGEST", "type": "string", "value": format!("sha256:{D}")},
                {"name": "x-ARTIFACT_OUTPUTS", "type": "object",
                 "value": {"uri": "gcr.io/foo/out", "digest": format!("sha256:{D}"),
                           "isBuildArtifact": "true"}},
                {"name": "CHAINS-GIT_COMMIT", "value": "abc"},
                {"name": "list", "value": ["x", "y"]}
            ],
            "steps": [
                {"name": "build", "container": "step-build",
                 "imageID": format!("docker-pullable://gcr.io/foo/builder@sha256:{D}"),
                 "results": [{"name": "ARTIFACT_INPUTS",
                              "value": {"uri": "in", "digest": format!("sha256:{D}")}}],
                 "provenance": {"refSource": {"uri": "oci://gcr.io/step", "digest": {"sha256": D}}}},
                {"name": "unnamed-1", "imageID": format!("gcr.io/foo/other@sha256:{D}")}
            ],
            "sidecars": [{"name": "sidecar", "imageID": format!("gcr.io/side@sha256:{D}")}],
            "taskSpec": {
                "params": [{"name": "p", "default": "d"}, {"name": "q"}],
                "steps": [{"name": "build", "script": "make", "args": ["-j"]},
                          {"command": ["a", "b"]}]
            }
        }
    })
}

/// A PipelineRun with two tasks and a finally task, result declarations of every shape.
fn pipelinerun() -> Value {
    json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {"name": "pr", "uid": "aaaa-bbbb", "labels": {"a": "b"}},
        "spec": {
            "params": [{"name": "CHAINS-GIT_URL", "value": "https://git.example/p"}],
            "pipelineRef": {"resolver": "bundles"},
            "taskRunTemplate": {"serviceAccountName": "sa"},
            "timeouts": {"pipeline": "1h", "tasks": "90m"}
        },
        "status": {
            "startTime": "2021-03-29T09:50:00Z",
            "completionTime": "2021-03-29T09:55:00Z",
            "provenance": {"refSource": {"uri": "oci://p", "digest": {"sha256": D}},
                           "featureFlags": {"enableAPIFields": "alpha"}},
            "pipelineSpec": {
                "params": [{"name": "CHAINS-GIT_COMMIT", "default": "c0ffee"}],
                "tasks": [
                    {"name": "build", "taskRef": {"name": "t"},
                     "params": [{"name": "x", "value": "$(tasks.fetch.results.commit)"}]},
                    {"name": "test", "runAfter": ["build"],
                     "taskSpec": {"steps": [{"name": "s", "script": "$(tasks.build.results.IMAGE_URL)"}]}}
                ],
                "finally": [{"name": "attest"}],
                "results": [
                    {"name": "IMAGE_URL", "value": "$(tasks.build.results.IMAGE_URL)"},
                    {"name": "IMAGE_DIGEST", "value": "$(tasks.build.results.IMAGE_DIGEST)"},
                    {"name": "tagged", "value": "$(tasks.build.results.IMAGE_URL):v1"},
                    {"name": "obj", "value": "$(tasks.build.results.x-ARTIFACT_OUTPUTS)"},
                    {"name": "field", "value": "$(tasks.build.results.x-ARTIFACT_OUTPUTS.uri)"},
                    {"name": "all", "value": "$(tasks.build.results.list[*])"},
                    {"name": "one", "value": "$(tasks.build.results.list[1])"},
                    {"name": "arr", "value": ["$(tasks.build.results.list[0])", "lit"]},
                    {"name": "o-ARTIFACT_OUTPUTS",
                     "value": {"uri": "$(tasks.build.results.IMAGE_URL)",
                               "digest": "$(tasks.build.results.IMAGE_DIGEST)",
                               "isBuildArtifact": "true"}},
                    {"name": "fin", "value": "$(finally.attest.results.x)"}
                ]
            },
            "childReferences": [
                {"kind": "TaskRun", "name": "pr-build", "pipelineTaskName": "build"},
                {"kind": "TaskRun", "name": "pr-test", "pipelineTaskName": "test"},
                {"kind": "CustomRun", "name": "c", "pipelineTaskName": "c"}
            ]
        }
    })
}

/// Seeds: the TaskRun above, and Chains' own TaskRun test data when the fixtures are there.
fn taskrun_seeds() -> Vec<Value> {
    let mut seeds = vec![taskrun("build")];
    if let Some(dir) = support::fixtures() {
        for sub in ["slsa-v2alpha4", "slsa-v2alpha3", "pipeline-v1"] {
            let dir = dir
                .join("chains/pkg/chains/formats/slsa/testdata")
                .join(sub);
            let Ok(list) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut paths: Vec<_> = list.flatten().map(|e| e.path()).collect();
            paths.sort();
            for path in paths {
                if let Ok(v) = serde_json::from_slice::<Value>(&std::fs::read(&path).unwrap()) {
                    seeds.push(v);
                }
            }
        }
    }
    seeds
}

fn near_taskrun() -> impl Strategy<Value = Vec<u8>> {
    let seeds: Vec<BoxedStrategy<Vec<u8>>> = taskrun_seeds()
        .into_iter()
        .map(|seed| near_json_from(with_timeout(seed), TIMES).boxed())
        .collect();
    proptest::strategy::Union::new(seeds)
}

/// A TaskRun whose `spec.timeout` is, half the time, any Go-duration-like text (Chains
/// rewrites it as Go prints durations).
fn with_timeout(tr: Value) -> impl Strategy<Value = Value> {
    prop::option::of(duration_like()).prop_map(move |timeout| {
        let mut tr = tr.clone();
        if let (Some(t), Some(spec)) = (timeout, tr.get_mut("spec").and_then(Value::as_object_mut))
        {
            spec.insert("timeout".into(), t.into());
        }
        tr
    })
}

/// The PipelineRun with `spec.timeouts` of any Go-duration-like text, half the time.
fn with_timeouts(pr: Value) -> impl Strategy<Value = Value> {
    prop::option::of((duration_like(), duration_like())).prop_map(move |timeouts| {
        let mut pr = pr.clone();
        if let Some((a, b)) = timeouts {
            pr["spec"]["timeouts"] = json!({"pipeline": a, "finally": b});
        }
        pr
    })
}

/// A TaskRun's payloads, as `chainlet attest` builds them with the TaskRun from the API.
fn attest_taskrun(tr: &ApiTaskRun) {
    let _ = tr.image_dependencies();
    let mut run = RunRecord::from_api(tr);
    crate::attest_all(&run);
    run.api = None;
    crate::attest_all(&run);
}

proptest! {
    #![proptest_config(support::cases(128))]

    /// Arbitrary bytes are a TaskRun, a PipelineRun or an error.
    #[test]
    fn any_bytes_parse_or_fail(body in support::any_bytes()) {
        if let Ok(tr) = api::parse(&body) {
            attest_taskrun(&tr);
        }
        let _ = api::parse_pipelinerun(&body);
    }

    /// A TaskRun near a real one parses or fails naming a field; every format then runs over
    /// what it returned.
    #[test]
    fn near_taskrun_parses_or_fails(body in near_taskrun()) {
        if let Ok(tr) = api::parse(&body) {
            attest_taskrun(&tr);
        }
    }

    /// A PipelineRun and its children near real ones: parsed, results resolved from the
    /// children, every PipelineRun format built.
    #[test]
    fn near_pipelinerun_parses_or_fails(
        body in near_json_from(with_timeouts(pipelinerun()), TIMES),
        build in near_json_from(with_timeout(taskrun("build")), TIMES),
        test in near_json(taskrun("test"), TIMES),
        passed in crate::results::task_results(),
    ) {
        let Ok(pr) = api::parse_pipelinerun(&body) else {
            return Ok(());
        };
        let children: Vec<(String, ApiTaskRun)> = [("build", build), ("test", test)]
            .into_iter()
            .filter_map(|(task, body)| api::parse(&body).ok().map(|tr| (task.to_owned(), tr)))
            .collect();
        let by_task: Vec<(String, &ApiTaskRun)> =
            children.iter().map(|(t, tr)| (t.clone(), tr)).collect();
        let mut results = api::resolve_pipeline_results(&pr.result_specs, &by_task);
        results.extend(passed);
        let record = PipelineRecord {
            name: pr.name.clone(),
            uid: pr.uid.clone(),
            results,
            children: children.into_iter().map(|(_, tr)| tr).collect(),
            params: Vec::new(),
            started_on: pr.start_time,
            finished_on: pr.completion_time,
            api: Some(pr),
        };
        crate::attest_pipeline_all(&record);
        crate::attest_pipeline_all(&PipelineRecord { api: None, ..record });
    }

    /// `$(tasks.…)` templates of every shape resolve to a value or are left out.
    #[test]
    fn pipeline_result_templates_resolve_or_are_left_out(
        specs in prop::collection::vec(
            (any_string(), prop_oneof![
                crate::support::near_str(&[
                    "$(tasks.build.results.IMAGE_URL)",
                    "$(tasks.build.results.list[1])",
                    "$(tasks.build.results.list[*])",
                    "$(tasks.build.results.x-ARTIFACT_OUTPUTS.uri)",
                    "a $(tasks.build.results.IMAGE_URL) b $(finally.build.results.list[0]) c",
                    "$(tasks.build.results.list[18446744073709551616])",
                ]).prop_map(Value::String),
                crate::support::json_value(),
            ]),
            0..6,
        ),
        child in near_json(taskrun("build"), TIMES),
    ) {
        let child = api::parse(&child).unwrap_or_else(|_| api::parse(b"{}").unwrap());
        let _ = api::resolve_pipeline_results(&specs, &[("build".to_owned(), &child)]);
    }

    /// A container's `imageID` is a repository and digest or an error.
    #[test]
    fn image_ids_split_or_fail(
        id in prop_oneof![
            crate::support::near_str(&[
                "docker-pullable://gcr.io/a/b@sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4",
                "gcr.io/a/b@sha256:00",
            ]),
            any_string(),
        ]
    ) {
        let _ = api::image_dependency(&id);
    }
}
