//! Sigstore servers and clients for the tests, each on a free 127.0.0.1 port, started by the test
//! that needs it and stopped (kill + wait) when dropped:
//!
//! - [`RekorV2`]: the real Rekor v2 (`rekor-server-posix` from rekor-tiles), a tile log on disk
//!   with a P-256 signer key made by openssl. It takes `POST /api/v2/log/entries`
//!   (hashedrekord only in 2.3.0) and answers with the entry and its inclusion proof once the
//!   next checkpoint is published (`--checkpoint-interval 1s`: about 0.7 s an entry). It serves
//!   no reads (`GET /api/v2/checkpoint` is 501): a client reads the log as tlog-tiles files under
//!   the storage dir, which [`RekorV2::tiles_url`] serves as they lie: `<tiles>/checkpoint` (the
//!   signed note: origin, tree size, root hash, signature line `— <origin> <key hint + sig>`),
//!   `<tiles>/tile/<level>/<index>` and `<tiles>/tile/entries/<index>`, a partial tile of width W
//!   as `<index>.p/<W>` (index in the `x001/x234/067` form of the spec). The checkpoint origin
//!   is `--hostname`, here `127.0.0.1`: sigstore-go checks a v2 checkpoint against the
//!   *hostname* of the trusted root's `baseUrl`, so with `baseUrl` = [`RekorV2::url`] the two
//!   agree.
//! - [`Tsa`]: the real Sigstore timestamp authority (`timestamp-server`, RFC 3161), in-memory
//!   signer; its chain from `GET /api/v1/timestamp/certchain`. The server also binds its
//!   metrics on `:2112`, fixed in its code, so only one can run on the machine: a [`Tsa`] holds a
//!   lock for this test binary and waits (up to a minute) for another process's to go.
//! - [`RekorV1Mock`]: `tests/support/sigstore-mock/server.mjs`, npm's `@sigstore/mock` handlers
//!   behind node:http (no real Rekor v1 or Fulcio can be had here): real SETs, a log memory (409
//!   with `Location` for a duplicate, reads by uuid and logIndex), every body posted
//!   ([`RekorV1Mock::posted`]) and a fault switch ([`RekorV1Mock::set_fault`]). It also serves
//!   the mock's Fulcio (`/api/v2/signingCert`) and TSA.
//!
//! Start-up, measured on this 2-core machine: rekor-server-posix 35-200 ms (until its port
//! answers and the first checkpoint is on disk), timestamp-server about 50 ms, the mock 350-600 ms
//! (Node and the mock's CA); a cosign 3.1 `sign-blob` through Rekor v2 and the TSA about 1.5 s
//! (the log answers at its next checkpoint).
//!
//! [`trusted_root`] and [`signing_config`] write the JSON that cosign 3 (`--trusted-root`,
//! `--signing-config`) and sigstore-go (`-trustedrootJSONpath`) take for these servers. Log ids,
//! v1 and v2 alike: `logId.keyId` = base64 of SHA-256 over the log key's DER
//! SubjectPublicKeyInfo (what rekor-tiles puts in an entry's `logId` for an ECDSA key, and what
//! sigstore-go looks a log up by; the trusted root v0.1 has no `checkpointKeyId`).
//!
//! The binaries: `CHAINLET_REKOR_SERVER`, `CHAINLET_TIMESTAMP_SERVER`, `CHAINLET_COSIGN3`,
//! `CHAINLET_SIGSTORE_GO_VERIFY`, `CHAINLET_ORAS`, `CHAINLET_REKOR_CLI`, else the name in
//! `$CHAINLET_SERVER_BIN` (default `/usr/local/lib/chainlet/bin`), as `scripts/setup-sigstore`
//! installs them (the two servers also from `$CHAINLET_SERVERS`, default `../shared/servers`);
//! the mock: `CHAINLET_NODE` (default `node`) and `CHAINLET_SIGSTORE_MOCK` (default
//! `/opt/chainlet-sigstore-mock`). Missing: [`skipped`], which fails under `CI=true`.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use super::registry::free_port;
use super::skipped;

