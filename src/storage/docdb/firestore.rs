//! Firestore (native mode) through its REST API, v1, over chainlet's one transport.
//!
//! A document is what go-cloud's `gcpfirestore` driver makes of Chains' `SignedDocument`: its
//! id is the value of the URL's `name_field` (Chains' `Name`), which go-cloud leaves out of the
//! fields; the other fields keep go-cloud's names and its encoding: text as `stringValue` (the
//! empty string too), `Signed` as `bytesValue`, the parsed payload as `mapValue`, with JSON
//! numbers as `doubleValue` (Go's `json.Unmarshal` makes every number a float64), `null` as
//! `nullValue`, lists as `arrayValue`. Documents go in `:commit` requests of update writes
//! without a precondition, which is how go-cloud sends a `Put`: each replaces the document of
//! the same id whole, so a re-run writes the same documents again. A commit is atomic; a run's
//! documents go in one unless there are more than 500 or more than 8 MiB of them, so either
//! all of them are written or none.
//!
//! Preflight, before any backend stores:
//! - a one-document listing of the collection (`GET …/documents/COLLECTION?pageSize=1`,
//!   masked to the name field so that only names come back): the database exists and the
//!   credentials may read it. Reading one document that does not exist would not do:
//!   Firestore answers a missing database and a missing document with the same 404.
//! - a commit of one update write under a precondition that can never hold (an update time
//!   one microsecond past the epoch, which no document has; a missing one has none):
//!   Firestore checks the caller's permission on the request, then refuses the write with
//!   `FAILED_PRECONDITION` (or `NOT_FOUND`), and a commit that fails writes nothing. Not the
//!   epoch itself: the emulator takes an all-zero timestamp for no precondition, and writes.
//!
//! Credentials come from [`crate::cloud::google`] (a service-account key file named by
//! `GOOGLE_APPLICATION_CREDENTIALS`, else the metadata server), scope `datastore`.
//! `FIRESTORE_EMULATOR_HOST` (`host:port`) points everything at an emulator over plain HTTP
//! with `Authorization: Bearer owner`, as Google's client libraries do.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use super::url::FirestoreUrl;
use super::{Field, SignedDocument};
use crate::cloud::google::{self, GoogleAuth};
use crate::net::{self, Credential, Origin, Request, Transport};
use crate::storage::{Backend, Batch, Context, StorageError};

/// Google's clients read this to talk to an emulator.
pub const EMULATOR_ENV: &str = "FIRESTORE_EMULATOR_HOST";
const PUBLIC_ENDPOINT: &str = "https://firestore.googleapis.com";
/// Writes one commit may carry (Firestore's limit).
const MAX_WRITES: usize = 500;
/// Bytes one commit request may carry: Firestore takes up to 10 MiB; leave room.
const MAX_COMMIT_BYTES: usize = 8 << 20;
/// An update time no document has: the write probe's precondition.
const NEVER_UPDATED: &str = "1970-01-01T00:00:00.000001Z";
/// The longest document id Firestore takes, in bytes.
const MAX_ID_BYTES: usize = 1500;

pub struct FirestoreBackend {
    coll: FirestoreUrl,
    /// `https://firestore.googleapis.com`, or the emulator's `http://host:port`.
    endpoint: String,
    origin: Origin,
    net: Transport,
    /// `None` for an emulator.
    auth: Option<GoogleAuth>,
    /// The run's own document id, for the preflight's write probe.
    probe_name: String,
}

/// Reads one environment variable (a closure in tests).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

impl FirestoreBackend {
    pub fn open(
        coll: FirestoreUrl,
        env: Env<'_>,
        ctx: &Context<'_>,
        probe_name: String,
    ) -> Result<Self, StorageError> {
        let unavailable = |message: String| StorageError::Unavailable {
            backend: "docdb",
            message: format!("firestore collection {}: {message}", coll.collection_path()),
        };
        let google::ServiceEndpoint {
            url: endpoint,
            plain_http,
            auth,
        } = google::ServiceEndpoint::resolve(
            env,
            EMULATOR_ENV,
            PUBLIC_ENDPOINT,
            google::Options {
                deadline: ctx.deadline,
                extra_ca: ctx.extra_cas(),
            },
        )
        .map_err(unavailable)?;
        let origin = Origin::of_url(&endpoint).map_err(unavailable)?;
        Ok(Self {
            coll,
            endpoint,
            origin,
            net: ctx.transport(plain_http),
            auth,
            probe_name,
        })
    }

