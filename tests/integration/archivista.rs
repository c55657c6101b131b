//! Storage `archivista` against a local Archivista-like server, since no Archivista can be had
//! here (its Go dependencies are not in Debian). The server implements the two calls Chains'
//! client makes and checks them as Archivista would: `POST /upload` (JSON body that decodes as
//! a go-witness DSSE envelope, gitoid = sha256 of "blob <len>\0" + body, its SQL index refusing
//! a gitoid twice with a 500) and `GET /download/<gitoid>` (the stored bytes, or a 500 as its
//! object store gives for a missing object); any other path is Go's "404 page not found".
//! What the test downloads is verified with cosign.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::common::http::{self, Answer};
use crate::common::*;

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Vec<u8>>,
    /// (method, path, content type)
    seen: Vec<(String, String, String)>,
    /// Upload answers to give before behaving: a status, and whether the upload is stored.
    faults: Vec<(u16, bool)>,
}

struct Archivista {
    addr: String,
    state: Arc<Mutex<State>>,
    _server: http::Server,
}

fn gitoid(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether go-witness' `json.Unmarshal` into `dsse.Envelope` would take the body: base64
/// payload and signatures, string payloadType and keyids.
fn is_envelope(body: &[u8]) -> bool {
    let std = base64::engine::general_purpose::STANDARD;
    let check = || -> Option<()> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        std.decode(v["payload"].as_str()?).ok()?;
        v["payloadType"].as_str()?;
        for s in v["signatures"].as_array()? {
            std.decode(s["sig"].as_str()?).ok()?;
            s["keyid"].as_str()?;
        }
        Some(())
    };
    check().is_some()
}

impl Archivista {
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

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn uploads(&self) -> usize {
        let s = self.state.lock().unwrap();
        s.seen.iter().filter(|(m, _, _)| m == "POST").count()
    }
}

fn answer(state: &Mutex<State>, r: http::Request) -> Answer {
    let mut s = state.lock().unwrap();
    let ct = r.headers.get("content-type").cloned().unwrap_or_default();
    s.seen
        .push((r.method.clone(), r.target.clone(), ct.clone()));
    let text = |code: u16, t: &str| {
        (
            code,
            "text/plain; charset=utf-8".into(),
            t.as_bytes().to_vec(),
        )
    };
    let path = r.target.split('?').next().unwrap_or("").to_owned();
    let path = path.strip_prefix("/v1").unwrap_or(&path);
    if path == "/upload" {
        if r.method != "POST" {
            return text(400, &format!("{} is an unsupported method\n", r.method));
        }
        if ct != "application/json" {
            return text(415, "want application/json\n");
        }
        if !is_envelope(&r.body) {
            return text(500, "json: cannot unmarshal the body into dsse.Envelope\n");
        }
        let id = gitoid(&r.body);
        if !s.faults.is_empty() {
            let (code, stored) = s.faults.remove(0);
            if stored {
                s.objects.insert(id.clone(), r.body.clone());
            }
            return text(code, "injected fault\n");
        }
        if s.objects.contains_key(&id) {
            return text(
                500,
                "ent: constraint failed: UNIQUE constraint failed: dsses.gitoid_sha256\n",
            );
        }
        s.objects.insert(id.clone(), r.body);
        return (
            200,
            "text/plain; charset=utf-8".into(),
            format!("{{\"gitoid\":\"{id}\"}}\n").into_bytes(),
        );
    }
    if let Some(id) = path.strip_prefix("/download/") {
        if r.method != "GET" {
            return text(400, &format!("{} is an unsupported method\n", r.method));
        }
        return match s.objects.get(id) {
            Some(bytes) => (200, "application/json".into(), bytes.clone()),
            None => text(
                500,
                &format!("open /tmp/archivista/{id}.json: no such file or directory\n"),
            ),
        };
    }
    text(404, "404 page not found\n")
}

fn download(server: &Archivista, id: &str) -> Vec<u8> {
    let s = server.state.lock().unwrap();
    s.objects.get(id).cloned().expect("stored")
}

/// A pod with a cosign key, and chainlet's attest command storing the TaskRun in `archivista`
/// and `file`, image signatures in `file`.
fn attest(pod: &Pod, url: &str, addr: &str) -> Attest {
    Attest::offline(pod)
        .storage("taskrun", "archivista,file")
        .set(&format!("storage.archivista.url={url}"))
        .flag("--insecure-registry", addr)
}

