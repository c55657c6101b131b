//! Storage `grafeas` against a local Grafeas-like server, since no Grafeas or Container
//! Analysis can be had here. The server implements the REST calls chainlet makes and checks
//! them as Grafeas would: a bearer token from its own OAuth token endpoint (the JWT-bearer
//! grant a service-account key makes), `POST …/notes?noteId=` (one kind per note, 409 when it
//! exists), `POST …/occurrences` (a resource URI, an existing note, details of the note's
//! kind, an envelope), `GET …/notes/<id>` and `GET …/notes/<id>/occurrences?filter=
//! resourceUrl="…"`. What chainlet stored is read back and verified with cosign.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::http::{self, Answer};
use crate::common::*;

const TOKEN: &str = "ya29.test-token";
const PROJECT: &str = "my-project";

#[derive(Default)]
struct State {
    notes: BTreeMap<String, Value>,
    occurrences: Vec<Value>,
    /// (method, path)
    seen: Vec<(String, String)>,
    deny: bool,
}

struct Grafeas {
    addr: String,
    state: Arc<Mutex<State>>,
    _server: http::Server,
}

impl Grafeas {
    fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let server = http::Server::start(move |r| answer(&st, r));
        Self {
            addr: server.addr.clone(),
            state,
            _server: server,
        }
    }
}

fn status(code: u16, status: &str, message: &str) -> Answer {
    let body = json!({"error": {"code": code, "message": message, "status": status}});
    (
        code,
        "application/json".into(),
        body.to_string().into_bytes(),
    )
}

fn ok_json(v: &Value) -> Answer {
    (200, "application/json".into(), v.to_string().into_bytes())
}

fn query(target: &str) -> BTreeMap<String, String> {
    let q = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn b64ok(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok())
}