    fn failed(&self, message: impl std::fmt::Display) -> StorageError {
        StorageError::Docdb {
            target: format!("firestore collection {}", self.coll.collection_path()),
            message: crate::one_line(&message.to_string()),
        }
    }

    /// The `Authorization` of every request: the emulator's fixed owner token, or a token
    /// for the datastore scope.
    fn credential(&self) -> Result<Credential, StorageError> {
        let value = match &self.auth {
            None => Zeroizing::new("Bearer owner".to_owned()),
            Some(auth) => {
                let token = auth
                    .token(&[google::DATASTORE])
                    .map_err(|e| self.failed(e))?;
                Zeroizing::new(format!("Bearer {}", token.as_str()))
            }
        };
        Ok(Credential::new(self.origin.clone(), value))
    }

    /// `{endpoint}/v1/{resource}`, each segment escaped for a URL path.
    fn url(&self, resource: &str) -> String {
        let path: Vec<String> = resource.split('/').map(path_segment).collect();
        format!("{}/v1/{}", self.endpoint, path.join("/"))
    }

    /// Sends one request; the transport retries 5xx, 408 and 429 under the deadline, and
    /// `ABORTED` (a commit that met contention, 409) is tried again here the same way.
    fn call(
        &self,
        method: &'static str,
        url: String,
        op: &str,
        body: Option<&[u8]>,
    ) -> Result<Answer, StorageError> {
        let mut wait = Duration::from_millis(100);
        loop {
            let credential = self.credential()?;
            let mut req = Request::new(method, url.clone(), op)
                .credential(Some(&credential))
                .max_body(4 << 20);
            if let Some(body) = body {
                req = req.header("Content-Type", "application/json").body(body);
            }
            let resp = self.net.send(&req).map_err(|e| self.failed(e))?;
            let answer = Answer::read(resp.status, &resp.body);
            let wait_now = net::jitter(wait);
            if answer.error_status.as_deref() != Some("ABORTED")
                || Instant::now() + wait_now >= self.net.deadline()
            {
                return Ok(answer);
            }
            tracing::debug!(op, "aborted; retrying in {wait_now:?}");
            std::thread::sleep(wait_now);
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// The database exists and the credentials may read the collection.
    fn check_collection(&self) -> Result<(), StorageError> {
        // Masked to the name field, which go-cloud never stores: the listing carries names only.
        let url = format!(
            "{}?pageSize=1&mask.fieldPaths={}",
            self.url(&self.coll.collection_path()),
            google::form_encode(&self.coll.name_field)
        );
        let answer = self.call("GET", url, "list documents (preflight)", None)?;
        let body = answer
            .ok("listing the collection")
            .map_err(|m| self.failed(m))?;
        parse_list(&body)
            .map(|_| ())
            .map_err(|m| self.failed(format!("listing the collection: {m}")))
    }

    /// The credentials may write here: a commit that can never apply.
    fn check_write(&self) -> Result<(), StorageError> {
        let name = format!("{}/{}", self.coll.collection_path(), self.probe_name);
        let body = json!({
            "writes": [{
                "update": { "name": name, "fields": {} },
                "currentDocument": { "updateTime": NEVER_UPDATED },
            }],
        });
        let body = serde_json::to_vec(&body).expect("serialising JSON cannot fail");
        let answer = self.call(
            "POST",
            self.commit_url(),
            "commit (preflight, never applied)",
            Some(&body),
        )?;
        match answer.error_status.as_deref() {
            // The emulator says FAILED_PRECONDITION whether the document exists or not; a
            // missing document may also be NOT_FOUND (the listing has shown the database is
            // there). Either way nothing was written.
            Some("FAILED_PRECONDITION" | "NOT_FOUND") => Ok(()),
            Some(_) => Err(self.failed(answer.describe("commit (preflight)"))),
            None => Err(self.failed(
                "commit (preflight): the service applied a write whose precondition can never hold",
            )),
        }
    }

    fn commit_url(&self) -> String {
        format!("{}/documents:commit", self.url(&self.coll.database_path()))
    }
}

/// The commit requests of a batch's documents, each within Firestore's limits: (how many
/// writes, the request's body).
pub fn commits(
    coll: &FirestoreUrl,
    docs: &[SignedDocument],
) -> Result<Vec<(usize, Vec<u8>)>, String> {
    let writes = docs
        .iter()
        .map(|d| {
            let w = update_write(coll, d)?;
            Ok(serde_json::to_vec(&w).expect("serialising JSON cannot fail"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let mut commits = Vec::new();
    let mut current: Vec<Vec<u8>> = Vec::new();
    let mut size = 0;
    for w in writes {
        if !current.is_empty() && (current.len() == MAX_WRITES || size + w.len() > MAX_COMMIT_BYTES)
        {
            commits.push(commit_body(&current));
            current.clear();
            size = 0;
        }
        size += w.len() + 1;
        current.push(w);
    }
    if !current.is_empty() {
        commits.push(commit_body(&current));
    }
    Ok(commits)
}

impl Backend for FirestoreBackend {
    fn name(&self) -> &'static str {
        "docdb"
    }

    fn preflight(&self) -> Result<(), StorageError> {
        self.check_collection()?;
        self.check_write()
    }

    fn store(&self, batch: &Batch<'_>) -> Result<(), StorageError> {
        let docs = super::documents(batch).map_err(|m| self.failed(m))?;
        // Every write is built (and every id and value checked) before the first is sent.
        let commits = commits(&self.coll, &docs).map_err(|m| self.failed(m))?;
        for (writes, body) in commits {
            let op = format!("commit of {writes} documents");
            let answer = self.call("POST", self.commit_url(), &op, Some(&body))?;
            let result = answer.ok(&op).map_err(|m| self.failed(m))?;
            let applied = parse_commit(&result).map_err(|m| self.failed(format!("{op}: {m}")))?;
            if applied != writes {
                return Err(self.failed(format!(
                    "{op}: the answer has {applied} write results, not {writes}"
                )));
            }
        }
        Ok(())
    }
}

/// `{"writes": [...]}` from serialised writes.
fn commit_body(writes: &[Vec<u8>]) -> (usize, Vec<u8>) {
    let mut body = b"{\"writes\":[".to_vec();
    for (i, w) in writes.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(w);
    }
    body.extend_from_slice(b"]}");
    (writes.len(), body)
}

/// The update write of one document: go-cloud's `Put`, a whole replacement, no precondition.
pub fn update_write(coll: &FirestoreUrl, doc: &SignedDocument) -> Result<Value, String> {
    let id = document_id(doc, &coll.name_field)?;
    Ok(json!({
        "update": {
            "name": format!("{}/{id}", coll.collection_path()),
            "fields": fields(doc, &coll.name_field)?,
        },
    }))
}

/// The document's id: the name field's text, checked against Firestore's rules for ids.
pub fn document_id<'a>(doc: &'a SignedDocument, name_field: &str) -> Result<&'a str, String> {
    let id = match doc.field(name_field) {
        Some(Field::Text(s)) => s,
        _ => return Err(format!("{name_field} is not a text field of the document")),
    };
    let problem = if id.is_empty() {
        Some("is empty")
    } else if id.contains('/') {
        Some("has a '/'")
    } else if id == "." || id == ".." {
        Some("is '.' or '..'")
    } else if reserved(id) {
        Some("has the reserved form __…__")
    } else if id.len() > MAX_ID_BYTES {
        Some("is longer than 1500 bytes")
    } else {
        None
    };
    match problem {
        Some(p) => Err(format!(
            "document {}: its {name_field}, the document id, {p}, which Firestore does not take",
            doc.name
        )),
        None => Ok(id),
    }
}

/// Firestore reserves ids and field names of the form `__…__`.
fn reserved(s: &str) -> bool {
    s.len() >= 4 && s.starts_with("__") && s.ends_with("__")
}

/// The fields of a document, every one of Chains' but the name field, as go-cloud encodes them.
pub fn fields(doc: &SignedDocument, name_field: &str) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for name in super::FIELDS.iter().filter(|f| **f != name_field) {
        let Some(field) = doc.field(name) else {
            continue;
        };
        let value = match field {
            Field::Text(s) => json!({ "stringValue": s }),
            Field::Bytes(b) => {
                json!({ "bytesValue": base64::engine::general_purpose::STANDARD.encode(b) })
            }
            Field::Json(v) => value(v).map_err(|e| format!("document {}: {name}{e}", doc.name))?,
        };
        out.insert((*name).to_owned(), value);
    }
    Ok(out)
}

/// A JSON value as go-cloud encodes what Go's `json.Unmarshal` made of it, or where (a path
/// such as `.a[1]`) Firestore could not store it.
pub fn value(v: &Value) -> Result<Value, String> {
    let mut path = Vec::new();
    encode(v, false, &mut path).map_err(|problem| format!("{}: {problem}", path.concat()))
}

fn encode(v: &Value, in_array: bool, path: &mut Vec<String>) -> Result<Value, &'static str> {
    Ok(match v {
        Value::Null => json!({ "nullValue": null }),
        Value::Bool(b) => json!({ "booleanValue": b }),
        Value::Number(n) => json!({ "doubleValue": n.as_f64().unwrap_or(0.0) }),
        Value::String(s) => json!({ "stringValue": s }),
        Value::Array(items) => {
            if in_array {
                return Err("Firestore cannot store an array directly inside an array");
            }
            let mut values = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(format!("[{i}]"));
                values.push(encode(item, true, path)?);
                path.pop();
            }
            json!({ "arrayValue": { "values": values } })
        }
        Value::Object(m) => {
            let mut fields = Map::new();
            for (k, item) in m {
                path.push(format!(".{}", k.escape_debug()));
                if reserved(k) {
                    return Err("Firestore reserves field names of the form __…__");
                }
                fields.insert(k.clone(), encode(item, false, path)?);
                path.pop();
            }
            json!({ "mapValue": { "fields": fields } })
        }
    })
}

