//! The real Kubernetes API server for custom resources: `apiextensions-apiserver` on its own
//! `etcd`, serving Tekton's TaskRun and PipelineRun CRDs (`tests/data/tekton-crds.json`) on
//! 127.0.0.1 with real merge patches, dry runs, UID checks and resource versions.
//!
//! One server for the test binary (every integration test), started by the first test that
//! asks ([`KubeApi::start`]) and stopped when the binary exits; each test gets its own namespace
//! (the server has no core/v1, so with the NamespaceLifecycle admission plugin off a namespace
//! needs no object) and its own
//! **authenticating front proxy**. chainlet talks to the proxy as a pod talks to its API server:
//! HTTPS with the test CA, the service account's bearer token. The proxy answers a wrong or
//! missing token with 401, lets through what a namespaced Role would (`get` and `patch` on
//! `taskruns` and `pipelineruns` in the test's namespace, minus what [`KubeApi::deny`] took away;
//! anything else is 403 as RBAC words it) and forwards the rest to the API server with a client
//! certificate in group `system:masters`. The proxy records what chainlet sent ([`Seen`]).
//!
//! The binaries: `CHAINLET_APISERVER` (default `/usr/local/lib/chainlet/bin/apiextensions-apiserver`,
//! else `$CHAINLET_SERVERS/apiextensions-apiserver`, default `../shared/servers`) and
//! `CHAINLET_ETCD` (default `/usr/local/lib/chainlet/bin/etcd`, else `etcd` on PATH), as
//! `scripts/setup-apiserver` installs them. Missing: the test prints `SKIPPED:` and passes, except
//! under `CI=true`, where it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use super::apiserver::Seen;
use super::registry::free_port;

const DEFAULT_BIN: &str = "/usr/local/lib/chainlet/bin";

/// The shared API server of this test binary.
struct Server {
    /// `https://127.0.0.1:<port>`.
    base: String,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    /// Authenticated with the `system:masters` client certificate.
    agent: ureq::Agent,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
/// etcd's and the API server's process ids and the data dir, for the exit handler.
static CHILDREN: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static DATA_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);
static NEXT_NAMESPACE: AtomicUsize = AtomicUsize::new(0);

fn binary(var: &str, default: PathBuf, fallback: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(var) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("{var}={} does not exist", p.display()))
        };
    }
    if default.is_file() {
        return Ok(default);
    }
    match fallback {
        Some(f) if f.is_file() => Ok(f),
        _ => Err(format!(
            "{} not found (run scripts/setup-apiserver, or set {var})",
            default.display()
        )),
    }
}

fn binaries() -> Result<(PathBuf, PathBuf), String> {
    let servers = std::env::var_os("CHAINLET_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/servers"));
    let apiserver = binary(
        "CHAINLET_APISERVER",
        Path::new(DEFAULT_BIN).join("apiextensions-apiserver"),
        Some(servers.join("apiextensions-apiserver")),
    )?;
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("etcd"))
            .find(|p| p.is_file())
    });
    let etcd = binary(
        "CHAINLET_ETCD",
        Path::new(DEFAULT_BIN).join("etcd"),
        on_path,
    )?;
    Ok((apiserver, etcd))
}

