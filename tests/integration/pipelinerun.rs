//! `chainlet attest --pipelinerun` from a finally Task: the PipelineRun of Chains' e2e example
//! `examples/pipelineruns/pipeline-output-image.yaml`, as the API server shows it while its
//! finally Task runs (no results, no completion time yet; the build task finished), against
//! Chains' expected payload `test/testdata/slsa/v2alpha4/pipeline-output-image.json`. The
//! PipelineRun and its TaskRun are in the real API server (`common::kubeapi`), created as
//! Tekton creates them.

use std::path::Path;
use std::time::Duration;

use crate::common::apiserver::NAMESPACE;
use crate::common::kubeapi::{KubeApi, resource_version};
use crate::common::*;
use base64::Engine as _;
use serde_json::{Value, json};

const PR_NAME: &str = "image-pipelinerun-x7k2p";
/// The PipelineRun's UID where no API server assigns one.
const PR_UID: &str = "0a1b2c3d-1111-2222-3333-444455556666";
const STARTED: &str = "2026-01-02T03:04:05Z";
const FINISHED: &str = "2026-01-02T03:09:10Z";
const CHILD_FINISHED: &str = "2026-01-02T03:06:00Z";
const BUSYBOX: &str = "186312fcf3f381b5fc1dd80b1afc0d316f3ed39fb4add8ff900d1f0c7c49a92c";
const IMAGE_DIGEST: &str = "05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5";

/// The example's YAML as JSON.
fn example(fx: &Path) -> Value {
    yaml_to_json(
        &std::fs::read(fx.join("chains/examples/pipelineruns/pipeline-output-image.yaml")).unwrap(),
    )
}

/// The PipelineRun while its finally task runs, with the webhook's defaults, and its finished
/// `buildimage` TaskRun whose step wrote the results the example's script writes.
fn recorded(fx: &Path) -> (Value, Value) {
    let mut spec = example(fx)["spec"].clone();
    spec["timeouts"] = json!({"pipeline": "1h"});
    spec["taskRunTemplate"] = json!({"serviceAccountName": "default"});
    let tr_name = format!("{PR_NAME}-buildimage");
    let pipeline_spec = spec["pipelineSpec"].clone();
    let mut finally_spec = pipeline_spec.clone();
    finally_spec["finally"] =
        json!([{"name": "attest", "taskRef": {"name": "chainlet-attest-pipelinerun"}}]);
    let pr = json!({
        "apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
        "metadata": {"name": PR_NAME},
        "spec": spec,
        "status": {
            "startTime": STARTED,
            "pipelineSpec": finally_spec,
            "childReferences": [
                {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": tr_name, "pipelineTaskName": "buildimage"},
                {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": format!("{PR_NAME}-attest"), "pipelineTaskName": "attest"}
            ]
        }
    });
    let task_spec = pipeline_spec["tasks"][0]["taskSpec"].clone();
    // The status keeps the spec after Tekton's substitutions.
    let resolved: Value = serde_json::from_str(
        &task_spec
            .to_string()
            .replace("$(results.IMAGE_URL.path)", "/tekton/results/IMAGE_URL")
            .replace(
                "$(results.IMAGE_DIGEST.path)",
                "/tekton/results/IMAGE_DIGEST",
            ),
    )
    .unwrap();
    let tr = json!({
        "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
        "metadata": {"name": tr_name,
                     "labels": {"tekton.dev/pipelineTask": "buildimage", "tekton.dev/pipelineRun": PR_NAME}},
        "spec": {"taskSpec": task_spec, "serviceAccountName": "default", "timeout": "1h0m0s"},
        "status": {
            "startTime": STARTED, "completionTime": CHILD_FINISHED,
            "steps": [{"name": "create-dockerfile", "container": "step-create-dockerfile",
                       "imageID": format!("docker-pullable://distroless.dev/busybox@sha256:{BUSYBOX}")}],
            "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded"}],
            "results": [
                {"name": "IMAGE_DIGEST", "type": "string", "value": format!("sha256:{IMAGE_DIGEST}\n")},
                {"name": "IMAGE_URL", "type": "string", "value": "gcr.io/foo/bar\n"}
            ],
            "taskSpec": resolved
        }
    });
    (pr, tr)
}

/// Chains' e2e template, filled for this run (the PipelineRun's UID `uid`).
fn expected(fx: &Path, uid: &str) -> Value {
    expected_in(fx, "v2alpha4", uid)
}