/// A path segment escaped for a URL: RFC 3986's unreserved characters and sub-delimiters
/// (`(default)` stays as it is), `:` and `@` kept; everything else as `%XX`.
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How many documents a listing holds; anything but a listing is an error.
pub fn parse_list(body: &Value) -> Result<usize, String> {
    let Some(m) = body.as_object() else {
        return Err("the answer is not a JSON object".into());
    };
    match m.get("documents") {
        None => Ok(0),
        Some(Value::Array(docs)) if docs.iter().all(|d| d["name"].is_string()) => Ok(docs.len()),
        Some(_) => Err("the answer's documents are not a list of named documents".into()),
    }
}

/// How many write results a commit's answer holds.
pub fn parse_commit(body: &Value) -> Result<usize, String> {
    match body.get("writeResults") {
        Some(Value::Array(results)) => Ok(results.len()),
        None if body.is_object() => Ok(0),
        _ => Err("the answer is not a commit response".into()),
    }
}

/// One Firestore answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    /// Google's canonical code (`NOT_FOUND`, `PERMISSION_DENIED`) when the status is not 2xx,
    /// or `HTTP <status>` when the answer does not say.
    pub error_status: Option<String>,
    pub message: String,
}

impl Answer {
    /// Reads a body that may be anything: a server's answer is never trusted to be JSON.
    pub fn read(status: u16, body: &[u8]) -> Self {
        let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Self {
                status,
                body: parsed,
                error_status: None,
                message: String::new(),
            };
        }
        // `{"error": {"code", "message", "status"}}`, sometimes inside a one-element list.
        let error = match &parsed {
            Value::Array(items) => items.first().map_or(&Value::Null, |e| &e["error"]),
            other => &other["error"],
        };
        let error_status = error["status"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(64).collect())
            .unwrap_or_else(|| format!("HTTP {status}"));
        let message = error["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
        let message: String = crate::one_line(&message).chars().take(300).collect();
        Self {
            status,
            body: parsed,
            error_status: Some(error_status),
            message,
        }
    }