const DEFAULT_BIN: &str = "/usr/local/lib/chainlet/bin";
/// `validFor.start` of every key and service here: before any test ran.
const VALID_FROM: &str = "2020-01-01T00:00:00Z";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn bin_dir() -> PathBuf {
    std::env::var_os("CHAINLET_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_BIN))
}

/// `$var` if set (it must exist), else `name` in the install dir, else (servers) the prebuilt
/// copy in `$CHAINLET_SERVERS`. `Err` says what is missing and how to get it.
fn find(var: &str, name: &str) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(var) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("{var}={} does not exist", p.display()))
        };
    }
    let installed = bin_dir().join(name);
    if installed.is_file() {
        return Ok(installed);
    }
    let servers = std::env::var_os("CHAINLET_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/servers"));
    let prebuilt = servers.join(name);
    if prebuilt.is_file() {
        return Ok(prebuilt);
    }
    Err(format!(
        "{} not found (run scripts/setup-sigstore, or set {var})",
        installed.display()
    ))
}

fn find_or_skip(var: &str, name: &str) -> Option<PathBuf> {
    find(var, name).map_err(|why| skipped(&why)).ok()
}

/// An HTTP answer: status, headers (lower-case names), body.
pub type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// A plain-HTTP exchange (a body is sent as JSON). `Err` when nothing answered in `timeout`.
pub fn http(
    method: &str,
    url: &str,
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<Reply, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .new_agent();
    let req = ureq::http::Request::builder().method(method).uri(url);
    let result = match body {
        Some(b) => agent.run(
            req.header("Content-Type", "application/json")
                .body(b.to_vec())
                .unwrap(),
        ),
        None => agent.run(req.body(()).unwrap()),
    };
    let mut resp = result.map_err(|e| format!("{method} {url}: {e}"))?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .map_err(|e| format!("{method} {url}: {e}"))?;
    Ok((status, headers, bytes))
}

fn get(url: &str) -> Result<(u16, Vec<u8>), String> {
    http("GET", url, None, Duration::from_secs(10)).map(|(s, _, b)| (s, b))
}

/// The DER of the first PEM block in `pem`.
fn pem_der(pem: &str) -> Vec<u8> {
    let (_, der) = pem_rfc7468::decode_vec(first_pem(pem).as_bytes()).expect("PEM");
    der
}

fn first_pem(pem: &str) -> &str {
    let start = pem.find("-----BEGIN").expect("a PEM block");
    let end_marker = pem[start..].find("-----END").expect("a PEM end") + start;
    let end = pem[end_marker + 8..].find("-----").expect("a PEM end") + end_marker + 13;
    &pem[start..end]
}

/// Every PEM block's DER, in order.
fn pem_chain_der(pem: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = pem;
    while rest.contains("-----BEGIN") {
        let block = first_pem(rest);
        out.push(pem_der(block));
        let at = rest.find(block).unwrap() + block.len();
        rest = &rest[at..];
    }
    out
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A transparency log as a trusted root and a signing config name it.
pub trait Tlog {
    /// Where clients send entries (signing config `url`), and the trusted root's `baseUrl`.
    fn url(&self) -> String;
    fn public_key_der(&self) -> Vec<u8>;
    /// The signing config's `majorApiVersion`: 1 or 2.
    fn major_api_version(&self) -> u32;
}

/// A timestamp authority as a trusted root and a signing config name it.
pub trait TimestampAuthority {
    /// The base URL; clients post RFC 3161 requests to `<url>/api/v1/timestamp`.
    fn url(&self) -> String;
    fn cert_chain_pem(&self) -> String;
}

/// A log known only by its URL and key: e.g. a trusted root with another key than the log's.
pub struct LogKey {
    pub url: String,
    pub der: Vec<u8>,
    pub major_api_version: u32,
}

impl Tlog for LogKey {
    fn url(&self) -> String {
        self.url.clone()
    }
    fn public_key_der(&self) -> Vec<u8> {
        self.der.clone()
    }
    fn major_api_version(&self) -> u32 {
        self.major_api_version
    }
}

/// `logId.keyId` of a log with this DER key: SHA-256 of the SubjectPublicKeyInfo, base64.
pub fn log_id(der: &[u8]) -> String {
    B64.encode(sha2::Sha256::digest(der))
}

/// A fresh P-256 key pair made by openssl in `dir`: (PKCS#8 PEM private key path, DER public key).
pub fn p256_key(dir: &Path, name: &str) -> (PathBuf, Vec<u8>) {
    let key = dir.join(format!("{name}.pem"));
    let der = dir.join(format!("{name}.pub.der"));
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        key.to_str().unwrap(),
    ]);
    run(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]);
    (key, std::fs::read(der).unwrap())
}

/// The real Rekor v2 (rekor-server-posix) on 127.0.0.1, stopped on drop.
pub struct RekorV2 {
    child: Child,
    port: u16,
    key_der: Vec<u8>,
    dir: tempfile::TempDir,
    tiles: super::http::Server,
}