extern "C" fn stop_servers() {
    if let Ok(children) = CHILDREN.lock() {
        for &pid in children.iter() {
            // SAFETY: plain syscalls on process ids this binary started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
    if let Ok(dir) = DATA_DIR.lock()
        && let Some(dir) = dir.as_ref()
    {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Spawns `cmd` from a thread that lives as long as the test binary, with the kernel told to
/// kill the child when that thread (so the binary) dies, however it dies.
fn spawn_for_life(mut cmd: Command) -> Result<i32, String> {
    static SPAWNER: OnceLock<Mutex<std::sync::mpsc::Sender<Job>>> = OnceLock::new();
    type Job = (Command, std::sync::mpsc::Sender<Result<i32, String>>);
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("kubeapi-spawner".into())
            .spawn(move || {
                // Children stay here unwaited: the exit handler reaps them.
                let mut children = Vec::new();
                for (mut cmd, reply) in rx {
                    let name = format!("{:?}", cmd.get_program());
                    // SAFETY: prctl is async-signal-safe.
                    unsafe {
                        cmd.pre_exec(|| {
                            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                            Ok(())
                        });
                    }
                    let result = cmd.spawn().map_err(|e| format!("{name}: {e}"));
                    let _ = reply.send(
                        result
                            .as_ref()
                            .map(|c| c.id() as i32)
                            .map_err(String::clone),
                    );
                    if let Ok(child) = result {
                        children.push(child);
                    }
                }
                // The sender lives in a static: this loop never ends; park to be sure.
                loop {
                    std::thread::park();
                }
            })
            .unwrap();
        Mutex::new(tx)
    });
    cmd.stdin(Stdio::null());
    let (reply_tx, reply_rx) = std::sync::mpsc::channel();
    tx.lock().unwrap().send((cmd, reply_tx)).unwrap();
    let pid = reply_rx.recv().unwrap()?;
    CHILDREN.lock().unwrap().push(pid);
    Ok(pid)
}

fn alive(pid: i32) -> bool {
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG on our own child.
    unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) == 0 }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// An agent trusting only `ca`, with `client` (cert, key) when given.
pub fn agent(ca: &Path, client: Option<(&Path, &Path)>) -> ureq::Agent {
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};
    let root = Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(provider)
        .root_certs(RootCerts::Specific(Arc::new(vec![root])));
    if let Some((cert, key)) = client {
        let cert = Certificate::from_pem(&std::fs::read(cert).unwrap()).unwrap();
        let key = PrivateKey::from_pem(&std::fs::read(key).unwrap()).unwrap();
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
    }
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls.build())
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

impl Server {
    fn start() -> Result<Server, String> {
        let t0 = Instant::now();
        let (apiserver, etcd) = binaries()?;
        let dir = tempfile::Builder::new()
            .prefix("chainlet-kubeapi-")
            .tempdir()
            .unwrap()
            .keep();
        *DATA_DIR.lock().unwrap() = Some(dir.clone());
        // SAFETY: registers a plain extern "C" function.
        unsafe { libc::atexit(stop_servers) };

        // One CA for everything: the API server's and the proxy's serving certificate (for
        // 127.0.0.1) and the proxy's client certificate in group system:masters.
        let (ca, cert, key) = super::tls::make_tls(&dir);
        let (client_crt, client_key) = super::tls::signed_by_ca(
            &dir,
            "client",
            "/O=system:masters/CN=chainlet-test-proxy",
            "extendedKeyUsage=clientAuth\n",
        );
        // Without a kubeconfig the server wants in-cluster configuration; this one points
        // nowhere (the delegated authentication and authorization are never asked: client
        // certificates in system:masters need neither).
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            "apiVersion: v1\nkind: Config\nclusters: [{name: none, cluster: {server: \"https://127.0.0.1:1\"}}]\n\
             users: [{name: none, user: {}}]\ncontexts: [{name: none, context: {cluster: none, user: none}}]\n\
             current-context: none\n",
        )
        .unwrap();