fn answer(state: &Mutex<State>, r: http::Request) -> Answer {
    let mut s = state.lock().unwrap();
    let path = r.target.split('?').next().unwrap_or("").to_owned();
    s.seen.push((r.method.clone(), path.clone()));
    if path == "/token" {
        let form = query(&format!("?{}", String::from_utf8_lossy(&r.body)));
        let jwt = form
            .get("assertion")
            .map(|a| a.split('.').count())
            .unwrap_or(0);
        if form.get("grant_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
            || jwt != 3
        {
            return (
                400,
                "application/json".into(),
                br#"{"error":"invalid_grant"}"#.to_vec(),
            );
        }
        return ok_json(
            &json!({"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"}),
        );
    }
    if r.headers.get("authorization").map(String::as_str) != Some(&format!("Bearer {TOKEN}")) {
        return status(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        );
    }
    if s.deny {
        return status(
            403,
            "PERMISSION_DENIED",
            "Permission 'containeranalysis.notes.get' denied",
        );
    }
    let project_prefix = format!("/v1/projects/{PROJECT}/");
    let Some(rest) = path.strip_prefix(&project_prefix) else {
        return status(404, "NOT_FOUND", "no such project");
    };
    let json_body = || -> Option<Value> {
        (r.headers.get("content-type").map(String::as_str) == Some("application/json"))
            .then(|| serde_json::from_slice(&r.body).ok())
            .flatten()
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match (r.method.as_str(), parts.as_slice()) {
        ("POST", ["notes"]) => {
            let Some(id) = query(&r.target)
                .get("noteId")
                .cloned()
                .filter(|i| !i.is_empty())
            else {
                return status(400, "INVALID_ARGUMENT", "noteId is required");
            };
            let Some(mut note) = json_body() else {
                return status(400, "INVALID_ARGUMENT", "a JSON note");
            };
            let kinds = ["attestation", "build"]
                .iter()
                .filter(|k| note.get(**k).is_some())
                .count();
            if kinds != 1 || !note["shortDescription"].is_string() {
                return status(400, "INVALID_ARGUMENT", "a note has one kind");
            }
            if s.notes.contains_key(&id) {
                return status(409, "ALREADY_EXISTS", "note already exists");
            }
            note["name"] = json!(format!("projects/{PROJECT}/notes/{id}"));
            s.notes.insert(id, note.clone());
            ok_json(&note)
        }
        ("GET", ["notes", id]) => match s.notes.get(*id) {
            Some(n) => ok_json(n),
            None => status(404, "NOT_FOUND", "note not found"),
        },
        ("GET", ["notes", id, "occurrences"]) => {
            let note_name = format!("projects/{PROJECT}/notes/{id}");
            let filter = query(&r.target).get("filter").cloned().unwrap_or_default();
            let want: Option<String> = filter
                .strip_prefix("resourceUrl=")
                .and_then(|q| serde_json::from_str(q).ok());
            let list: Vec<Value> = s
                .occurrences
                .iter()
                .filter(|o| o["noteName"] == json!(note_name))
                .filter(|o| want.as_ref().is_none_or(|w| o["resourceUri"] == json!(w)))
                .cloned()
                .collect();
            ok_json(&json!({"occurrences": list}))
        }
        ("POST", ["occurrences"]) => {
            let Some(mut occ) = json_body() else {
                return status(400, "INVALID_ARGUMENT", "a JSON occurrence");
            };
            let note_id = occ["noteName"]
                .as_str()
                .and_then(|n| n.strip_prefix(&format!("projects/{PROJECT}/notes/")))
                .unwrap_or("")
                .to_owned();
            let Some(note) = s.notes.get(&note_id) else {
                return status(400, "INVALID_ARGUMENT", "the note does not exist");
            };
            let kind = if note.get("attestation").is_some() {
                "attestation"
            } else {
                "build"
            };
            let env = &occ["envelope"];
            if occ["resourceUri"].as_str().is_none_or(str::is_empty)
                || occ.get(kind).is_none()
                || !b64ok(&env["payload"])
                || !b64ok(&env["signatures"][0]["sig"])
            {
                return status(
                    400,
                    "INVALID_ARGUMENT",
                    "an occurrence of the note's kind, with an envelope",
                );
            }
            occ["name"] = json!(format!(
                "projects/{PROJECT}/occurrences/{}",
                s.occurrences.len() + 1
            ));
            occ["kind"] = json!(kind.to_ascii_uppercase());
            s.occurrences.push(occ.clone());
            ok_json(&occ)
        }
        _ => status(404, "NOT_FOUND", "no such method"),
    }
}

/// A service-account key file whose token endpoint is the test server.
fn key_file(pod: &Pod, server: &Grafeas) -> std::path::PathBuf {
    openssl(
        &pod.path(""),
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "sa.pem",
        ],
    );
    let pem = std::fs::read_to_string(pod.path("sa.pem")).unwrap();
    let key = json!({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "chains@my-project.iam.gserviceaccount.com",
        "token_uri": format!("http://{}/token", server.addr),
    });
    let path = pod.path("sa.json");
    std::fs::write(&path, key.to_string()).unwrap();
    path
}

fn attest(pod: &Pod, server: &Grafeas, key: &std::path::Path) -> Attest {
    Attest::offline(pod)
        .storage("taskrun", "grafeas,file")
        .storage("oci", "grafeas,file")
        .set(&format!("storage.grafeas.projectid={PROJECT}"))
        .flag("--namespace", "ci")
        .flag("--insecure-registry", &server.addr)
        .env("CHAINLET_GRAFEAS_URL", &format!("http://{}", server.addr))
        .env("GOOGLE_APPLICATION_CREDENTIALS", key.to_str().unwrap())
}

fn decode(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap()
}

#[test]
fn grafeas_notes_and_occurrences_verify_with_cosign_and_a_rerun_adds_none() {
    let server = Grafeas::start();
    let pod = Pod::new();
    pod.typical_results().chainlet_key("pw");
    let key = key_file(&pod, &server);
    ok(&attest(&pod, &server, &key).run());
    let pubkey = pod.path("secrets/cosign.pub");
    let statement = std::fs::read(pod.path(&format!("out/taskrun-{UID}/statement.json"))).unwrap();
    let st: Value = serde_json::from_slice(&statement).unwrap();
    let (notes, occurrences) = {
        let s = server.state.lock().unwrap();
        (s.notes.clone(), s.occurrences.clone())
    };
    assert_eq!(
        notes.keys().collect::<Vec<_>>(),
        ["tekton-ci-simplesigning", "tekton-ci-taskrun-intoto"]
    );
    assert_eq!(
        notes["tekton-ci-taskrun-intoto"]["build"]["builderVersion"],
        "tekton.dev/v1/TaskRun"
    );
    assert_eq!(
        notes["tekton-ci-simplesigning"]["attestation"]["hint"]["humanReadableName"],
        "This attestation note was generated by Tekton Chains"
    );
    let (att, build): (Vec<&Value>, Vec<&Value>) =
        occurrences.iter().partition(|o| o["kind"] == "ATTESTATION");
    assert_eq!(att.len(), 3, "one per image signature");
    assert_eq!(
        build.len(),
        st["subject"].as_array().unwrap().len(),
        "one per subject"
    );
    for (i, o) in att.iter().enumerate() {
        assert_eq!(
            o["envelope"]["payloadType"],
            "application/vnd.dev.cosign.simplesigning.v1+json"
        );
        let payload = pod.path(&format!("payload-{i}.json"));
        let sig = pod.path(&format!("sig-{i}"));
        std::fs::write(&payload, decode(&o["attestation"]["serializedPayload"])).unwrap();
        std::fs::write(
            &sig,
            decode(&o["attestation"]["signatures"][0]["signature"]),
        )
        .unwrap();
        let (verified, text) = cosign_verify_blob(&pubkey, &sig, &payload);
        assert!(verified, "{}: {text}", o["resourceUri"]);
    }
    for (i, o) in build.iter().enumerate() {
        assert_eq!(decode(&o["envelope"]["payload"]), statement);
        assert_eq!(o["build"]["intotoStatement"]["_type"], st["_type"]);
        let env = pod.path(&format!("env-{i}.json"));
        std::fs::write(&env, decode(&o["envelope"]["signatures"][0]["sig"])).unwrap();
        let (verified, text) = cosign_verify_attestation(&pubkey, &env, "slsaprovenance1");
        assert!(verified, "{}: {text}", o["resourceUri"]);
    }

    let again = attest(&pod, &server, &key).run();
    ok(&again);
    assert_eq!(
        server.state.lock().unwrap().occurrences.len(),
        occurrences.len(),
        "{}",
        stderr(&again)
    );
}

#[test]
fn a_refused_grafeas_preflight_leaves_every_backend_unwritten() {
    let server = Grafeas::start();
    server.state.lock().unwrap().deny = true;
    let pod = Pod::new();
    pod.typical_results().chainlet_key("pw");
    let key = key_file(&pod, &server);
    let out = attest(&pod, &server, &key).run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("storage grafeas") && err.contains("403"),
        "{err}"
    );
    assert!(!err.contains(TOKEN), "{err}");
    assert!(
        !pod.path("out").exists() || pod.written().is_empty(),
        "{:?}",
        pod.written()
    );
    let seen = server.state.lock().unwrap().seen.clone();
    assert!(
        seen.iter().all(|(m, p)| m == "GET" || p == "/token"),
        "only reads before the refusal: {seen:?}"
    );
}

#[test]
fn grafeas_needs_a_project() {
    let pod = Pod::new();
    pod.typical_results().chainlet_key("pw");
    let out = Attest::offline(&pod).storage("taskrun", "grafeas").run();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("storage.grafeas.projectid"),
        "{}",
        stderr(&out)
    );
}
