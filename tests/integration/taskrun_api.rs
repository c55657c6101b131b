//! The TaskRun from the Kubernetes API: full provenance, storage `tekton` and format `tekton`,
//! against the real API server (`common::kubeapi`: apiextensions-apiserver with Tekton's CRDs,
//! behind a front proxy that takes the service-account token) holding Chains' recorded TaskRun
//! objects (`../shared/fixtures/chains/pkg/chains/formats/slsa/testdata`), created as Tekton
//! creates them. Two faults the real server cannot produce on demand (a 503 burst, nothing
//! listening) use the hand-written fake (`common::apiserver`).
//!
//! The expected payloads are Chains' own unit-test expectations for those objects
//! (`TestTaskRunCreatePayload1` for slsa/v1 and the v2alpha4 `taskrun1` case), written out as the
//! JSON Chains emits for them.

use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use crate::common::apiserver::ApiServer;
use crate::common::kubeapi::{KubeApi, PodApi, resource_version};
use crate::common::*;
use base64::Engine as _;
use serde_json::{Value, json};

const FIXTURE_UID: &str = "abhhf-12354-asjsdbjs23-3435353n";
const FIXTURE_NAME: &str = "taskrun-build";

/// A recorded TaskRun as a client creates it (the fixtures leave out apiVersion and kind; the
/// API server assigns the namespace's and its own UID).
fn recorded(fx: &Path, rel: &str) -> Value {
    let text =
        std::fs::read_to_string(fx.join("chains/pkg/chains/formats/slsa/testdata").join(rel))
            .unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["apiVersion"] = "tekton.dev/v1".into();
    v["kind"] = "TaskRun".into();
    v
}

/// An empty pod with Chains' e2e cosign key, and the API server holding `object`, whose UID
/// is returned; `None` when the API server is not installed (outside CI).
fn setup(fx: &Path, object: Value) -> Option<(Pod, KubeApi, String)> {
    let api = KubeApi::start()?;
    let pod = Pod::new();
    std::fs::create_dir_all(pod.path("steps")).unwrap();
    pod.chains_key(fx);
    let uid = api.create_taskrun(object);
    Some((pod, api, uid))
}

/// A finished TaskRun as the API server shows it, written here so that the tests of the API
/// client and of storage `tekton` run without the shared fixtures: one step with a pinned
/// image, an image pair, a remote Task source and feature flags.
fn inline_taskrun() -> Value {
    json!({
        "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
        "metadata": {"name": FIXTURE_NAME, "labels": {"app": "demo"}},
        "spec": {"taskRef": {"resolver": "git", "params": [{"name": "url", "value": "https://g/t"}]},
                 "serviceAccountName": "builder", "timeout": "1h"},
        "status": {
            "startTime": "2026-03-01T10:00:00Z", "completionTime": "2026-03-01T10:01:00Z",
            "steps": [{"name": "build", "container": "step-build",
                       "imageID": "docker-pullable://gcr.io/tools/builder@sha256:d4b63d3e24d6eef04a6dc0795cf8a73470688803d97c52cffa3c8d4efd3397b6"}],
            "results": [
                {"name": "IMAGE_DIGEST", "value": "sha256:827521c857fdcd4374f4da5442fbae2edb01e7fbae285c3ec15673d4c1daecb7"},
                {"name": "IMAGE_URL", "value": "gcr.io/my/image"}
            ],
            "provenance": {"refSource": {"uri": "git+https://g/t.git", "digest": {"sha1": "abc123"}, "entryPoint": "task.yaml"},
                           "featureFlags": {"enableAPIFields": "beta"}}
        }
    })
}

/// An empty pod with a key made by chainlet, and the API server holding [`inline_taskrun`],
/// whose UID is returned; `None` when the API server is not installed (outside CI).
fn inline_setup() -> Option<(Pod, KubeApi, String)> {
    let api = KubeApi::start()?;
    let pod = inline_pod();
    let uid = api.create_taskrun(inline_taskrun());
    Some((pod, api, uid))
}

fn inline_pod() -> Pod {
    let pod = Pod::new();
    std::fs::create_dir_all(pod.path("steps")).unwrap();
    pod.chainlet_key("test");
    pod
}

/// The same with the hand-written fake, for the faults the real server cannot produce.
fn fake_setup() -> (Pod, ApiServer) {
    let pod = inline_pod();
    let api = ApiServer::start(&pod.path("api"));
    let mut object = inline_taskrun();
    object["metadata"]["namespace"] = crate::common::apiserver::NAMESPACE.into();
    object["metadata"]["uid"] = FIXTURE_UID.into();
    api.add_taskrun(FIXTURE_NAME, object);
    (pod, api)
}