fn expected_in(fx: &Path, format: &str, uid: &str) -> Value {
    let template = std::fs::read_to_string(
        fx.join("chains/test/testdata/slsa")
            .join(format)
            .join("pipeline-output-image.json"),
    )
    .unwrap();
    let start = template.find("{{range .URIDigest}}").unwrap();
    let end = template.find("{{end}}").unwrap() + "{{end}}".len();
    let inner = &template[start + "{{range .URIDigest}}".len()..end - "{{end}}".len()];
    let one = inner
        .replace("{{.URI}}", "oci://distroless.dev/busybox")
        .replace("{{.Digest}}", BUSYBOX);
    let text = format!("{}{}{}", &template[..start], one, &template[end..])
        .replace("{{.UID}}", uid)
        .replace("{{.PipelineStartedOn}}", STARTED)
        .replace("{{.PipelineFinishedOn}}", FINISHED)
        .replace("{{index .BuildStartTimes 0}}", STARTED)
        .replace("{{index .BuildFinishedTimes 0}}", CHILD_FINISHED);
    serde_json::from_str(&text).unwrap()
}

/// A pod with Chains' e2e cosign key.
fn pod_with_key(fx: &Path) -> Pod {
    let pod = Pod::new();
    pod.chains_key(fx);
    pod
}

/// The pod, and the API server holding the PipelineRun and its TaskRun, the PipelineRun's UID
/// returned; `None` when the API server is not installed (outside CI).
fn setup(fx: &Path) -> Option<(Pod, KubeApi, String)> {
    let api = KubeApi::start()?;
    let pod = pod_with_key(fx);
    let (pr, tr) = recorded(fx);
    let uid = api.create_pipelinerun(pr);
    api.create_taskrun(tr);
    Some((pod, api, uid))
}

/// `chainlet attest --pipelinerun` for the PipelineRun with `uid`, with the API server's
/// environment when there is one.
fn attest(pod: &Pod, api: Option<&KubeApi>, uid: &str) -> Attest {
    let attest = Attest::new(pod)
        .pipelinerun(PR_NAME, uid)
        .flag("--taskrun-name", format!("{PR_NAME}-attest"))
        .flag("--finished-on", FINISHED);
    match api {
        Some(api) => attest.api(api),
        None => attest.flag("--namespace", NAMESPACE),
    }
}

/// Storage `file` for the PipelineRun, into the pod's `out/`.
fn to_files(attest: Attest) -> Attest {
    attest.out().storage("pipelinerun", "file")
}

fn statement(pod: &Pod, uid: &str) -> Value {
    let path = pod.path(&format!("out/pipelinerun-{uid}/statement.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn finally_task_payload_is_chains_e2e_expectation() {
    let Some(fx) = fixtures() else { return };
    let Some((pod, api, uid)) = setup(&fx) else {
        return;
    };
    ok(&to_files(attest(&pod, Some(&api), &uid)).run());
    let mut ours = statement(&pod, &uid);
    // Chains' e2e comparison leaves internalParameters out (feature flags vary by cluster).
    let internal = ours["predicate"]["buildDefinition"]
        .as_object_mut()
        .unwrap()
        .remove("internalParameters");
    assert_eq!(internal, Some(json!({})));
    assert_eq!(ours, expected(&fx, &uid));

    // The signed envelope verifies with the real cosign.
    let envelope = pod.path(&format!("out/pipelinerun-{uid}/envelope.json"));
    let (verified, out) = cosign_verify_attestation(
        &fx.join("chains/test/testdata/cosign.pub"),
        &envelope,
        "slsaprovenance1",
    );
    assert!(verified, "{out}");
}

/// Removes every `environment` key: Chains' e2e comparison leaves labels and annotations out.
fn without_environment(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(env)) = m.get_mut("environment") {
                env.remove("labels");
                env.remove("annotations");
                if env.is_empty() {
                    m.remove("environment");
                }
            }
            m.values_mut().for_each(without_environment);
        }
        Value::Array(a) => a.iter_mut().for_each(without_environment),
        _ => {}
    }
}

#[test]
fn finally_task_slsa_v1_payload_is_chains_e2e_expectation() {
    let Some(fx) = fixtures() else { return };
    let Some((pod, api, uid)) = setup(&fx) else {
        return;
    };
    ok(&to_files(attest(&pod, Some(&api), &uid))
        .format("pipelinerun", "in-toto")
        .run());
    let mut ours = statement(&pod, &uid);
    // The labels Chains' comparison leaves out are there: the child's own, in its invocation.
    assert_eq!(
        ours["predicate"]["buildConfig"]["tasks"][0]["invocation"]["environment"]["labels"]["tekton.dev/pipelineTask"],
        "buildimage"
    );
    without_environment(&mut ours);
    assert_eq!(ours, expected_in(&fx, "v1", &uid));
}