fn pod() -> Pod {
    let pod = Pod::new();
    pod.typical_results().chainlet_key("pw");
    pod
}

#[test]
fn the_envelope_archivista_stores_verifies_with_cosign_and_a_rerun_uploads_nothing() {
    let server = Archivista::start();
    let pod = pod();
    let out = attest(&pod, &format!("{}/", server.url()), &server.addr)
        .env("CHAINLET_LOG_LEVEL", "info")
        .run();
    let log = ok(&out);
    let ids: Vec<String> = server
        .state
        .lock()
        .unwrap()
        .objects
        .keys()
        .cloned()
        .collect();
    assert_eq!(ids.len(), 1, "one envelope: {ids:?}");
    let id = &ids[0];
    assert!(
        stderr(&out).contains(id.as_str()) || log.contains(id.as_str()),
        "the gitoid is logged:\n{}",
        stderr(&out)
    );
    {
        let s = server.state.lock().unwrap();
        let posts: Vec<_> = s.seen.iter().filter(|(m, _, _)| m == "POST").collect();
        assert_eq!(posts.len(), 1);
        assert_eq!(posts[0].1, "/upload");
        assert_eq!(posts[0].2, "application/json");
    }
    // What a user downloads verifies, and holds the statement chainlet signed.
    let stored = download(&server, id);
    assert!(stored.ends_with(b"}\n"), "Go's encoder ends with a newline");
    let path = pod.path("archivista-envelope.json");
    std::fs::write(&path, &stored).unwrap();
    let (verified, text) =
        cosign_verify_attestation(&pod.path("secrets/cosign.pub"), &path, "slsaprovenance1");
    assert!(
        verified,
        "cosign did not verify the downloaded envelope:\n{text}"
    );
    let env: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    let keys: Vec<&String> = env.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["payload", "payloadType", "signatures"]);
    let payload = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    let statement = std::fs::read(pod.path(&format!("out/taskrun-{UID}/statement.json"))).unwrap();
    assert_eq!(payload, statement);

    // A re-run finds the same envelope under the same gitoid and uploads nothing.
    let again = attest(&pod, &server.url(), &server.addr).run();
    ok(&again);
    assert_eq!(server.uploads(), 1, "{}", stderr(&again));
    assert_eq!(server.state.lock().unwrap().objects.len(), 1);
}

#[test]
fn a_failed_upload_is_retried_and_one_that_was_stored_is_not_sent_again() {
    let server = Archivista::start();
    server.state.lock().unwrap().faults = vec![(503, false), (500, true)];
    let pod = pod();
    let out = attest(&pod, &server.url(), &server.addr).run();
    ok(&out);
    assert_eq!(server.uploads(), 2, "{}", stderr(&out));
    assert_eq!(server.state.lock().unwrap().objects.len(), 1);
}

#[test]
fn a_refused_preflight_leaves_every_backend_unwritten() {
    let server = Archivista::start();
    let pod = pod();
    // Not an Archivista path: Go's router answers 404 page not found.
    let out = attest(
        &pod,
        &format!("{}/not-archivista", server.url()),
        &server.addr,
    )
    .run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("storage archivista") && err.contains("not-archivista"),
        "{err}"
    );
    assert_eq!(server.uploads(), 0);
    assert!(pod.written().is_empty(), "{:?}", pod.written());

    // Nothing listening: refused before anything is written, too.
    let gone = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let out = attest(&pod, &format!("http://{gone}"), &gone)
        .set(&format!("storage.archivista.url=http://{gone}"))
        .flag("--registry-timeout", "3")
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(pod.written().is_empty(), "{:?}", pod.written());
}

#[test]
fn archivista_refuses_image_signatures_and_a_missing_url_as_configuration() {
    let pod = pod();
    let url = "storage.archivista.url=https://archivista.example";
    let out = Attest::offline(&pod)
        .storage("oci", "archivista")
        .set(url)
        .run();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("artifacts.oci.storage"),
        "{}",
        stderr(&out)
    );
    let out = Attest::offline(&pod).storage("taskrun", "archivista").run();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("storage.archivista.url"),
        "{}",
        stderr(&out)
    );
}
