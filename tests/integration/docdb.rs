//! Storage `docdb` against a real DynamoDB implementation: moto's server (`moto[server]`, in
//! the Python venv `.ci/run` makes, `CHAINLET_PY`, default `/opt/chainlet-py`), with the table
//! created and the documents read back by boto3, and every signature checked by cosign from the
//! stored bytes.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use crate::common::registry::free_port;
use crate::common::*;

const TABLE: &str = "chains-docs";

/// A moto server on 127.0.0.1, stopped when dropped.
struct Moto {
    endpoint: String,
    child: Child,
    _log: tempfile::TempDir,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn venv() -> PathBuf {
    PathBuf::from(std::env::var("CHAINLET_PY").unwrap_or("/opt/chainlet-py".into()))
}

/// The fake credentials moto takes; chainlet signs with them like with real ones.
const AWS_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "AKIDCHAINLETTEST"),
    ("AWS_SECRET_ACCESS_KEY", "chainlet-test-secret"),
    ("AWS_REGION", "us-east-1"),
];

impl Moto {
    fn start() -> Option<Self> {
        let bin = venv().join("bin/moto_server");
        if !bin.is_file() {
            skipped(&format!("{} is missing: run .ci/run", bin.display()));
            return None;
        }
        let port = free_port();
        let log = tempfile::tempdir().unwrap();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log.path().join("log")).unwrap())
            .spawn()
            .expect("moto_server starts");
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self {
            endpoint: format!("http://{addr}"),
            child,
            _log: log,
        })
    }

    /// Runs a boto3 snippet with `ddb`, a DynamoDB client for this server; returns its stdout
    /// as JSON.
    fn boto3(&self, code: &str) -> Value {
        let prelude = format!(
            "import base64, json, boto3\nddb = boto3.client('dynamodb', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x')\n",
            self.endpoint
        );
        let out = Command::new(venv().join("bin/python"))
            .arg("-c")
            .arg(format!("{prelude}{code}"))
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "boto3: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn create_table(&self, name: &str) {
        self.boto3(&format!(
            "ddb.create_table(TableName='{name}', KeySchema=[{{'AttributeName':'Name','KeyType':'HASH'}}], AttributeDefinitions=[{{'AttributeName':'Name','AttributeType':'S'}}], BillingMode='PAY_PER_REQUEST')\nprint('{{}}')"
        ));
    }

    /// Every item of the table, read with boto3 (`B` values as base64), sorted by Name.
    fn items(&self, table: &str) -> Vec<Value> {
        let all = self.boto3(&format!(
            r#"
def plain(v):
    if isinstance(v, bytes): return base64.b64encode(v).decode()
    if isinstance(v, dict): return {{k: plain(x) for k, x in v.items()}}
    if isinstance(v, list): return [plain(x) for x in v]
    return v
items = ddb.scan(TableName='{table}')['Items']
items = [ddb.get_item(TableName='{table}', Key={{'Name': i['Name']}}, ConsistentRead=True)['Item'] for i in items]
print(json.dumps(sorted((plain(i) for i in items), key=lambda i: i['Name']['S'])))
"#
        ));
        all.as_array().unwrap().clone()
    }
}

fn pod() -> Pod {
    let pod = Pod::new();
    pod.chainlet_key("docdb-test").typical_results();
    pod
}

fn attest(pod: &Pod, moto: &Moto, url: &str, taskrun_storage: &str) -> std::process::Output {
    let mut a = Attest::new(pod)
        .taskrun("build-run", UID)
        .times()
        .storage("taskrun", taskrun_storage)
        .storage("oci", "docdb")
        .set(&format!("storage.docdb.url={url}"))
        .env("AWS_ENDPOINT_URL_DYNAMODB", &moto.endpoint);
    if taskrun_storage.contains("file") {
        a = a.out();
    }
    for (k, v) in AWS_ENV {
        a = a.env(k, v);
    }
    a.run()
}

fn b64(s: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.as_str().unwrap())
        .unwrap()
}

