//! DynamoDB through its JSON protocol (`X-Amz-Target: DynamoDB_20120810.<Operation>`), signed
//! with SigV4, over chainlet's one transport.
//!
//! A document is an item whose attributes are go-cloud's encoding of Chains' fields: strings
//! as `S` (the empty string as `NULL`, as go-cloud writes it), bytes as `B`, the parsed payload
//! as `M` with JSON numbers as `N` in Go's shortest decimal form. `PutItem` replaces the item
//! with the same key, so a re-run writes the same item again.
//!
//! Preflight: `DescribeTable` (the table exists, is usable, and its key schema is the URL's
//! keys), then a `PutItem` under a condition that can never hold, which the service refuses
//! with `ConditionalCheckFailedException` only after it has checked the caller may write: the
//! write permission is proved without writing anything.
//!
//! Credentials are found as AWS's SDKs find them in a pod ([`crate::cloud::aws::credentials`]:
//! the environment's keys, a web identity (IRSA), the container endpoint (EKS Pod Identity));
//! the region from the URL's `region`, `AWS_REGION` or `AWS_DEFAULT_REGION`; the endpoint from
//! the URL's `endpoint`, `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL` (plain HTTP is
//! allowed to that host only, as AWS's SDKs allow it), else the region's public endpoint.

use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::url::DynamoUrl;
use super::{Field, SignedDocument};
use crate::cloud::aws::{self as sigv4, Credentials};
use crate::net::{self, Credential, Origin, Request, Transport};
use crate::storage::{Backend, Batch, Context, StorageError};

pub struct DynamoBackend {
    table: DynamoUrl,
    endpoint: String,
    /// `host[:port]` as the endpoint names it: the signed `host` header.
    host: String,
    region: String,
    creds: Credentials,
    net: Transport,
    /// The run's own document name, for the preflight's write probe.
    probe_name: String,
}

/// Reads one environment variable (a closure in tests).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

impl DynamoBackend {
    pub fn open(
        table: DynamoUrl,
        env: Env<'_>,
        ctx: &Context<'_>,
        probe_name: String,
    ) -> Result<Self, StorageError> {
        let unavailable = |message: String| StorageError::Unavailable {
            backend: "docdb",
            message: format!("dynamodb table {}: {message}", table.table),
        };
        let region = table
            .region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .ok_or_else(|| {
                unavailable("no region: add region=… to storage.docdb.url or set AWS_REGION".into())
            })?;
        let creds = sigv4::credentials(env, Some(&region), &|plain| ctx.transport(plain))
            .map_err(|e| unavailable(e.to_string()))?;
        let over = table
            .endpoint
            .clone()
            .or_else(|| env("AWS_ENDPOINT_URL_DYNAMODB"))
            .or_else(|| env("AWS_ENDPOINT_URL"));
        let (endpoint, plain_http) = match over {
            Some(e) => {
                let origin = Origin::of_url(&e)
                    .map_err(|m| unavailable(format!("the endpoint override: {m}")))?;
                let plain = (origin.scheme == net::Scheme::Http)
                    .then(|| net::HostPort {
                        host: origin.host.clone(),
                        port: Some(origin.port),
                    })
                    .into_iter()
                    .collect();
                (e, plain)
            }
            None => {
                let suffix = if region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                (format!("https://dynamodb.{region}.{suffix}/"), Vec::new())
            }
        };
        let after_scheme = endpoint.split_once("://").map_or("", |(_, r)| r);
        let host = after_scheme
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let net = ctx.transport(plain_http);
        Ok(Self {
            table,
            endpoint,
            host,
            region,
            creds,
            net,
            probe_name,
        })
    }

    fn failed(&self, message: impl std::fmt::Display) -> StorageError {
        StorageError::Docdb {
            target: format!("dynamodb table {}", self.table.table),
            message: one_line(&message.to_string()),
        }
    }