    fn describe(&self, op: &str) -> String {
        let kind = self.error_status.as_deref().unwrap_or("error");
        format!("{op}: {kind} (HTTP {}): {}", self.status, self.message)
    }

    /// The body of a success, or what went wrong.
    fn ok(self, op: &str) -> Result<Value, String> {
        match self.error_status {
            None => Ok(self.body),
            Some(_) => Err(self.describe(op)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coll() -> FirestoreUrl {
        FirestoreUrl {
            project: "p".into(),
            database: "(default)".into(),
            collection: "chains".into(),
            name_field: "Name".into(),
        }
    }

    fn doc() -> SignedDocument {
        SignedDocument {
            name: "taskrun-u".into(),
            signed: b"{}".to_vec(),
            signature: "c2ln".into(),
            cert: String::new(),
            chain: String::new(),
            object: serde_json::from_str(
                r#"{"a":[1,2.5,true,null,"",{"x":[]}],"m":{},"big":18446744073709551615}"#,
            )
            .unwrap(),
        }
    }

    #[test]
    fn documents_use_go_clouds_encoding_without_the_name_field() {
        let w = update_write(&coll(), &doc()).unwrap();
        assert_eq!(
            w["update"]["name"],
            "projects/p/databases/(default)/documents/chains/taskrun-u"
        );
        let f = &w["update"]["fields"];
        let mut names: Vec<&String> = f.as_object().unwrap().keys().collect();
        names.sort();
        assert_eq!(names, ["Cert", "Chain", "Object", "Signature", "Signed"]);
        assert_eq!(f["Signed"], json!({"bytesValue": "e30="}));
        assert_eq!(f["Signature"], json!({"stringValue": "c2ln"}));
        // go-cloud writes the empty string as a string, not as null.
        assert_eq!(f["Cert"], json!({"stringValue": ""}));
        let o = &f["Object"]["mapValue"]["fields"];
        assert_eq!(
            o["a"]["arrayValue"]["values"],
            json!([{"doubleValue": 1.0}, {"doubleValue": 2.5}, {"booleanValue": true},
                   {"nullValue": null}, {"stringValue": ""},
                   {"mapValue": {"fields": {"x": {"arrayValue": {"values": []}}}}}])
        );
        assert_eq!(o["m"], json!({"mapValue": {"fields": {}}}));
        assert_eq!(o["big"], json!({"doubleValue": 18446744073709551615.0}));
        // Another name field: that field becomes the id and leaves the fields; Name stays.
        let by_sig = FirestoreUrl {
            name_field: "Signature".into(),
            ..coll()
        };
        let w = update_write(&by_sig, &doc()).unwrap();
        assert!(w["update"]["name"].as_str().unwrap().ends_with("/c2ln"));
        assert_eq!(
            w["update"]["fields"]["Name"],
            json!({"stringValue": "taskrun-u"})
        );
        assert!(w["update"]["fields"].get("Signature").is_none());
    }

    #[test]
    fn what_firestore_cannot_store_is_named_before_anything_is_sent() {
        let e = value(&json!({"a": {"b": [1, [2]]}})).unwrap_err();
        assert_eq!(
            e,
            ".a.b[1]: Firestore cannot store an array directly inside an array"
        );
        assert!(
            value(&json!({"__x__": 1}))
                .unwrap_err()
                .contains("reserves")
        );
        let mut d = doc();
        for (name, says) in [
            ("", "is empty"),
            ("a/b", "has a '/'"),
            ("..", "'.' or '..'"),
            ("__id__", "reserved"),
        ] {
            d.name = name.into();
            let e = update_write(&coll(), &d).unwrap_err();
            assert!(e.contains(says), "{name}: {e}");
        }
    }

    #[test]
    fn answers_that_are_not_json_are_errors_not_panics() {
        let a = Answer::read(404, b"Not Found");
        assert_eq!(a.error_status.as_deref(), Some("HTTP 404"));
        assert_eq!(a.message, "Not Found");
        let a = Answer::read(
            400,
            br#"{"error":{"code":400,"message":"the stored version (0) does not\nmatch","status":"FAILED_PRECONDITION"}}"#,
        );
        assert_eq!(a.error_status.as_deref(), Some("FAILED_PRECONDITION"));
        assert_eq!(a.message, "the stored version (0) does not match");
        let a = Answer::read(
            403,
            br#"[{"error":{"status":"PERMISSION_DENIED","message":"no"}}]"#,
        );
        assert_eq!(a.error_status.as_deref(), Some("PERMISSION_DENIED"));
        assert!(Answer::read(200, b"{}").error_status.is_none());
        assert_eq!(parse_list(&json!({})), Ok(0));
        assert_eq!(parse_list(&json!({"documents": [{"name": "x"}]})), Ok(1));
        assert!(parse_list(&json!([])).is_err());
        assert!(parse_list(&json!({"documents": [1]})).is_err());
        assert_eq!(parse_commit(&json!({"writeResults": [{}, {}]})), Ok(2));
        assert!(parse_commit(&json!("x")).is_err());
    }

    #[test]
    fn resource_names_are_escaped_per_segment() {
        assert_eq!(path_segment("(default)"), "(default)");
        assert_eq!(path_segment("a b?#%"), "a%20b%3F%23%25");
        assert_eq!(path_segment("é"), "%C3%A9");
    }
}