impl RekorV2 {
    const ORIGIN: &'static str = "127.0.0.1";

    /// `None` (after [`skipped`]) when the binary is missing.
    pub fn start() -> Option<Self> {
        let bin = find_or_skip("CHAINLET_REKOR_SERVER", "rekor-server-posix")?;
        let t0 = Instant::now();
        let dir = tempfile::tempdir().unwrap();
        let (key, key_der) = p256_key(dir.path(), "signer");
        let storage = dir.path().join("log");
        std::fs::create_dir(&storage).unwrap();
        let (port, grpc, metrics) = (free_port(), free_port(), free_port());
        let log = dir.path().join("rekor.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(&bin)
            .arg("serve")
            .arg("--storage-dir")
            .arg(&storage)
            .arg("--signer-filepath")
            .arg(&key)
            .args(["--hostname", Self::ORIGIN])
            .args(["--http-port", &port.to_string()])
            .args(["--grpc-port", &grpc.to_string()])
            .args(["--http-metrics-port", &metrics.to_string()])
            .args(["--checkpoint-interval", "1s", "--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        let served = storage.clone();
        // One URL for writes and reads, as the public-good v2 logs serve them: POSTs go to the
        // server, GETs are the tiles on disk.
        let write = format!("http://127.0.0.1:{port}");
        let tiles = super::http::Server::start(move |req| {
            if req.method == "POST" {
                return match http(
                    "POST",
                    &format!("{write}{}", req.target),
                    Some(&req.body),
                    Duration::from_secs(30),
                ) {
                    Ok((status, _, body)) => (status, "application/json".into(), body),
                    Err(e) => (502, "text/plain".into(), e.into_bytes()),
                };
            }
            serve_file(&served, &req.target)
        });
        let mut server = RekorV2 {
            child,
            port,
            key_der,
            dir,
            tiles,
        };
        // Up when the HTTP port answers (anything: `/` is 404) and the first checkpoint is there.
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("rekor-server-posix exited ({status}):\n{}", log_tail(&log));
            }
            if storage.join("checkpoint").is_file()
                && get(&format!("http://127.0.0.1:{}", server.port)).is_ok()
            {
                break;
            }
            assert!(
                Instant::now() < until,
                "rekor-server-posix did not come up in 20 s:\n{}",
                log_tail(&log)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "rekor-server-posix up on {} in {} ms",
            server.url(),
            t0.elapsed().as_millis()
        );
        Some(server)
    }

    /// The log's one URL, the trusted root's baseUrl: `POST /api/v2/log/entries` (passed on to
    /// the server) and the tiles (`/checkpoint`, `/tile/…`), as a public v2 log serves both.
    pub fn url(&self) -> String {
        self.tiles_url()
    }

    /// The checkpoint origin (`--hostname`), the hostname of [`RekorV2::url`].
    pub fn origin(&self) -> &str {
        Self::ORIGIN
    }

    pub fn public_key_der(&self) -> Vec<u8> {
        self.key_der.clone()
    }

    /// The tile storage: `checkpoint`, `tile/<L>/<N>`, `tile/entries/<N>`.
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    /// The storage dir served read-only over HTTP, as a tile log's read URL.
    pub fn tiles_url(&self) -> String {
        format!("http://{}", self.tiles.addr)
    }

    /// The current signed checkpoint (note text).
    pub fn checkpoint(&self) -> String {
        std::fs::read_to_string(self.storage_dir().join("checkpoint")).unwrap()
    }
}

impl Tlog for RekorV2 {
    fn url(&self) -> String {
        RekorV2::url(self)
    }
    fn public_key_der(&self) -> Vec<u8> {
        self.key_der.clone()
    }
    fn major_api_version(&self) -> u32 {
        2
    }
}

impl Drop for RekorV2 {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A file under `root` for a GET of `target`; 404 for anything else (`..` included).
fn serve_file(root: &Path, target: &str) -> super::http::Answer {
    let path = target.split('?').next().unwrap_or("");
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|c| c == ".." || c.is_empty()) {
        return (404, "text/plain".into(), b"not found".to_vec());
    }
    match std::fs::read(root.join(rel)) {
        Ok(bytes) if root.join(rel).is_file() => (200, "application/octet-stream".into(), bytes),
        _ => (404, "text/plain".into(), b"not found".to_vec()),
    }
}

/// Only one timestamp-server can run on a machine (metrics on the fixed `:2112`).
static TSA_LOCK: Mutex<()> = Mutex::new(());

/// The real Sigstore timestamp authority on 127.0.0.1, stopped on drop.
pub struct Tsa {
    child: Child,
    port: u16,
    chain_pem: String,
    _dir: tempfile::TempDir,
    _one_at_a_time: MutexGuard<'static, ()>,
}

impl Tsa {
    /// `None` (after [`skipped`]) when the binary is missing.
    pub fn start() -> Option<Self> {
        let bin = find_or_skip("CHAINLET_TIMESTAMP_SERVER", "timestamp-server")?;
        let guard = TSA_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let t0 = Instant::now();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("tsa.log");
        // Another process's timestamp-server holds :2112: wait for it, up to a minute.
        let give_up = Instant::now() + Duration::from_secs(60);
        loop {
            let port = free_port();
            let out = std::fs::File::create(&log).unwrap();
            let mut child = Command::new(&bin)
                .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--timestamp-signer", "memory", "--disable-ntp-monitoring"])
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
            let url = format!("http://127.0.0.1:{port}");
            let until = Instant::now() + Duration::from_secs(20);
            let chain = loop {
                if let Ok(Some(status)) = child.try_wait() {
                    break Err(format!("timestamp-server exited ({status})"));
                }
                if let Ok((200, body)) = get(&format!("{url}/api/v1/timestamp/certchain")) {
                    break Ok(String::from_utf8(body).unwrap());
                }
                if Instant::now() > until {
                    stop(&mut child);
                    break Err("timestamp-server did not come up in 20 s".into());
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            match chain {
                Ok(chain_pem) => {
                    eprintln!(
                        "timestamp-server up on {url} in {} ms",
                        t0.elapsed().as_millis()
                    );
                    return Some(Tsa {
                        child,
                        port,
                        chain_pem,
                        _dir: dir,
                        _one_at_a_time: guard,
                    });
                }
                Err(why) => {
                    let tail = log_tail(&log);
                    if tail.contains(":2112") {
                        if Instant::now() < give_up {
                            std::thread::sleep(Duration::from_millis(500));
                            continue;
                        }
                        panic!(
                            "{why}: another process held :2112 (timestamp-server's metrics port, fixed in its code) for 60 s:\n{tail}"
                        );
                    }
                    panic!("{why}:\n{tail}");
                }
            }
        }
    }

    /// `http://127.0.0.1:<port>`; RFC 3161 requests go to `<url>/api/v1/timestamp`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `GET /api/v1/timestamp/certchain`: the signing certificate first, the root last.
    pub fn cert_chain_pem(&self) -> String {
        self.chain_pem.clone()
    }
}

impl TimestampAuthority for Tsa {
    fn url(&self) -> String {
        Tsa::url(self)
    }
    fn cert_chain_pem(&self) -> String {
        self.chain_pem.clone()
    }
}

impl Drop for Tsa {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// `tests/support/sigstore-mock/server.mjs` (npm @sigstore/mock) on 127.0.0.1, stopped on drop.
pub struct RekorV1Mock {
    child: Child,
    url: String,
    key_der: Vec<u8>,
}

impl RekorV1Mock {
    /// `None` (after [`skipped`]) when node or the npm package is missing.
    pub fn start() -> Option<Self> {
        let node = std::env::var("CHAINLET_NODE").unwrap_or_else(|_| "node".into());
        let prefix = std::env::var("CHAINLET_SIGSTORE_MOCK")
            .unwrap_or_else(|_| "/opt/chainlet-sigstore-mock".into());
        if !Path::new(&prefix)
            .join("node_modules/@sigstore/mock/package.json")
            .is_file()
        {
            skipped(&format!(
                "npm @sigstore/mock is not installed in {prefix} (run scripts/setup-sigstore, or set CHAINLET_SIGSTORE_MOCK)"
            ));
            return None;
        }
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/sigstore-mock/server.mjs");
        let t0 = Instant::now();
        let mut child = match Command::new(&node)
            .arg(&script)
            .arg("0")
            .args(["--prefix", &prefix])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                skipped(&format!("{node} (Node.js) does not run: {e}"));
                return None;
            }
        };
        // The first stdout line, `listening <url>`, read on a thread so that a hang times out.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let Some(url) = line.trim().strip_prefix("listening ").map(str::to_owned) else {
            stop(&mut child);
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("the sigstore mock did not start (stdout {line:?}):\n{err}");
        };
        let (status, pem) = get(&format!("{url}/api/v1/log/publicKey")).unwrap();
        assert_eq!(status, 200, "GET /api/v1/log/publicKey");
        let key_der = pem_der(std::str::from_utf8(&pem).unwrap());
        eprintln!(
            "sigstore mock up on {url} in {} ms",
            t0.elapsed().as_millis()
        );
        Some(RekorV1Mock {
            child,
            url,
            key_der,
        })
    }

    /// `http://127.0.0.1:<port>`: Rekor v1 under `/api/v1/log`, Fulcio `/api/v2/signingCert`, TSA
    /// `/api/v1/timestamp`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The log's key (DER SubjectPublicKeyInfo), from `GET /api/v1/log/publicKey`.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key_der.clone()
    }

    /// Every request the mock received, in order: `{method, path, body}` (body parsed as JSON
    /// when it is JSON, else a string).
    pub fn requests(&self) -> Vec<Value> {
        let (status, body) = get(&format!("{}/__posted", self.url)).unwrap();
        assert_eq!(status, 200);
        serde_json::from_slice::<Value>(&body)
            .unwrap()
            .as_array()
            .cloned()
            .unwrap()
    }

    /// The bodies POSTed to `/api/v1/log/entries`, in order (duplicates and faulted ones too).
    pub fn posted(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["method"] == "POST" && r["path"] == "/api/v1/log/entries")
            .map(|r| r["body"].clone())
            .collect()
    }