/// `chainlet attest` in the pod for the TaskRun with `uid`, with the API server's environment.
fn attest(pod: &Pod, api: &dyn PodApi, uid: &str) -> Attest {
    Attest::new(pod).taskrun(FIXTURE_NAME, uid).api(api)
}

/// Storage `file` into the pod's `out/`, the TaskRun in `format`, and the builder ID of Chains'
/// tests.
fn file_storage(attest: Attest, format: &str) -> Attest {
    attest
        .storage_file()
        .format("taskrun", format)
        .set("builder.id=test_builder-1")
}

#[test]
fn slsa_v1_payload_from_the_api_is_chains_payload_byte_for_byte() {
    let Some(fx) = fixtures() else { return };
    let Some((pod, api, uid)) = setup(&fx, recorded(&fx, "pipeline-v1/taskrun1.json")) else {
        return;
    };
    ok(&file_storage(attest(&pod, &api, &uid), "slsa/v1").run());
    let ours =
        std::fs::read_to_string(pod.path(&format!("out/taskrun-{uid}/statement.json"))).unwrap();
    // TestTaskRunCreatePayload1 in Chains' slsa/v1 tests, as protojson writes it.
    let expected = concat!(
        r#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"name":"gcr.io/my/image","digest":{"sha256":"827521c857fdcd4374f4da5442fbae2edb01e7fbae285c3ec15673d4c1daecb7"}}],"#,
        r#""predicateType":"https://slsa.dev/provenance/v0.2","predicate":{"buildConfig":{"steps":["#,
        r#"{"annotations":null,"arguments":null,"entryPoint":"","environment":{"container":"step1","image":"oci://gcr.io/test1/test1@sha256:d4b63d3e24d6eef04a6dc0795cf8a73470688803d97c52cffa3c8d4efd3397b6"}},"#,
        r#"{"annotations":null,"arguments":null,"entryPoint":"","environment":{"container":"step2","image":"oci://gcr.io/test2/test2@sha256:4d6dd704ef58cb214dd826519929e92a978a57cdee43693006139c0080fd6fac"}},"#,
        r#"{"annotations":null,"arguments":null,"entryPoint":"","environment":{"container":"step3","image":"oci://gcr.io/test3/test3@sha256:f1a8b8549c179f41e27ff3db0fe1a1793e4b109da46586501a8343637b1d0478"}}]},"#,
        r#""buildType":"tekton.dev/v1/TaskRun","builder":{"id":"test_builder-1"},"#,
        r#""invocation":{"configSource":{"digest":{"sha1":"ab123"},"entryPoint":"build.yaml","uri":"github.com/test"},"#,
        r#""environment":{"labels":{"tekton.dev/pipelineTask":"build"}},"#,
        r#""parameters":{"CHAINS-GIT_COMMIT":"sha:taskrun","CHAINS-GIT_URL":"https://git.test.com","IMAGE":"test.io/test/image"}},"#,
        r#""materials":[{"digest":{"sha256":"d4b63d3e24d6eef04a6dc0795cf8a73470688803d97c52cffa3c8d4efd3397b6"},"uri":"oci://gcr.io/test1/test1"},"#,
        r#"{"digest":{"sha256":"4d6dd704ef58cb214dd826519929e92a978a57cdee43693006139c0080fd6fac"},"uri":"oci://gcr.io/test2/test2"},"#,
        r#"{"digest":{"sha256":"f1a8b8549c179f41e27ff3db0fe1a1793e4b109da46586501a8343637b1d0478"},"uri":"oci://gcr.io/test3/test3"},"#,
        r#"{"digest":{"sha1":"sha:taskrun"},"uri":"git+https://git.test.com.git"}],"#,
        r#""metadata":{"buildFinishedOn":"2021-03-29T09:50:15Z","buildStartedOn":"2021-03-29T09:50:00Z","#,
        r#""completeness":{"environment":false,"materials":false,"parameters":false},"reproducible":false}}}"#
    );
    assert_eq!(ours, expected);
    let seen = api.seen();
    assert_eq!(seen.len(), 1, "one GET: {seen:?}");
    assert_eq!(
        seen[0].path,
        format!(
            "/apis/tekton.dev/v1/namespaces/{}/taskruns/{FIXTURE_NAME}",
            api.namespace
        )
    );
}

