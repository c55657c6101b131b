//! Storage `docdb` on Firestore against the real Firestore emulator of google-cloud-cli
//! (`cloud_firestore_emulator`, Java), one for this module, in single-project mode so that a
//! wrong project is refused as a real service refuses it. chainlet finds it through
//! `FIRESTORE_EMULATOR_HOST`; the documents are read back through the emulator's own REST API
//! with this file's HTTP client, and every signature is checked by cosign from the stored bytes.
//!
//! The emulator checks no IAM permission: the preflight's refusals tested here are a wrong
//! project, a write the emulator refuses and an emulator that is down, not a missing role.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::registry::free_port;
use crate::common::*;

const DEFAULT_EMULATOR: &str =
    "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator";
const PROJECT: &str = "chainlet-test";

/// The emulator's process group: the wrapper script leaves `java` as its child, so both go.
static GROUP: Mutex<Option<i32>> = Mutex::new(None);

extern "C" fn stop_emulator() {
    if let Ok(group) = GROUP.lock()
        && let Some(pgid) = *group
    {
        // SAFETY: a plain syscall on the process group this binary started.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// The module's emulator: `http://127.0.0.1:<port>` and `127.0.0.1:<port>`.
struct Emulator {
    base: String,
    host: String,
}

fn emulator_binary() -> PathBuf {
    std::env::var_os("CHAINLET_FIRESTORE_EMULATOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_EMULATOR))
}

/// Starts the emulator once for this module (stopped when the test binary exits), or `None`
/// after marking the test skipped when it is not installed.
fn emulator() -> Option<&'static Emulator> {
    static EMULATOR: OnceLock<Result<Emulator, String>> = OnceLock::new();
    let started = EMULATOR.get_or_init(|| {
        let bin = emulator_binary();
        if !bin.is_file() {
            return Err(format!(
                "{} is missing (google-cloud-cli's Firestore emulator; or set CHAINLET_FIRESTORE_EMULATOR)",
                bin.display()
            ));
        }
        let port = free_port();
        let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("firestore-emulator.log");
        let mut cmd = Command::new(bin);
        cmd.args(["start", "--host=127.0.0.1", &format!("--port={port}")])
            .arg(format!("--project_id={PROJECT}"))
            .args(["--single_project_mode=true", "--single_project_mode_error=true"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().map_err(|e| format!("the emulator: {e}"))?;
        *GROUP.lock().unwrap() = Some(child.id() as i32);
        // SAFETY: registers a plain extern "C" function.
        unsafe { libc::atexit(stop_emulator) };
        let emulator = Emulator {
            base: format!("http://127.0.0.1:{port}"),
            host: format!("127.0.0.1:{port}"),
        };
        let until = Instant::now() + Duration::from_secs(60);
        while emulator.get("/").0 != 200 {
            if Instant::now() > until {
                return Err(format!(
                    "the emulator did not answer within 60 s: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(emulator)
    });
    match started {
        Ok(e) => Some(e),
        Err(why) if why.contains("is missing") => {
            skipped(why);
            None
        }
        Err(why) => panic!("{why}"),
    }
}

impl Emulator {
    /// One request to the emulator's REST API as its owner; (status, body), or status 0 when
    /// nothing answers yet.
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Vec<u8>) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .new_agent();
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Authorization", "Bearer owner");
        let result = match body {
            Some(b) => agent.run(
                req.header("Content-Type", "application/json")
                    .body(serde_json::to_vec(b).unwrap())
                    .unwrap(),
            ),
            None => agent.run(req.body(()).unwrap()),
        };
        match result {
            Ok(mut resp) => (
                resp.status().as_u16(),
                resp.body_mut().read_to_vec().unwrap_or_default(),
            ),
            Err(_) => (0, Vec::new()),
        }
    }

    fn get(&self, path: &str) -> (u16, Vec<u8>) {
        self.request("GET", path, None)
    }

    /// Every document of a collection of the test project, as the emulator lists them:
    /// (id, fields), sorted by id.
    fn documents(&self, collection: &str) -> Vec<(String, Value)> {
        let (status, body) = self.get(&format!(
            "/v1/projects/{PROJECT}/databases/(default)/documents/{collection}?pageSize=300"
        ));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let listing: Value = serde_json::from_slice(&body).unwrap();
        let mut docs: Vec<(String, Value)> = listing["documents"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|d| {
                let name = d["name"].as_str().unwrap();
                let id = name.rsplit('/').next().unwrap().to_owned();
                (id, d["fields"].clone())
            })
            .collect();
        docs.sort_by(|a, b| a.0.cmp(&b.0));
        docs
    }
}

fn url(collection: &str) -> String {
    format!(
        "firestore://projects/{PROJECT}/databases/(default)/documents/{collection}?name_field=Name"
    )
}

fn pod() -> Pod {
    let pod = Pod::new();
    pod.chainlet_key("firestore-test").typical_results();
    pod
}

fn attest(pod: &Pod, emulator_host: &str, url: &str, taskrun_storage: &str) -> Attest {
    let mut a = Attest::new(pod)
        .taskrun("build-run", UID)
        .times()
        .storage("taskrun", taskrun_storage)
        .storage("oci", "docdb")
        .set(&format!("storage.docdb.url={url}"))
        .env("FIRESTORE_EMULATOR_HOST", emulator_host);
    if taskrun_storage.contains("file") {
        a = a.out();
    }
    a
}

fn b64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap()
}

#[test]
fn documents_in_firestore_are_chains_documents_that_cosign_verifies_and_a_rerun_adds_none() {
    let Some(fs) = emulator() else { return };
    let pod = pod();
    let collection = "chains-docs";
    ok(&attest(&pod, &fs.host, &url(collection), "docdb").run());
    let docs = fs.documents(collection);
    let ids: Vec<&str> = docs.iter().map(|(id, _)| id.as_str()).collect();
    let mut expected = vec![
        format!("taskrun-{UID}"),
        DIGEST_A[..12].to_owned(),
        DIGEST_B[..12].to_owned(),
        DIGEST_C[..12].to_owned(),
    ];
    expected.sort();
    assert_eq!(ids, expected);
    let dir = tempfile::tempdir().unwrap();
    let pubkey = pod.path("secrets/cosign.pub");
    for (id, fields) in &docs {
        let mut names: Vec<&str> = fields
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort();
        // go-cloud keeps the name field out of the document: it is the document's id.
        assert_eq!(names, ["Cert", "Chain", "Object", "Signature", "Signed"]);
        // Keys have no certificate: go-cloud stores the empty string as a string.
        assert_eq!(fields["Cert"], json!({"stringValue": ""}));
        assert_eq!(fields["Chain"], json!({"stringValue": ""}));
        let signed = b64(&fields["Signed"]["bytesValue"]);
        let parsed: Value = serde_json::from_slice(&signed).unwrap();
        let object = &fields["Object"]["mapValue"]["fields"];
        assert!(object.is_object(), "{fields}");
        let signature = b64(&fields["Signature"]["stringValue"]);
        if id.starts_with("taskrun-") {
            assert_eq!(parsed["_type"], "https://in-toto.io/Statement/v1");
            assert_eq!(object["_type"]["stringValue"], parsed["_type"]);
            let subjects = object["subject"]["arrayValue"]["values"]
                .as_array()
                .unwrap();
            assert_eq!(subjects.len(), parsed["subject"].as_array().unwrap().len());
            let envelope = dir.path().join("envelope.json");
            std::fs::write(&envelope, &signature).unwrap();
            let env: Value = serde_json::from_slice(&signature).unwrap();
            assert_eq!(b64(&env["payload"]), signed, "the envelope carries Signed");
            let (verified, text) = cosign_verify_attestation(&pubkey, &envelope, "slsaprovenance1");
            assert!(verified, "cosign: {text}");
        } else {
            let payload = dir.path().join(format!("{id}.json"));
            let sig = dir.path().join(format!("{id}.sig"));
            std::fs::write(&payload, &signed).unwrap();
            // Signature is base64 of the raw signature, which is what cosign reads.
            std::fs::write(&sig, fields["Signature"]["stringValue"].as_str().unwrap()).unwrap();
            assert!(!signature.is_empty());
            let (verified, text) = cosign_verify_blob(&pubkey, &sig, &payload);
            assert!(verified, "{id}: cosign: {text}");
            let digest = parsed["critical"]["image"]["docker-manifest-digest"]
                .as_str()
                .unwrap();
            assert!(digest.contains(id.as_str()));
            // JSON's null is Firestore's null; the simple-signing payload's optional is null.
            assert_eq!(object["optional"], json!({"nullValue": null}));
        }
    }
    // The same run again replaces every document by its id and adds none.
    ok(&attest(&pod, &fs.host, &url(collection), "docdb").run());
    assert_eq!(fs.documents(collection), docs);
}

#[test]
fn a_refused_preflight_leaves_every_backend_unwritten() {
    let Some(fs) = emulator() else { return };
    let pod = pod();
    // Another project: the emulator refuses it as the service refuses an unknown one, before
    // the file backend writes anything.
    let other =
        "firestore://projects/not-this-one/databases/(default)/documents/refused?name_field=Name";
    let out = attest(&pod, &fs.host, other, "docdb,file").run();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(
            "storage docdb: firestore collection projects/not-this-one/databases/(default)/documents/refused:"
        ) && err.contains("INVALID_ARGUMENT"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(pod.written(), Vec::<String>::new());

    // The emulator down: refused once the deadline has passed, nothing written either.
    let down = format!("127.0.0.1:{}", free_port());
    let out = attest(&pod, &down, &url("down"), "docdb,file")
        .flag("--registry-timeout", "3")
        .run();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("storage docdb: firestore collection projects/chainlet-test/"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(pod.written(), Vec::<String>::new());

    // Firestore's preflight passes, the next backend's (kafka, nothing listening) fails: the
    // write probe left no document, and nothing was stored anywhere.
    let out = attest(&pod, &fs.host, &url("probed"), "docdb,kafka,file")
        .set("storage.pubsub.topic=chains")
        .set(&format!(
            "storage.pubsub.kafka.bootstrap.servers=127.0.0.1:{}",
            free_port()
        ))
        .flag("--registry-timeout", "3")
        .run();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("storage kafka"), "{}", stderr(&out));
    assert_eq!(fs.documents("probed"), Vec::new());
    assert_eq!(pod.written(), Vec::<String>::new());
}

#[test]
fn bad_firestore_settings_are_one_line_errors() {
    let Some(fs) = emulator() else { return };
    let pod = pod();
    for (url, says) in [
        (
            "firestore://projects/p/databases/(default)/documents/c",
            "name_field is required",
        ),
        (
            "firestore://projects/p/databases/(default)/documents/c/d?name_field=Name",
            "names a document",
        ),
        (
            "firestore://projects/p/databases/(default)/documents/c?name_field=Name&bogus=1",
            "invalid query parameter",
        ),
    ] {
        let out = attest(&pod, &fs.host, url, "docdb").run();
        assert_eq!(out.status.code(), Some(2), "{url}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(says), "{url}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}