        let (client_port, peer_port) = (free_port(), free_port());
        let client_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let etcd_log = dir.join("etcd.log");
        let mut cmd = Command::new(&etcd);
        cmd.args(["--name", "chainlet-tests", "--data-dir"])
            .arg(dir.join("etcd"))
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("chainlet-tests={peer_url}")])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&etcd_log).unwrap());
        let etcd_pid = spawn_for_life(cmd)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", client_port)).is_err() {
            if !alive(etcd_pid) || Instant::now() > deadline {
                return Err(format!("etcd did not start:\n{}", log_tail(&etcd_log)));
            }
            std::thread::sleep(Duration::from_millis(20));
        }

        let port = free_port();
        let api_log = dir.join("apiserver.log");
        let kc = kubeconfig.display().to_string();
        let mut cmd = Command::new(&apiserver);
        cmd.arg(format!("--etcd-servers={client_url}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={port}"))
            .arg(format!("--cert-dir={}", dir.join("certs").display()))
            .arg(format!("--tls-cert-file={}", cert.display()))
            .arg(format!("--tls-private-key-file={}", key.display()))
            .arg(format!("--client-ca-file={}", ca.display()))
            .arg(format!("--kubeconfig={kc}"))
            .arg(format!("--authentication-kubeconfig={kc}"))
            .arg(format!("--authorization-kubeconfig={kc}"))
            .arg("--authentication-skip-lookup")
            .arg(
                "--disable-admission-plugins=NamespaceLifecycle,MutatingAdmissionWebhook,\
                 ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,MutatingAdmissionPolicy",
            )
            .arg("--enable-priority-and-fairness=false")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&api_log).unwrap());
        let api_pid = spawn_for_life(cmd)?;
        let agent = agent(&ca, Some((&client_crt, &client_key)));
        let base = format!("https://127.0.0.1:{port}");
        let server = Server {
            base,
            ca,
            cert,
            key,
            agent,
        };
        // Ready but for `informer-sync`: the informers of the kubeconfig's (absent) core server
        // never sync, and nothing here needs them.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = server.call("GET", "/readyz?exclude=informer-sync", None) {
                break;
            }
            if !alive(api_pid) || Instant::now() > deadline {
                return Err(format!(
                    "apiextensions-apiserver did not become ready:\n{}",
                    log_tail(&api_log)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let t_ready = t0.elapsed();
        server.apply_crds()?;
        eprintln!(
            "kubeapi: etcd + apiextensions-apiserver ready in {t_ready:.1?}, Tekton's CRDs established after {:.1?} ({})",
            t0.elapsed(),
            dir.display()
        );
        Ok(server)
    }

    /// POSTs the CRDs and waits until each is Established and its resource answers.
    fn apply_crds(&self) -> Result<(), String> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tekton-crds.json");
        let list: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let items = list["items"].as_array().unwrap();
        for crd in items {
            let (status, body) = self.call(
                "POST",
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                Some(crd),
            )?;
            if status != 201 {
                return Err(format!(
                    "creating CRD {}: {status} {body}",
                    crd["metadata"]["name"]
                ));
            }
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for crd in items {
            let name = crd["metadata"]["name"].as_str().unwrap();
            let plural = crd["spec"]["names"]["plural"].as_str().unwrap();
            loop {
                let (_, got) = self.call(
                    "GET",
                    &format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"),
                    None,
                )?;
                let established = got["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Established" && c["status"] == "True");
                let serving = established
                    && self
                        .call("GET", &format!("/apis/tekton.dev/v1/{plural}"), None)?
                        .0
                        == 200;
                if serving {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(format!("CRD {name} not established: {got}"));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// One request as cluster admin: (status, JSON body or `null`).
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value), String> {
        self.call_as(method, path, body, "application/json")
    }

    fn call_as(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        content_type: &str,
    ) -> Result<(u16, Value), String> {
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Accept", "application/json");
        let result = match body {
            Some(b) => self.agent.run(
                req.header("Content-Type", content_type)
                    .body(serde_json::to_vec(b).unwrap())
                    .unwrap(),
            ),
            None => self.agent.run(req.body(()).unwrap()),
        };
        let mut resp = result.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{method} {path}: {e}"))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

fn shared() -> Option<&'static Server> {
    let server = SERVER.get_or_init(|| {
        binaries()?;
        match Server::start() {
            Ok(s) => Ok(s),
            Err(e) => panic!("the Kubernetes API server did not start: {e}"),
        }
    });
    match server {
        Ok(s) => Some(s),
        Err(why) => {
            super::skipped(&format!("no Kubernetes API server: {why}"));
            None
        }
    }
}

#[derive(Default)]
struct ProxyState {
    seen: Vec<Seen>,
    denied: BTreeSet<String>,
    /// Replace this object (resource, new object) before forwarding the next PATCH.
    replace_before_patch: Option<(&'static str, Value)>,
}

/// One test's view of the shared API server: its namespace, and the front proxy chainlet
/// talks to with the service-account token.
pub struct KubeApi {
    pub namespace: String,
    /// The proxy's port on 127.0.0.1.
    pub port: u16,
    /// A service-account mount for the proxy: token, ca.crt, namespace.
    pub sa_dir: PathBuf,
    server: &'static Server,
    objects: Objects,
    state: Arc<Mutex<ProxyState>>,
    stop: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl KubeApi {
    /// The test's namespace and proxy, or `None` (after a `SKIPPED:` line) when the servers
    /// are not installed outside CI.
    pub fn start() -> Option<KubeApi> {
        let server = shared()?;
        let n = NEXT_NAMESPACE.fetch_add(1, Ordering::SeqCst);
        let namespace = format!("builds-{n}");
        let token = format!("sa-token-{}-{namespace}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        let sa_dir = dir.path().join("serviceaccount");
        std::fs::create_dir_all(&sa_dir).unwrap();
        std::fs::copy(&server.ca, sa_dir.join("ca.crt")).unwrap();
        std::fs::write(sa_dir.join("token"), format!("{token}\n")).unwrap();
        std::fs::write(sa_dir.join("namespace"), &namespace).unwrap();

        let tls = super::tls::server_config(&server.cert, &server.key);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let objects = Objects {
            server,
            namespace: namespace.clone(),
        };
        let proxy = Proxy {
            server,
            objects: objects.clone(),
            namespace: namespace.clone(),
            token,
            state: state.clone(),
        };
        let proxy = Arc::new(proxy);
        let stopping = stop.clone();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let tls = tls.clone();
                let proxy = proxy.clone();
                std::thread::spawn(move || {
                    let conn = rustls::ServerConnection::new(tls).unwrap();
                    proxy.serve(rustls::StreamOwned::new(conn, tcp));
                });
            }
        });
        Some(KubeApi {
            namespace,
            port,
            sa_dir,
            server,
            objects,
            state,
            stop,
            _dir: dir,
        })
    }

    /// What chainlet sent to the proxy, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Takes a verb away from the service account's Role: "get" or "patch", or "get
    /// pipelineruns" for one resource.
    pub fn deny(&self, verb: &str) {
        self.state.lock().unwrap().denied.insert(verb.to_owned());
    }

    fn create(&self, resource: &str, object: Value) -> Value {
        self.objects.create(resource, object)
    }

    fn put_status(&self, resource: &str, name: &str, status: Value) -> Value {
        self.objects.put_status(resource, name, status)
    }

    fn get(&self, resource: &str, name: &str) -> Value {
        self.objects.get(resource, name)
    }

    /// Just before chainlet's first PATCH reaches the API server, the TaskRun is deleted and
    /// `object` created under the same name (a new UID): the race the UID precondition is for.
    pub fn replace_taskrun_before_patch(&self, object: Value) {
        self.state.lock().unwrap().replace_before_patch = Some(("taskruns", object));
    }

    /// Creates a TaskRun (see [`KubeApi::create`]); returns its UID.
    pub fn create_taskrun(&self, object: Value) -> String {
        uid(&self.create("taskruns", object))
    }

    /// Creates a PipelineRun (see [`KubeApi::create`]); returns its UID.
    pub fn create_pipelinerun(&self, object: Value) -> String {
        uid(&self.create("pipelineruns", object))
    }

    pub fn set_taskrun_status(&self, name: &str, status: Value) {
        self.put_status("taskruns", name, status);
    }

    /// The TaskRun as the API server has it now.
    pub fn taskrun(&self, name: &str) -> Value {
        self.get("taskruns", name)
    }

    pub fn pipelinerun(&self, name: &str) -> Value {
        self.get("pipelineruns", name)
    }

    /// Every change to the object after `resource_version`, as the API server's watch reports
    /// it (a dry run changes nothing, so it reports nothing). Waits `wait` for more.
    pub fn changes_since(
        &self,
        resource: &str,
        name: &str,
        resource_version: &str,
        wait: Duration,
    ) -> Vec<Value> {
        let path = format!(
            "/apis/tekton.dev/v1/namespaces/{}/{resource}?watch=1&fieldSelector=metadata.name%3D{name}&resourceVersion={resource_version}&timeoutSeconds={}",
            self.namespace,
            wait.as_secs().max(1)
        );
        let req = ureq::http::Request::builder()
            .method("GET")
            .uri(format!("{}{path}", self.server.base))
            .body(())
            .unwrap();
        let mut resp = self.server.agent.run(req).unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let text = resp.body_mut().read_to_string().unwrap();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// What chainlet needs of an API server in a test: where it listens, the service-account
/// mount and the namespace, which make a pod's environment. The real one ([`KubeApi`]) and the
/// fake ([`super::apiserver::ApiServer`]) both have it.
pub trait PodApi {
    /// The port on 127.0.0.1.
    fn port(&self) -> u16;
    /// The service-account mount: token, ca.crt, namespace.
    fn sa_dir(&self) -> &Path;
    fn namespace(&self) -> &str;

    /// The environment a pod would have, for chainlet.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("KUBERNETES_SERVICE_HOST", "127.0.0.1".to_owned()),
            ("KUBERNETES_SERVICE_PORT", self.port().to_string()),
            (
                "CHAINLET_SERVICEACCOUNT_DIR",
                self.sa_dir().display().to_string(),
            ),
        ]
    }
}

impl PodApi for KubeApi {
    fn port(&self) -> u16 {
        self.port
    }
    fn sa_dir(&self) -> &Path {
        &self.sa_dir
    }
    fn namespace(&self) -> &str {
        &self.namespace
    }
}

impl PodApi for super::apiserver::ApiServer {
    fn port(&self) -> u16 {
        self.port
    }
    fn sa_dir(&self) -> &Path {
        &self.sa_dir
    }
    fn namespace(&self) -> &str {
        super::apiserver::NAMESPACE
    }
}

pub fn uid(object: &Value) -> String {
    object["metadata"]["uid"].as_str().unwrap().to_owned()
}

pub fn resource_version(object: &Value) -> String {
    object["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// One namespace's objects, read and written as cluster admin (not through the proxy).
#[derive(Clone)]
struct Objects {
    server: &'static Server,
    namespace: String,
}

impl Objects {
    fn path(&self, resource: &str, name: &str) -> String {
        format!(
            "/apis/tekton.dev/v1/namespaces/{}/{resource}/{name}",
            self.namespace
        )
    }

    /// Creates a run as Tekton does: the object (the API server ignores a status sent with
    /// it, and assigns UID, resourceVersion and creationTimestamp), then its status through
    /// the `/status` subresource. Returns the object as the server now has it.
    fn create(&self, resource: &str, mut object: Value) -> Value {
        let status = object.as_object_mut().unwrap().remove("status");
        let meta = object["metadata"].as_object_mut().unwrap();
        for server_owned in ["uid", "resourceVersion", "creationTimestamp", "generation"] {
            meta.remove(server_owned);
        }
        meta.insert("namespace".into(), self.namespace.clone().into());
        let name = meta["name"].as_str().unwrap().to_owned();
        let (code, created) = self
            .server
            .call(
                "POST",
                &format!(
                    "/apis/tekton.dev/v1/namespaces/{}/{resource}",
                    self.namespace
                ),
                Some(&object),
            )
            .unwrap();
        assert_eq!(code, 201, "creating {resource}/{name}: {created}");
        match status {
            Some(status) => self.put_status(resource, &name, status),
            None => created,
        }
    }

    /// Replaces the run's status as Tekton's controller does (an update of `/status`).
    fn put_status(&self, resource: &str, name: &str, status: Value) -> Value {
        let mut current = self.get(resource, name);
        current["status"] = status;
        let (code, updated) = self
            .server
            .call(
                "PUT",
                &format!("{}/status", self.path(resource, name)),
                Some(&current),
            )
            .unwrap();
        assert_eq!(code, 200, "updating {resource}/{name} status: {updated}");
        updated
    }

    fn get(&self, resource: &str, name: &str) -> Value {
        let (code, object) = self
            .server
            .call("GET", &self.path(resource, name), None)
            .unwrap();
        assert_eq!(code, 200, "reading {resource}/{name}: {object}");
        object
    }

    fn delete(&self, resource: &str, name: &str) {
        let (code, answer) = self
            .server
            .call("DELETE", &self.path(resource, name), None)
            .unwrap();
        assert_eq!(code, 200, "deleting {resource}/{name}: {answer}");
    }
}

/// The authenticating front proxy of one test.
struct Proxy {
    server: &'static Server,
    objects: Objects,
    namespace: String,
    token: String,
    state: Arc<Mutex<ProxyState>>,
}

fn status(code: u16, reason: &str, message: String, details: Value) -> (u16, String, Vec<u8>) {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": message, "reason": reason, "details": details, "code": code});
    (
        code,
        "application/json".into(),
        serde_json::to_vec(&body).unwrap(),
    )
}

impl Proxy {
    fn serve(&self, stream: impl Read + Write) {
        super::http::serve(stream, |r| {
            self.handle(&r.method, &r.target, &r.headers, r.body)
        });
    }

    fn handle(
        &self,
        method: &str,
        target: &str,
        headers: &BTreeMap<String, String>,
        body: Vec<u8>,
    ) -> (u16, String, Vec<u8>) {
        let content_type = headers.get("content-type").cloned().unwrap_or_default();
        let (denied, replace) = {
            let mut st = self.state.lock().unwrap();
            st.seen.push(Seen {
                method: method.to_owned(),
                path: target.to_owned(),
                content_type: content_type.clone(),
                body: body.clone(),
            });
            let replace = if method == "PATCH" {
                st.replace_before_patch.take()
            } else {
                None
            };
            (st.denied.clone(), replace)
        };
        if headers.get("authorization") != Some(&format!("Bearer {}", self.token)) {
            return status(401, "Unauthorized", "Unauthorized".into(), json!({}));
        }
        let user = format!("system:serviceaccount:{}:default", self.namespace);
        let path = target.split_once('?').map_or(target, |(p, _)| p);
        let verb = match method {
            "GET" => "get",
            "PATCH" => "patch",
            "PUT" => "update",
            "POST" => "create",
            "DELETE" => "delete",
            _ => "unknown",
        };
        // What a Role allowing get and patch on taskruns and pipelineruns in the namespace lets
        // through (both served versions).
        let prefix_v1 = format!("/apis/tekton.dev/v1/namespaces/{}/", self.namespace);
        let prefix_v1beta1 = format!("/apis/tekton.dev/v1beta1/namespaces/{}/", self.namespace);
        let rest = path
            .strip_prefix(&prefix_v1)
            .or_else(|| path.strip_prefix(&prefix_v1beta1));
        let Some((resource, name)) = rest.and_then(|r| r.split_once('/')) else {
            return status(
                403,
                "Forbidden",
                format!("forbidden: User \"{user}\" cannot {verb} path \"{path}\""),
                json!({}),
            );
        };
        let allowed = matches!(resource, "taskruns" | "pipelineruns")
            && !name.contains('/')
            && matches!(verb, "get" | "patch")
            && !denied.contains(verb)
            && !denied.contains(&format!("{verb} {resource}"));
        if !allowed {
            return status(
                403,
                "Forbidden",
                format!(
                    "{resource}.tekton.dev \"{name}\" is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"tekton.dev\" in the namespace \"{}\"",
                    self.namespace
                ),
                json!({"name": name, "group": "tekton.dev", "kind": resource}),
            );
        }
        if let Some((resource, object)) = replace {
            let name = object["metadata"]["name"].as_str().unwrap().to_owned();
            self.objects.delete(resource, &name);
            self.objects.create(resource, object);
        }
        self.forward(method, target, headers, body)
    }

    fn forward(
        &self,
        method: &str,
        target: &str,
        headers: &BTreeMap<String, String>,
        body: Vec<u8>,
    ) -> (u16, String, Vec<u8>) {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{target}", self.server.base));
        for h in ["accept", "content-type"] {
            if let Some(v) = headers.get(h) {
                req = req.header(h, v);
            }
        }
        let agent = &self.server.agent;
        let result = if body.is_empty() && method == "GET" {
            agent.run(req.body(()).unwrap())
        } else {
            agent.run(req.body(body).unwrap())
        };
        match result {
            Ok(mut resp) => {
                let code = resp.status().as_u16();
                let content_type = resp
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/json")
                    .to_owned();
                let answer = resp.body_mut().read_to_vec().unwrap_or_default();
                (code, content_type, answer)
            }
            Err(e) => status(502, "BadGateway", format!("proxy: {e}"), json!({})),
        }
    }
}