#[test]
fn slsa_v2alpha4_payload_from_the_api_is_chains_payload() {
    let Some(fx) = fixtures() else { return };
    let Some((pod, api, uid)) = setup(&fx, recorded(&fx, "slsa-v2alpha4/taskrun1.json")) else {
        return;
    };
    let digest_file = pod.s("statement-digest");
    let subjects_file = pod.s("subjects");
    ok(&file_storage(attest(&pod, &api, &uid), "slsa/v2alpha4")
        .flag("--write-result", format!("statement-digest={digest_file}"))
        .flag("--write-result", format!("subjects={subjects_file}"))
        .run());
    let bytes = std::fs::read(pod.path(&format!("out/taskrun-{uid}/statement.json"))).unwrap();
    let ours: Value = serde_json::from_slice(&bytes).unwrap();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let expected = json!({
      "_type": "https://in-toto.io/Statement/v1",
      "subject": [
        {"name": "gcr.io/my/image/fromstep3", "digest": {"sha256": "827521c857fdcd4374f4da5442fbae2edb01e7fbae285c3ec15673d4c1daecb7"}},
        {"name": "gcr.io/my/image", "digest": {"sha256": "d31cc8328054de2bd93735f9cbf0ccfb6e0ee8f4c4225da7d8f8cb3900eaf466"}}
      ],
      "predicateType": "https://slsa.dev/provenance/v1",
      "predicate": {
        "buildDefinition": {
          "buildType": "https://tekton.dev/chains/v2/slsa",
          "externalParameters": {"runSpec": {
            "params": [{"name": "IMAGE", "value": "test.io/test/image"},
                       {"name": "CHAINS-GIT_COMMIT", "value": "taskrun"},
                       {"name": "CHAINS-GIT_URL", "value": "https://git.test.com"}],
            "serviceAccountName": "default",
            "taskRef": {"kind": "Task", "name": "build"}}},
          "internalParameters": {"tekton-pipelines-feature-flags":
            {"enableAPIFields": "beta", "resultExtractionMethod": "termination-message"}},
          "resolvedDependencies": [
            {"digest": {"sha1": "ab123"}, "name": "task", "uri": "git+https://github.com/test"},
            {"digest": {"sha256": "d4b63d3e24d6eef04a6dc0795cf8a73470688803d97c52cffa3c8d4efd3397b6"}, "uri": "oci://gcr.io/test1/test1"},
            {"digest": {"sha256": "4d6dd704ef58cb214dd826519929e92a978a57cdee43693006139c0080fd6fac"}, "uri": "oci://gcr.io/test2/test2"},
            {"digest": {"sha256": "f1a8b8549c179f41e27ff3db0fe1a1793e4b109da46586501a8343637b1d0478"}, "uri": "oci://gcr.io/test3/test3"},
            {"digest": {"sha1": "taskrun"}, "name": "inputs/result", "uri": "git+https://git.test.com.git"}
          ]
        },
        "runDetails": {
          "builder": {"id": "test_builder-1"},
          "byproducts": [
            {"content": b64("\"result-value\""), "mediaType": "application/json",
             "name": "stepResults/taskrun-build/step1_result1"},
            {"content": b64(r#"{"digest":"sha256:827521c857fdcd4374f4da5442fbae2edb01e7fbae285c3ec15673d4c1daecb7","uri":"gcr.io/my/image/fromstep2"}"#),
             "mediaType": "application/json",
             "name": "stepResults/taskrun-build/step1_result1-ARTIFACT_OUTPUTS"}
          ],
          "metadata": {"finishedOn": "2021-03-29T09:50:15Z",
                       "invocationId": uid,
                       "startedOn": "2021-03-29T09:50:00Z"}
        }
      }
    });
    assert_eq!(ours, expected);

    // The step's results: the digest of exactly the signed bytes, and the subjects.
    let digest = std::fs::read_to_string(&digest_file).unwrap();
    assert_eq!(digest, format!("sha256:{}", sha256_hex(&bytes)));
    let subjects: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(&subjects_file).unwrap()).unwrap();
    assert_eq!(
        subjects,
        [
            "gcr.io/my/image/fromstep3@sha256:827521c857fdcd4374f4da5442fbae2edb01e7fbae285c3ec15673d4c1daecb7",
            "gcr.io/my/image@sha256:d31cc8328054de2bd93735f9cbf0ccfb6e0ee8f4c4225da7d8f8cb3900eaf466"
        ]
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write as _;
            c.stdin.take().unwrap().write_all(bytes)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

fn annotations(api: &KubeApi) -> serde_json::Map<String, Value> {
    api.taskrun(FIXTURE_NAME)["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default()
}

fn decode(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap()
}

/// `cosign verify-blob` with the pod's key accepts a raw signature (from an annotation) over
/// `payload`.
fn assert_raw_signature_verifies(pod: &Pod, signature: &[u8], payload: &[u8]) {
    let (sig_file, payload_file) = (pod.path("raw.sig"), pod.path("raw.payload"));
    std::fs::write(
        &sig_file,
        base64::engine::general_purpose::STANDARD.encode(signature),
    )
    .unwrap();
    std::fs::write(&payload_file, payload).unwrap();
    let (verified, out) =
        cosign_verify_blob(&pod.path("secrets/cosign.pub"), &sig_file, &payload_file);
    assert!(verified, "{out}");
}

#[test]
fn storage_tekton_annotations_verify_with_cosign_as_chains_docs_say() {
    let Some((pod, api, uid)) = inline_setup() else {
        return;
    };
    let before = api.taskrun(FIXTURE_NAME);
    ok(&attest(&pod, &api, &uid)
        .storage("taskrun", "tekton")
        .format("taskrun", "slsa/v1")
        .storage("oci", "tekton")
        .run());
    let ann = annotations(&api);
    let key = format!("taskrun-{uid}");
    assert_eq!(ann["chains.tekton.dev/signed"], "true");
    for part in ["cert", "chain"] {
        assert_eq!(ann[&format!("chains.tekton.dev/{part}-{key}")], "");
    }
    // The image signature under the digest's first 12 hex characters, as Chains keys it.
    let image_sig = decode(&ann["chains.tekton.dev/signature-827521c857fd"]);
    let image_payload = decode(&ann["chains.tekton.dev/payload-827521c857fd"]);
    let payload: Value = serde_json::from_slice(&image_payload).unwrap();
    assert_eq!(
        payload["critical"]["identity"]["docker-reference"],
        "gcr.io/my/image"
    );

    // The verification flow of Chains' docs, with the real cosign.
    let sig = pod.path("sig");
    std::fs::write(
        &sig,
        decode(&ann[&format!("chains.tekton.dev/signature-{key}")]),
    )
    .unwrap();
    let pubkey = pod.path("secrets/cosign.pub");
    let (verified, out) = cosign_run(
        &[
            OsStr::new("verify-blob-attestation"),
            OsStr::new("--insecure-ignore-tlog"),
            OsStr::new("--key"),
            pubkey.as_os_str(),
            OsStr::new("--signature"),
            sig.as_os_str(),
            OsStr::new("--type"),
            OsStr::new("slsaprovenance"),
            OsStr::new("--check-claims=false"),
            OsStr::new("/dev/null"),
        ],
        &[],
    );
    assert!(verified && out.contains("Verified OK"), "{out}");
    // The payload annotation is the statement inside the envelope.
    let envelope: Value = serde_json::from_slice(&std::fs::read(&sig).unwrap()).unwrap();
    assert_eq!(
        decode(&envelope["payload"]),
        decode(&ann[&format!("chains.tekton.dev/payload-{key}")])
    );
    // And the image signature verifies over its payload.
    assert_raw_signature_verifies(&pod, &image_sig, &image_payload);

    // One dry run, then one real patch with every annotation and `signed` together.
    let patches: Vec<_> = api
        .seen()
        .into_iter()
        .filter(|s| s.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert!(patches[0].path.ends_with("?dryRun=All"));
    assert_eq!(patches[1].content_type, "application/merge-patch+json");
    let body: Value = serde_json::from_slice(&patches[1].body).unwrap();
    assert_eq!(body["metadata"]["uid"], uid.as_str());
    assert_eq!(
        body["metadata"]["annotations"]["chains.tekton.dev/signed"],
        "true"
    );

    // The API server saw one change to the TaskRun: the dry run wrote nothing, the patch
    // every annotation at once, and spec and status are as they were.
    let changes = api.changes_since(
        "taskruns",
        FIXTURE_NAME,
        &resource_version(&before),
        Duration::from_secs(1),
    );
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["type"], "MODIFIED");
    let after = &changes[0]["object"];
    assert_eq!(after["metadata"]["annotations"], Value::Object(ann));
    assert_ne!(resource_version(after), resource_version(&before));
    assert_eq!(after["spec"], before["spec"]);
    assert_eq!(after["status"], before["status"]);
}

#[test]
fn format_tekton_signs_the_status_as_the_api_returned_it() {
    let object = inline_taskrun();
    let Some((pod, api, uid)) = inline_setup() else {
        return;
    };
    ok(&attest(&pod, &api, &uid)
        .storage("taskrun", "tekton")
        .format("taskrun", "tekton")
        .set("artifacts.oci.signer=none")
        .run());
    let ann = annotations(&api);
    let key = format!("taskrun-{uid}");
    let payload = decode(&ann[&format!("chains.tekton.dev/payload-{key}")]);
    let status: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(status, object["status"]);
    let signature = decode(&ann[&format!("chains.tekton.dev/signature-{key}")]);
    assert_raw_signature_verifies(&pod, &signature, &payload);
    assert_eq!(ann["chains.tekton.dev/signed"], "true");
}

#[test]
fn without_patch_permission_the_error_names_it_and_nothing_is_written() {
    let Some((pod, api, uid)) = inline_setup() else {
        return;
    };
    let before = api.taskrun(FIXTURE_NAME);
    api.deny("patch");
    let out = attest(&pod, &api, &uid)
        .out()
        .storage("taskrun", "tekton,file")
        .storage("oci", "tekton")
        .run();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    for word in [
        "may not patch",
        "taskruns.tekton.dev",
        &api.namespace,
        "Role",
    ] {
        assert!(err.contains(word), "{word:?} missing: {err}");
    }
    assert!(!pod.path("out").exists(), "storage file must not have run");
    assert!(annotations(&api).is_empty());
    assert_eq!(
        resource_version(&api.taskrun(FIXTURE_NAME)),
        resource_version(&before)
    );
}

#[test]
fn a_failed_backend_marks_the_taskrun_failed_and_never_signed() {
    let Some((pod, api, uid)) = inline_setup() else {
        return;
    };
    // Nothing listens on port 1: storage oci fails after its retries.
    let out = attest(&pod, &api, &uid)
        .flag("--registry-timeout", "1")
        .storage("taskrun", "oci,tekton")
        .set("storage.oci.repository=127.0.0.1:1/signatures")
        .set("storage.oci.repository.insecure=true")
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let ann = annotations(&api);
    assert_eq!(ann["chains.tekton.dev/signed"], "failed");
    assert!(
        ann["chainlet.dev/failure"]
            .as_str()
            .unwrap()
            .contains("storage oci"),
        "{ann:?}"
    );
    assert!(
        !ann.keys().any(|k| k.contains("payload-")),
        "no payload may be stored after a failure: {ann:?}"
    );
}

#[test]
fn reading_the_taskrun_refused_is_a_warning_in_auto_mode_and_an_error_when_required() {
    let Some((pod, api, uid)) = inline_setup() else {
        return;
    };
    api.deny("get");
    let to_files = file_storage(attest(&pod, &api, &uid), "slsa/v1");
    let out = to_files.run();
    ok(&out);
    assert!(stderr(&out).contains("may not get"), "{}", stderr(&out));
    let statement: Value = serde_json::from_slice(
        &std::fs::read(pod.path(&format!("out/taskrun-{uid}/statement.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(statement["predicate"]["buildConfig"]["steps"], json!([]));

    std::fs::remove_dir_all(pod.path("out")).unwrap();
    let out = to_files.flag("--taskrun-api", "on").run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("may not get"), "{}", stderr(&out));
    assert!(!pod.path("out").exists());
}

#[test]
fn a_taskrun_with_another_uid_is_refused() {
    let Some((pod, api, _)) = inline_setup() else {
        return;
    };
    let out = file_storage(
        attest(&pod, &api, "11111111-2222-3333-4444-555555555555"),
        "slsa/v1",
    )
    .run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("another run took the name"),
        "{}",
        stderr(&out)
    );
    assert!(!pod.path("out").exists());
}

#[test]
fn an_unreachable_api_server_is_a_warning_when_nothing_needs_it() {
    // The fake only lends its service-account mount: nothing is asked of it.
    let (pod, api) = fake_setup();
    // The service account is mounted, but nothing listens where the API server should be.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let sa = api.sa_dir.display().to_string();
    let attest = file_storage(
        Attest::new(&pod)
            .taskrun(FIXTURE_NAME, FIXTURE_UID)
            .flag("--registry-timeout", "1"),
        "slsa/v2alpha4",
    )
    .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    .env("KUBERNETES_SERVICE_PORT", &port)
    .env("CHAINLET_SERVICEACCOUNT_DIR", &sa);
    let out = attest.run();
    ok(&out);
    assert!(
        stderr(&out).contains("going on with what the pod sees"),
        "{}",
        stderr(&out)
    );

    // Storage tekton needs it: then it is an error.
    std::fs::remove_dir_all(pod.path("out")).unwrap();
    let out = attest.storage("taskrun", "tekton,file").run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!pod.path("out").exists());
}

#[test]
fn steps_that_have_not_started_are_left_out_of_a_running_taskrun() {
    let Some((pod, api, uid)) = inline_setup() else {
        return;
    };
    let mut running = inline_taskrun();
    running["status"]
        .as_object_mut()
        .unwrap()
        .remove("completionTime");
    running["status"]["steps"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "later", "container": "step-later", "imageID": ""}));
    api.set_taskrun_status(FIXTURE_NAME, running["status"].clone());
    let to_files = file_storage(attest(&pod, &api, &uid), "slsa/v2alpha4");
    let out = to_files.run();
    ok(&out);
    assert!(stderr(&out).contains("not started yet"), "{}", stderr(&out));
    let statement: Value = serde_json::from_slice(
        &std::fs::read(pod.path(&format!("out/taskrun-{uid}/statement.json"))).unwrap(),
    )
    .unwrap();
    let deps = &statement["predicate"]["buildDefinition"]["resolvedDependencies"];
    assert_eq!(
        deps,
        &json!([
            {"digest": {"sha1": "abc123"}, "name": "task", "uri": "git+https://g/t.git"},
            {"digest": {"sha256": "d4b63d3e24d6eef04a6dc0795cf8a73470688803d97c52cffa3c8d4efd3397b6"},
             "uri": "oci://gcr.io/tools/builder"}
        ])
    );
    // A finished TaskRun with a step without an image fails, as in Chains.
    let mut finished = inline_taskrun();
    finished["status"]["steps"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "later", "imageID": ""}));
    api.set_taskrun_status(FIXTURE_NAME, finished["status"].clone());
    std::fs::remove_dir_all(pod.path("out")).unwrap();
    let out = to_files.run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("container later"), "{}", stderr(&out));
    assert!(!pod.path("out").exists());
}