    /// Sends one operation; retries throttling (a 400 in DynamoDB's protocol) under the
    /// deadline, as the transport retries 5xx.
    fn call(&self, operation: &str, op: &str, body: &Value) -> Result<Answer, StorageError> {
        let body = serde_json::to_vec(body).expect("serialising JSON cannot fail");
        let mut wait = Duration::from_millis(100);
        loop {
            let answer = self.send_once(operation, op, &body)?;
            let throttled = matches!(
                answer.error_type.as_deref(),
                Some(
                    "ThrottlingException"
                        | "ProvisionedThroughputExceededException"
                        | "RequestLimitExceeded"
                        | "LimitExceededException"
                )
            );
            let wait_now = net::jitter(wait);
            if !throttled || Instant::now() + wait_now >= self.net.deadline() {
                return Ok(answer);
            }
            tracing::debug!(op, "throttled; retrying in {wait_now:?}");
            std::thread::sleep(wait_now);
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    fn send_once(&self, operation: &str, op: &str, body: &[u8]) -> Result<Answer, StorageError> {
        let amz_date = sigv4::amz_date(SystemTime::now());
        let target = format!("DynamoDB_20120810.{operation}");
        let content_type = "application/x-amz-json-1.0";
        let mut signed: Vec<(&str, &str)> = vec![
            ("content-type", content_type),
            ("host", &self.host),
            ("x-amz-date", &amz_date),
            ("x-amz-target", &target),
        ];
        if let Some(token) = &self.creds.session_token {
            signed.push(("x-amz-security-token", token.as_str()));
        }
        let path = endpoint_path(&self.endpoint);
        let authorization = sigv4::authorization(
            &self.creds,
            &sigv4::Signable {
                method: "POST",
                path: &path,
                query: "",
                headers: &signed,
                body,
                region: &self.region,
                service: "dynamodb",
                amz_date: &amz_date,
            },
        );
        let origin = Origin::of_url(&self.endpoint).map_err(|m| self.failed(m))?;
        let credential = Credential::new(origin, authorization);
        let mut req = Request::new("POST", self.endpoint.clone(), op)
            .header("Host", self.host.clone())
            .header("Content-Type", content_type)
            .header("X-Amz-Date", amz_date.clone())
            .header("X-Amz-Target", target.clone())
            .body(body)
            .credential(Some(&credential))
            .max_body(1 << 20);
        if let Some(token) = &self.creds.session_token {
            req = req.header("X-Amz-Security-Token", token.as_str());
        }
        let resp = self.net.send(&req).map_err(|e| self.failed(e))?;
        Ok(Answer::read(resp.status, &resp.body))
    }

    /// Checks that the table exists with the URL's keys and that this caller may write to it.
    fn check_table(&self) -> Result<(), StorageError> {
        let table = &self.table.table;
        let answer = self.call(
            "DescribeTable",
            "DescribeTable",
            &json!({ "TableName": table }),
        )?;
        let description = answer.ok("DescribeTable").map_err(|m| self.failed(m))?;
        let t = &description["Table"];
        let status = t["TableStatus"].as_str().unwrap_or_default();
        if !matches!(status, "ACTIVE" | "UPDATING") {
            return Err(self.failed(format!(
                "the table is {status:?}, not ACTIVE: it cannot be written now"
            )));
        }
        let key_of = |kind: &str| {
            t["KeySchema"].as_array().and_then(|keys| {
                keys.iter()
                    .find(|k| k["KeyType"] == kind)
                    .and_then(|k| k["AttributeName"].as_str())
            })
        };
        let (hash, range) = (key_of("HASH"), key_of("RANGE"));
        if hash != Some(self.table.partition_key.as_str())
            || range != self.table.sort_key.as_deref()
        {
            let shown = |k: Option<&str>| k.unwrap_or("none").to_owned();
            return Err(self.failed(format!(
                "the table's key is partition {} and sort {}, but storage.docdb.url says partition_key={} and sort_key={}",
                shown(hash),
                shown(range),
                self.table.partition_key,
                shown(self.table.sort_key.as_deref()),
            )));
        }
        // A put that can never succeed: the service checks the permission, then the condition.
        let probe = SignedDocument {
            name: self.probe_name.clone(),
            signed: b"{}".to_vec(),
            signature: "chainlet-preflight".into(),
            cert: "chainlet-preflight".into(),
            chain: "chainlet-preflight".into(),
            object: Value::Object(Map::new()),
        };
        let mut body = self.put_body(&probe).map_err(|m| self.failed(m))?;
        body["ConditionExpression"] = json!("attribute_not_exists(#k) AND attribute_exists(#k)");
        body["ExpressionAttributeNames"] = json!({ "#k": self.table.partition_key });
        let answer = self.call("PutItem", "PutItem (preflight, never written)", &body)?;
        match answer.error_type.as_deref() {
            Some("ConditionalCheckFailedException") => Ok(()),
            Some(_) => Err(self.failed(answer.describe("PutItem (preflight)"))),
            None => Err(self.failed(
                "PutItem (preflight): the service accepted a write whose condition can never hold",
            )),
        }
    }

    /// The `PutItem` request of one document.
    fn put_body(&self, doc: &SignedDocument) -> Result<Value, String> {
        let item = item(doc);
        for key in std::iter::once(&self.table.partition_key).chain(&self.table.sort_key) {
            if item.get(key).is_none_or(|v| v.get("NULL").is_some()) {
                return Err(format!(
                    "document {}: its key field {key} is empty, and DynamoDB keys cannot be",
                    doc.name
                ));
            }
        }
        Ok(json!({ "TableName": self.table.table, "Item": item }))
    }
}

impl Backend for DynamoBackend {
    fn name(&self) -> &'static str {
        "docdb"
    }

    fn preflight(&self) -> Result<(), StorageError> {
        self.check_table()
    }

    fn store(&self, batch: &Batch<'_>) -> Result<(), StorageError> {
        let docs = super::documents(batch).map_err(|m| self.failed(m))?;
        // Every request is built (and every key checked) before the first is sent.
        let bodies = docs
            .iter()
            .map(|d| self.put_body(d).map(|b| (d.name.as_str(), b)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| self.failed(m))?;
        for (name, body) in bodies {
            let op = format!("PutItem {name}");
            self.call("PutItem", &op, &body)?
                .ok(&op)
                .map_err(|m| self.failed(m))?;
        }
        Ok(())
    }
}

/// The item of a document: go-cloud's attribute values for each field.
pub fn item(doc: &SignedDocument) -> Map<String, Value> {
    super::FIELDS
        .iter()
        .filter_map(|name| Some((name.to_string(), doc.field(name)?)))
        .map(|(name, field)| {
            let value = match field {
                Field::Text(s) => text(s),
                Field::Bytes(b) => {
                    json!({ "B": base64::engine::general_purpose::STANDARD.encode(b) })
                }
                Field::Json(v) => attribute(v),
            };
            (name, value)
        })
        .collect()
}

fn text(s: &str) -> Value {
    if s.is_empty() {
        json!({ "NULL": true })
    } else {
        json!({ "S": s })
    }
}

/// A JSON value as go-cloud encodes what Go's `json.Unmarshal` made of it.
pub fn attribute(v: &Value) -> Value {
    match v {
        Value::Null => json!({ "NULL": true }),
        Value::Bool(b) => json!({ "BOOL": b }),
        Value::Number(n) => json!({ "N": go_float(n) }),
        Value::String(s) => text(s),
        Value::Array(items) => json!({ "L": items.iter().map(attribute).collect::<Vec<_>>() }),
        Value::Object(m) => {
            let m: Map<String, Value> = m.iter().map(|(k, v)| (k.clone(), attribute(v))).collect();
            json!({ "M": m })
        }
    }
}

/// A JSON number as Go holds it after `json.Unmarshal` into `any` (a float64), written as
/// `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest decimal that reads back the same, never
/// with an exponent. Rust's `Display` for `f64` is that form.
pub fn go_float(n: &serde_json::Number) -> String {
    let f = n.as_f64().unwrap_or(0.0);
    format!("{f}")
}

/// One DynamoDB answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    /// The exception's short name (`ResourceNotFoundException`) when the status is not 200.
    pub error_type: Option<String>,
    pub message: String,
}

impl Answer {
    /// Reads a body that may be anything: a server's answer is never trusted to be JSON.
    pub fn read(status: u16, body: &[u8]) -> Self {
        let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        if status == 200 {
            return Self {
                status,
                body: parsed,
                error_type: None,
                message: String::new(),
            };
        }
        // `com.amazonaws.dynamodb.v20120810#ResourceNotFoundException`
        let error_type = parsed["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
            .unwrap_or_else(|| format!("HTTP {status}"));
        let message = parsed["message"]
            .as_str()
            .or_else(|| parsed["Message"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
        Self {
            status,
            body: parsed,
            error_type: Some(error_type),
            message,
        }
    }

    fn describe(&self, op: &str) -> String {
        let kind = self.error_type.as_deref().unwrap_or("error");
        format!("{op}: {kind} (HTTP {}): {}", self.status, self.message)
    }

    /// The body of a success, or what went wrong.
    fn ok(self, op: &str) -> Result<Value, String> {
        match self.error_type {
            None => Ok(self.body),
            Some(_) => Err(self.describe(op)),
        }
    }
}

/// The endpoint's path, for signing: `/` when it has none.
fn endpoint_path(endpoint: &str) -> String {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let path = rest
        .find('/')
        .map_or("", |i| &rest[i..])
        .split(['?', '#'])
        .next()
        .unwrap_or_default();
    if path.is_empty() {
        "/".into()
    } else {
        path.into()
    }
}

/// An AWS message on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_use_go_clouds_encoding() {
        let doc = SignedDocument {
            name: "taskrun-u".into(),
            signed: b"{}".to_vec(),
            signature: "c2ln".into(),
            cert: String::new(),
            chain: String::new(),
            object: serde_json::from_str(
                r#"{"a":[1,2.5,1e21,-0.0,true,null,""],"m":{},"s":"x","big":18446744073709551615}"#,
            )
            .unwrap(),
        };
        let item = Value::Object(item(&doc));
        assert_eq!(item["Name"], json!({"S": "taskrun-u"}));
        assert_eq!(item["Signed"], json!({"B": "e30="}));
        assert_eq!(item["Signature"], json!({"S": "c2ln"}));
        assert_eq!(item["Cert"], json!({"NULL": true}));
        assert_eq!(item["Chain"], json!({"NULL": true}));
        assert_eq!(
            item["Object"]["M"]["a"],
            json!({"L": [{"N": "1"}, {"N": "2.5"}, {"N": "1000000000000000000000"}, {"N": "-0"},
                         {"BOOL": true}, {"NULL": true}, {"NULL": true}]})
        );
        assert_eq!(item["Object"]["M"]["m"], json!({"M": {}}));
        assert_eq!(item["Object"]["M"]["s"], json!({"S": "x"}));
        // Go's float64 of 2^64-1 is 2^64; FormatFloat writes its shortest digits, then zeros.
        assert_eq!(
            item["Object"]["M"]["big"],
            json!({"N": "18446744073709552000"})
        );
    }

    #[test]
    fn answers_that_are_not_json_are_errors_not_panics() {
        let a = Answer::read(400, b"<html>no</html>");
        assert_eq!(a.error_type.as_deref(), Some("HTTP 400"));
        assert!(a.message.contains("<html>"));
        let a = Answer::read(
            400,
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#,
        );
        assert_eq!(a.error_type.as_deref(), Some("ResourceNotFoundException"));
        assert_eq!(a.message, "Requested resource not found");
        assert!(Answer::read(200, b"{}").error_type.is_none());
    }

    #[test]
    fn the_signed_path_is_the_endpoints() {
        assert_eq!(endpoint_path("http://127.0.0.1:4566"), "/");
        assert_eq!(
            endpoint_path("https://dynamodb.eu-west-1.amazonaws.com/"),
            "/"
        );
        assert_eq!(endpoint_path("https://proxy.example/aws/?x"), "/aws/");
    }
}