    /// `"garbage"` (non-JSON bytes with 200), `"500"`, `"hang"` (no answer ever) or `"off"`: how
    /// every `/api/` endpoint answers from now on.
    pub fn set_fault(&self, mode: &str) {
        let body = json!({ "mode": mode }).to_string();
        let (status, _, answer) = http(
            "POST",
            &format!("{}/__fault", self.url),
            Some(body.as_bytes()),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    }

    /// The mock Fulcio's root certificate (DER), from `GET /api/v2/trustBundle`.
    pub fn fulcio_root_der(&self) -> Vec<u8> {
        let (status, body) = get(&format!("{}/api/v2/trustBundle", self.url)).unwrap();
        assert_eq!(status, 200);
        let v: Value = serde_json::from_slice(&body).unwrap();
        pem_der(v["chains"][0]["certificates"][0].as_str().unwrap())
    }

    /// The key (DER SPKI) of the CT log whose SCTs the mock Fulcio embeds.
    pub fn ctlog_key_der(&self) -> Vec<u8> {
        let (status, body) = get(&format!("{}/__ctlog/publicKey", self.url)).unwrap();
        assert_eq!(status, 200);
        pem_der(std::str::from_utf8(&body).unwrap())
    }

    /// The mock TSA's chain (PEM), `GET /api/v1/timestamp/certchain`.
    pub fn tsa_cert_chain_pem(&self) -> String {
        let (status, body) = get(&format!("{}/api/v1/timestamp/certchain", self.url)).unwrap();
        assert_eq!(status, 200);
        String::from_utf8(body).unwrap()
    }
}

impl Tlog for RekorV1Mock {
    fn url(&self) -> String {
        self.url.clone()
    }
    fn public_key_der(&self) -> Vec<u8> {
        self.key_der.clone()
    }
    fn major_api_version(&self) -> u32 {
        1
    }
}

impl Drop for RekorV1Mock {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A Sigstore trusted root (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`,
/// protobuf-specs `TrustedRoot` in its JSON form) for these logs and timestamp authorities, with
/// no certificate authorities and no CT logs (keyed signing).
pub fn trusted_root(logs: &[&dyn Tlog], tsas: &[&dyn TimestampAuthority]) -> Value {
    let tlogs: Vec<Value> = logs
        .iter()
        .map(|log| {
            let der = log.public_key_der();
            json!({
                "baseUrl": log.url(),
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": B64.encode(&der),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": { "start": VALID_FROM },
                },
                "logId": { "keyId": log_id(&der) },
            })
        })
        .collect();
    let authorities: Vec<Value> = tsas
        .iter()
        .map(|tsa| {
            let certificates: Vec<Value> = pem_chain_der(&tsa.cert_chain_pem())
                .iter()
                .map(|der| json!({ "rawBytes": B64.encode(der) }))
                .collect();
            json!({
                "subject": { "organization": "chainlet tests", "commonName": "test TSA" },
                "uri": tsa.url(),
                "certChain": { "certificates": certificates },
                "validFor": { "start": VALID_FROM },
            })
        })
        .collect();
    json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": tlogs,
        "certificateAuthorities": [],
        "ctlogs": [],
        "timestampAuthorities": authorities,
    })
}

/// [`trusted_root`] plus the mock's Fulcio CA and its CT log (keyless signing).
pub fn trusted_root_keyless(
    fulcio: &RekorV1Mock,
    logs: &[&dyn Tlog],
    tsas: &[&dyn TimestampAuthority],
) -> Value {
    let mut root = trusted_root(logs, tsas);
    let ct = fulcio.ctlog_key_der();
    root["certificateAuthorities"] = json!([{
        "subject": { "organization": "sigstore.mock", "commonName": "sigstore" },
        "uri": fulcio.url(),
        "certChain": { "certificates": [{ "rawBytes": B64.encode(fulcio.fulcio_root_der()) }] },
        "validFor": { "start": VALID_FROM },
    }]);
    root["ctlogs"] = json!([{
        "baseUrl": format!("{}/ctlog", fulcio.url()),
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": B64.encode(&ct),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": { "start": VALID_FROM },
        },
        "logId": { "keyId": log_id(&ct) },
    }]);
    root
}

/// A Sigstore signing config (`application/vnd.dev.sigstore.signingconfig.v0.2+json`,
/// protobuf-specs `SigningConfig`): these logs (`majorApiVersion` 1 or 2) and TSAs (the RFC 3161
/// endpoint `<url>/api/v1/timestamp`), each selected with `ANY`; no CA, no OIDC provider.
pub fn signing_config(logs: &[&dyn Tlog], tsas: &[&dyn TimestampAuthority]) -> Value {
    let service = |url: String, version: u32| {
        json!({
            "url": url,
            "majorApiVersion": version,
            "validFor": { "start": VALID_FROM },
            "operator": "chainlet-tests",
        })
    };
    let rekor: Vec<Value> = logs
        .iter()
        .map(|l| service(l.url(), l.major_api_version()))
        .collect();
    let tsa: Vec<Value> = tsas
        .iter()
        .map(|t| service(format!("{}/api/v1/timestamp", t.url()), 1))
        .collect();
    let mut config = json!({
        "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls": [],
        "oidcUrls": [],
        "rekorTlogUrls": rekor,
        "rekorTlogConfig": { "selector": "ANY" },
        "tsaUrls": tsa,
    });
    if !tsas.is_empty() {
        config["tsaConfig"] = json!({ "selector": "ANY" });
    }
    config
}

/// Writes `value` as `dir/name` and returns the path.
pub fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path
}

/// The client binary `name` (see the module doc), or `None` after [`skipped`].
pub fn client(var: &str, name: &str) -> Option<Command> {
    let bin = find_or_skip(var, name)?;
    let mut cmd = Command::new(bin);
    cmd.stdin(Stdio::null());
    // Nothing of the caller's environment that steers a Sigstore client (a password, a TUF
    // mirror, experimental switches): the test says what it wants.
    for (var, _) in std::env::vars_os() {
        let v = var.to_string_lossy();
        if v.starts_with("COSIGN_") || v.starts_with("SIGSTORE_") || v == "TUF_ROOT" {
            cmd.env_remove(var);
        }
    }
    Some(cmd)
}

fn run(var: &str, name: &str, args: &[&str], env: &[(&str, &str)]) -> Option<Output> {
    let mut cmd = client(var, name)?;
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Some(cmd.output().unwrap_or_else(|e| panic!("{name}: {e}")))
}

/// cosign 3.1 (Debian forky's, as `cosign3`).
pub fn cosign3(args: &[&str], env: &[(&str, &str)]) -> Option<Output> {
    run("CHAINLET_COSIGN3", "cosign3", args, env)
}

/// sigstore-go's `sigstore-go-verification` (Debian `sigstore-go`).
pub fn sigstore_go_verify(args: &[&str]) -> Option<Output> {
    run(
        "CHAINLET_SIGSTORE_GO_VERIFY",
        "sigstore-go-verification",
        args,
        &[],
    )
}

/// oras (Debian `oras`).
pub fn oras(args: &[&str]) -> Option<Output> {
    run("CHAINLET_ORAS", "oras", args, &[])
}

/// rekor-cli (Debian `rekor`).
pub fn rekor_cli(args: &[&str]) -> Option<Output> {
    run("CHAINLET_REKOR_CLI", "rekor-cli", args, &[])
}