#[test]
fn documents_in_dynamodb_are_chains_documents_that_cosign_verifies_and_a_rerun_adds_none() {
    let Some(moto) = Moto::start() else { return };
    moto.create_table(TABLE);
    let pod = pod();
    let url = format!("dynamodb://{TABLE}?partition_key=Name");
    ok(&attest(&pod, &moto, &url, "docdb"));
    let items = moto.items(TABLE);
    let names: Vec<&str> = items
        .iter()
        .map(|i| i["Name"]["S"].as_str().unwrap())
        .collect();
    let mut expected = vec![
        format!("taskrun-{UID}"),
        DIGEST_A[..12].to_owned(),
        DIGEST_B[..12].to_owned(),
        DIGEST_C[..12].to_owned(),
    ];
    expected.sort();
    assert_eq!(names, expected);
    let dir = tempfile::tempdir().unwrap();
    let pubkey = pod.path("secrets/cosign.pub");
    for item in &items {
        let mut fields: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            ["Cert", "Chain", "Name", "Object", "Signature", "Signed"]
        );
        // Keys have no certificate: go-cloud stores the empty string as NULL.
        assert_eq!(item["Cert"], serde_json::json!({"NULL": true}));
        assert_eq!(item["Chain"], serde_json::json!({"NULL": true}));
        let signed = b64(&item["Signed"]["B"]);
        let parsed: Value = serde_json::from_slice(&signed).unwrap();
        assert!(item["Object"]["M"].is_object(), "{item}");
        let name = item["Name"]["S"].as_str().unwrap();
        let signature = b64(&item["Signature"]["S"]);
        if name.starts_with("taskrun-") {
            assert_eq!(parsed["_type"], "https://in-toto.io/Statement/v1");
            assert_eq!(item["Object"]["M"]["_type"]["S"], parsed["_type"]);
            let envelope = dir.path().join("envelope.json");
            std::fs::write(&envelope, &signature).unwrap();
            let env: Value = serde_json::from_slice(&signature).unwrap();
            assert_eq!(b64(&env["payload"]), signed, "the envelope carries Signed");
            let (verified, text) = cosign_verify_attestation(&pubkey, &envelope, "slsaprovenance1");
            assert!(verified, "cosign: {text}");
        } else {
            let payload = dir.path().join(format!("{name}.json"));
            let sig = dir.path().join(format!("{name}.sig"));
            std::fs::write(&payload, &signed).unwrap();
            // Signature is base64 of the raw signature, which is what cosign reads.
            std::fs::write(&sig, item["Signature"]["S"].as_str().unwrap()).unwrap();
            assert!(!signature.is_empty());
            let (verified, text) = cosign_verify_blob(&pubkey, &sig, &payload);
            assert!(verified, "{name}: cosign: {text}");
            assert!(
                parsed["critical"]["image"]["docker-manifest-digest"]
                    .as_str()
                    .unwrap()
                    .contains(name)
            );
        }
    }
    // The same run again replaces every document by its key and adds none.
    ok(&attest(&pod, &moto, &url, "docdb"));
    assert_eq!(moto.items(TABLE), items);
}

#[test]
fn a_refused_preflight_leaves_every_backend_unwritten() {
    let Some(moto) = Moto::start() else { return };
    let pod = pod();
    // No such table: DescribeTable refuses before the file backend writes anything.
    let out = attest(
        &pod,
        &moto,
        "dynamodb://no-such-table?partition_key=Name",
        "docdb,file",
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("storage docdb: dynamodb table no-such-table:")
            && err.contains("ResourceNotFoundException"),
        "{err}"
    );
    assert!(!err.contains("chainlet-test-secret"), "{err}");
    assert_eq!(pod.written(), Vec::<String>::new());
    // A table whose key is not the URL's: refused the same way, nothing written there either.
    moto.create_table("keyed-by-name");
    let out = attest(
        &pod,
        &moto,
        "dynamodb://keyed-by-name?partition_key=Signature",
        "docdb,file",
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("the table's key is partition Name"),
        "{}",
        stderr(&out)
    );
    assert_eq!(pod.written(), Vec::<String>::new());
    assert_eq!(moto.items("keyed-by-name"), Vec::<Value>::new());
}

#[test]
fn bad_docdb_settings_are_one_line_errors() {
    let Some(moto) = Moto::start() else { return };
    let pod = pod();
    for (url, says) in [
        ("dynamodb://chains-docs", "partition_key is required"),
        ("mongo://user:hunter2@db/chains/docs", "not supported yet"),
    ] {
        let out = attest(&pod, &moto, url, "docdb");
        assert_eq!(out.status.code(), Some(2), "{url}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(says) && !err.contains("hunter2"),
            "{url}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}
