//! A stand-in for the Kubernetes API server, over HTTPS with a test CA, serving recorded
//! TaskRun objects: GET a TaskRun, and PATCH it with a JSON merge patch (RFC 7386) as the API
//! server does, including `dryRun=All` and the UID check (errors as Kubernetes `Status`
//! bodies). The tests use the real API server (`kubeapi`); this fake is only for a fault
//! the real one cannot produce on demand (a burst of 503s), and lends its service-account mount
//! to the test where nothing listens.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

pub const TOKEN: &str = "test-service-account-token";
pub const NAMESPACE: &str = "builds";

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

#[derive(Default)]
struct State {
    /// By `<resource>/<name>`.
    objects: BTreeMap<String, Value>,
    seen: Vec<Seen>,
    /// Answer this many next requests with 503 (an API server restarting).
    unavailable: usize,
}

pub struct ApiServer {
    pub port: u16,
    /// A service-account mount: token, ca.crt, namespace.
    pub sa_dir: PathBuf,
    state: Arc<Mutex<State>>,
}

impl ApiServer {
    pub fn start(dir: &Path) -> Self {
        let tls_dir = dir.join("apiserver-tls");
        std::fs::create_dir_all(&tls_dir).unwrap();
        let (ca, cert, key) = super::tls::make_tls(&tls_dir);
        let sa_dir = dir.join("serviceaccount");
        std::fs::create_dir_all(&sa_dir).unwrap();
        std::fs::copy(&ca, sa_dir.join("ca.crt")).unwrap();
        std::fs::write(sa_dir.join("token"), format!("{TOKEN}\n")).unwrap();
        std::fs::write(sa_dir.join("namespace"), NAMESPACE).unwrap();

        let config = super::tls::server_config(&cert, &key);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let config = config.clone();
                let state = shared.clone();
                std::thread::spawn(move || {
                    let conn = rustls::ServerConnection::new(config).unwrap();
                    let stream = rustls::StreamOwned::new(conn, tcp);
                    serve(stream, &state);
                });
            }
        });
        Self {
            port,
            sa_dir,
            state,
        }
    }

    /// Serves `object` as TaskRun `name` in the test namespace.
    pub fn add_taskrun(&self, name: &str, object: Value) {
        self.add("taskruns", name, object);
    }

    fn add(&self, resource: &str, name: &str, object: Value) {
        self.state
            .lock()
            .unwrap()
            .objects
            .insert(format!("{resource}/{name}"), object);
    }

    pub fn taskrun(&self, name: &str) -> Value {
        self.state.lock().unwrap().objects[&format!("taskruns/{name}")].clone()
    }

    /// The next `n` requests get 503 Service Unavailable.
    pub fn unavailable_for(&self, n: usize) {
        self.state.lock().unwrap().unavailable = n;
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

fn serve(stream: impl Read + Write, state: &Mutex<State>) {
    super::http::serve(stream, |r| {
        let (status, answer) = handle(state, &r.method, &r.target, &r.headers, r.body);
        let body = serde_json::to_vec(&answer).unwrap();
        (status, "application/json".into(), body)
    });
}

fn status(code: u16, reason: &str, message: String) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

fn handle(
    state: &Mutex<State>,
    method: &str,
    target: &str,
    headers: &BTreeMap<String, String>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut st = state.lock().unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    st.seen.push(Seen {
        method: method.to_owned(),
        path: target.to_owned(),
        content_type: headers.get("content-type").cloned().unwrap_or_default(),
        body: body.clone(),
    });
    if st.unavailable > 0 {
        st.unavailable -= 1;
        return status(503, "ServiceUnavailable", "the server is restarting".into());
    }
    if headers.get("authorization").map(String::as_str) != Some(&format!("Bearer {TOKEN}")) {
        return status(401, "Unauthorized", "Unauthorized".into());
    }
    let prefix = format!("/apis/tekton.dev/v1/namespaces/{NAMESPACE}/");
    let Some((resource, name)) = path
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split_once('/'))
    else {
        return status(404, "NotFound", format!("the server could not find {path}"));
    };
    let key = format!("{resource}/{name}");
    let verb = match method {
        "GET" => "get",
        "PATCH" => "patch",
        _ => return status(405, "MethodNotAllowed", method.into()),
    };
    let Some(current) = st.objects.get(&key).cloned() else {
        return status(
            404,
            "NotFound",
            format!("{resource}.tekton.dev \"{name}\" not found"),
        );
    };
    if verb == "get" {
        return (200, current);
    }
    if headers.get("content-type").map(String::as_str) != Some("application/merge-patch+json") {
        return status(415, "UnsupportedMediaType", "expected a merge patch".into());
    }
    let Ok(patch) = serde_json::from_slice::<Value>(&body) else {
        return status(400, "BadRequest", "the patch is not JSON".into());
    };
    if let Some(uid) = patch.pointer("/metadata/uid")
        && Some(uid) != current.pointer("/metadata/uid")
    {
        // As the real API server answers it: the UID is immutable.
        return status(
            422,
            "Invalid",
            format!(
                "TaskRun.tekton.dev \"{name}\" is invalid: metadata.uid: Invalid value: {uid}: field is immutable"
            ),
        );
    }
    let mut updated = current;
    merge(&mut updated, &patch);
    if !query.split('&').any(|q| q == "dryRun=All") {
        st.objects.insert(key, updated.clone());
    }
    (200, updated)
}

/// RFC 7386.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let t = target.as_object_mut().unwrap();
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}