#[test]
fn an_api_server_that_is_briefly_unavailable_is_retried() {
    // A 503 burst on demand: the hand-written fake.
    let (pod, api) = fake_setup();
    api.unavailable_for(2);
    let out = attest(&pod, &api, FIXTURE_UID)
        .flag("--taskrun-api", "on")
        .storage("taskrun", "tekton")
        .storage("oci", "tekton")
        .run();
    ok(&out);
    let gets = api.seen().iter().filter(|s| s.method == "GET").count();
    assert_eq!(gets, 3, "two 503s, then the TaskRun");
    let ann = api.taskrun(FIXTURE_NAME)["metadata"]["annotations"].clone();
    assert_eq!(ann["chains.tekton.dev/signed"], "true");
}

#[test]
fn a_token_the_api_server_rejects_is_named_and_nothing_is_written() {
    let Some((pod, api, uid)) = inline_setup() else {
        return;
    };
    let before = api.taskrun(FIXTURE_NAME);
    // The mounted token is no longer one the API server (its front proxy) accepts.
    std::fs::write(api.sa_dir.join("token"), "an-expired-token\n").unwrap();
    let out = attest(&pod, &api, &uid)
        .out()
        .storage("taskrun", "tekton,file")
        .run();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("rejected the service-account token"), "{err}");
    assert!(!pod.path("out").exists());
    assert_eq!(
        resource_version(&api.taskrun(FIXTURE_NAME)),
        resource_version(&before)
    );
}

#[test]
fn a_taskrun_replaced_under_the_same_name_before_the_patch_is_left_alone() {
    let Some((pod, api, uid)) = inline_setup() else {
        return;
    };
    // Between chainlet's read and its patch, the TaskRun is deleted and another one created
    // under its name: the API server refuses the patch that carries the first one's UID.
    api.replace_taskrun_before_patch(inline_taskrun());
    let out = attest(&pod, &api, &uid)
        .out()
        .storage("taskrun", "tekton,file")
        .run();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("metadata.uid"), "{err}");
    assert!(!pod.path("out").exists(), "storage file must not have run");
    let now = api.taskrun(FIXTURE_NAME);
    assert_ne!(crate::common::kubeapi::uid(&now), uid);
    assert!(annotations(&api).is_empty(), "{now}");
}