#[test]
fn deep_inspection_adds_the_childrens_results_and_storage_tekton_patches_the_pipelinerun() {
    let Some(fx) = fixtures() else { return };
    let Some((pod, api, uid)) = setup(&fx) else {
        return;
    };
    // A child result that is a byproduct only with deep inspection.
    let mut tr = api.taskrun(&format!("{PR_NAME}-buildimage"));
    tr["status"]["results"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "notes", "value": "built"}));
    api.set_taskrun_status(&format!("{PR_NAME}-buildimage"), tr["status"].clone());
    let child_before = api.taskrun(&format!("{PR_NAME}-buildimage"));
    let before = api.pipelinerun(PR_NAME);
    ok(&attest(&pod, Some(&api), &uid)
        .storage("pipelinerun", "tekton")
        .set("artifacts.pipelinerun.enable-deep-inspection=true")
        .run());
    let ann = api.pipelinerun(PR_NAME)["metadata"]["annotations"].clone();
    assert_eq!(ann["chains.tekton.dev/signed"], "true");
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = format!("chains.tekton.dev/signature-pipelinerun-{uid}");
    let sig = pod.path("sig");
    std::fs::write(&sig, b64.decode(ann[&key].as_str().unwrap()).unwrap()).unwrap();
    let pubkey = fx.join("chains/test/testdata/cosign.pub");
    let (verified, out) = cosign_verify_attestation(&pubkey, &sig, "slsaprovenance1");
    assert!(verified, "{out}");
    let payload = b64
        .decode(
            ann[&format!("chains.tekton.dev/payload-pipelinerun-{uid}")]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    let byproducts = &statement["predicate"]["runDetails"]["byproducts"];
    assert_eq!(
        byproducts,
        &json!([{"content": b64.encode("\"built\""), "mediaType": "application/json",
                 "name": format!("taskRunResults/{PR_NAME}-buildimage/notes")}])
    );
    // The same single subject: the child's image pair merges with the PipelineRun's.
    assert_eq!(statement["subject"].as_array().unwrap().len(), 1);

    // One change to the PipelineRun (the dry run wrote nothing), none to its TaskRun.
    let changes = api.changes_since(
        "pipelineruns",
        PR_NAME,
        &resource_version(&before),
        Duration::from_secs(1),
    );
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["object"]["metadata"]["annotations"], ann);
    assert_eq!(changes[0]["object"]["status"], before["status"]);
    let child = api.taskrun(&format!("{PR_NAME}-buildimage"));
    assert_eq!(resource_version(&child), resource_version(&child_before));
}

#[test]
fn without_the_api_the_finally_task_passes_the_results() {
    let Some(fx) = fixtures() else { return };
    let pod = pod_with_key(&fx);
    let passed = to_files(attest(&pod, None, PR_UID))
        .flag("--pipeline-result", "IMAGE_URL=gcr.io/foo/bar")
        .flag(
            "--pipeline-result",
            format!("IMAGE_DIGEST=sha256:{IMAGE_DIGEST}"),
        )
        .flag("--param", "CHAINS-GIT_URL=https://my-git-url")
        .flag("--param", "CHAINS-GIT_COMMIT=my-git-commit")
        .flag("--started-on", STARTED);
    ok(&passed.run());
    let ours = statement(&pod, PR_UID);
    let want = expected(&fx, PR_UID);
    assert_eq!(ours["subject"], want["subject"]);
    assert_eq!(
        ours["predicate"]["buildDefinition"]["resolvedDependencies"],
        json!([{"digest": {"sha1": "my-git-commit"}, "name": "inputs/result",
                "uri": "git+https://my-git-url.git"}])
    );
    assert_eq!(
        ours["predicate"]["runDetails"]["metadata"],
        want["predicate"]["runDetails"]["metadata"]
    );

    // Deep inspection needs the children, which only the API has.
    std::fs::remove_dir_all(pod.path("out")).unwrap();
    let out = passed
        .set("artifacts.pipelinerun.enable-deep-inspection=true")
        .run();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("enable-deep-inspection needs the child TaskRuns"),
        "{}",
        stderr(&out)
    );
    assert!(!pod.path("out").exists());
}

#[test]
fn pipelinerun_mode_names_what_is_missing() {
    let out = chainlet(&["attest", "--pipelinerun", "--pipelinerun-uid", PR_UID]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--pipelinerun-name"),
        "{}",
        stderr(&out)
    );
    let out = chainlet(&[
        "attest",
        "--pipelinerun",
        "--pipelinerun-name",
        PR_NAME,
        "--pipelinerun-uid",
        PR_UID,
        "--set",
        "artifacts.pipelinerun.format=tekton",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("tekton format signed TaskRuns only"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn results_after_the_separator_are_taken_whole() {
    let pod = Pod::new();
    pod.chainlet_key("test");
    let other = "1111111111111111111111111111111111111111111111111111111111111111";
    // What a Tekton array param gives: one argument per element, line breaks kept.
    let images = format!("gcr.io/foo/bar@sha256:{IMAGE_DIGEST}\ngcr.io/foo/baz@sha256:{other}");
    ok(&to_files(attest(&pod, None, PR_UID))
        .args(["--".to_owned(), format!("IMAGES={images}")])
        .run());
    let names: Vec<String> = statement(&pod, PR_UID)["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["gcr.io/foo/bar", "gcr.io/foo/baz"]);

    // Without --pipelinerun they have no place.
    let out = chainlet(&["attest", "--taskrun-name", "x", "--", "IMAGES=x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--pipelinerun only"),
        "{}",
        stderr(&out)
    );
}
