//! Storage `grafeas`: notes and occurrences in Grafeas v1 (Container Analysis), shaped as
//! Chains creates them, over the REST form of the API Chains calls through gRPC.
//!
//! ```text
//! POST /v1/projects/<p>/notes?noteId=<noteid>-simplesigning     ATTESTATION note (images)
//!      {"shortDescription":"OCI Artifact Attestation Note",
//!       "attestation":{"hint":{"humanReadableName":<storage.grafeas.notehint>}}}
//! POST /v1/projects/<p>/notes?noteId=<noteid>-taskrun-intoto    BUILD note (attestations;
//!      {"shortDescription":"Build Provenance Note for TaskRun",    `pipelinerun` for those)
//!       "build":{"builderVersion":"tekton.dev/v1/TaskRun"}}
//! POST /v1/projects/<p>/occurrences                              one per image signature:
//!      {"resourceUri":"<image>@sha256:<hex>","noteName":"projects/<p>/notes/<…-simplesigning>",
//!       "attestation":{"serializedPayload":b64,"signatures":[{"signature":b64(base64 sig),
//!       "publicKeyId":kmsref}]},"envelope":{"payload":b64,"payloadType":simple signing,
//!       "signatures":[{"sig":b64(base64 sig),"keyid":kmsref}]}}
//! POST /v1/projects/<p>/occurrences                              one per statement subject:
//!      {"resourceUri":"<name>@<alg>:<hex>","noteName":"projects/<p>/notes/<…-intoto>",
//!       "build":{"intotoStatement":<the statement as Grafeas' SLSA v0.2 converter makes it>},
//!       "envelope":{"payload":b64(statement),"payloadType":"application/vnd.in-toto+json",
//!       "signatures":[{"sig":b64(the DSSE envelope's JSON),"keyid":kmsref}]}}
//! ```
//! `<noteid>` is `storage.grafeas.noteid`, else `tekton-<namespace>`; a note that exists
//! (409) is used as it is. Grafeas names occurrences itself, so a blind re-run would add
//! copies: before creating one, the note's occurrences for the resource are listed (the
//! filter Chains uses to read them back, `resourceUrl="…"`) and an occurrence with the same
//! envelope is kept instead. The preflight gets a token and reads the notes (200 or 404
//! pass; 401/403 stop the run before any backend writes).
//!
//! Tokens come from [`crate::cloud::google`] (scope cloud-platform). The endpoint is
//! Container Analysis' public one; `CHAINLET_GRAFEAS_URL` points at another Grafeas (plain
//! HTTP only for an `--insecure-registry` host).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use super::{Backend, Batch, Context, Registration, StorageError};
use crate::cloud::google::{self, GoogleAuth};
use crate::config::{ArtifactType, StorageName};
use crate::kube::RunKind;
use crate::net::{self, Class, Credential, Origin, Policy, Request, Response, Transport};

pub const PUBLIC_ENDPOINT: &str = "https://containeranalysis.googleapis.com";
pub const ENDPOINT_ENV: &str = "CHAINLET_GRAFEAS_URL";
const SIMPLESIGNING_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const INTOTO_TYPE: &str = "application/vnd.in-toto+json";
const MAX_ANSWER: u64 = 8 * 1024 * 1024;

pub const REGISTRATION: Registration = Registration {
    name: StorageName::Grafeas,
    open: |ctx: &Context<'_>| {
        Ok(Box::new(GrafeasBackend::open(ctx, |k| {
            std::env::var(k).ok()
        })?))
    },
};

pub struct GrafeasBackend {
    endpoint: String,
    project: String,
    note_prefix: String,
    hint: String,
    kmsref: String,
    kind: RunKind,
    net: Transport,
    auth: GoogleAuth,
}

/// What a batch becomes: notes (id, body) and the occurrences on them.
pub type Plan = (Vec<(String, Value)>, Vec<Occurrence>);

/// One occurrence to create, and the note it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    pub note_id: String,
    pub resource_uri: String,
    pub body: Value,
}

impl GrafeasBackend {
    pub fn open(
        ctx: &Context<'_>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, StorageError> {
        let cfg = ctx.config;
        let project = cfg.get("storage.grafeas.projectid").trim().to_owned();
        if project.is_empty() {
            return Err(StorageError::Config {
                key: "storage.grafeas.projectid",
                message: "is empty: storage grafeas needs the project of its notes".into(),
            });
        }
        check_id("storage.grafeas.projectid", &project)?;
        let note_prefix = match cfg.get("storage.grafeas.noteid").trim() {
            "" if ctx.namespace.is_empty() => {
                return Err(StorageError::Unavailable {
                    backend: "grafeas",
                    message: "the default note id is tekton-<namespace>, and the namespace is unknown: pass --namespace or set storage.grafeas.noteid".into(),
                });
            }
            "" => format!("tekton-{}", ctx.namespace),
            id => id.to_owned(),
        };
        check_id("storage.grafeas.noteid", &note_prefix)?;
        let own = match ctx.target.kind {
            RunKind::TaskRun => ArtifactType::TaskRun,
            RunKind::PipelineRun => ArtifactType::PipelineRun,
        };
        if cfg.stores(own, StorageName::Grafeas) && cfg.format(own) == "tekton" {
            return Err(StorageError::Config {
                key: match own {
                    ArtifactType::PipelineRun => "artifacts.pipelinerun.format",
                    _ => "artifacts.taskrun.format",
                },
                message: "is tekton: storage grafeas takes simplesigning and in-toto payloads only, as in Chains".into(),
            });
        }
        let endpoint = env(ENDPOINT_ENV)
            .map(|v| v.trim().trim_end_matches('/').to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| PUBLIC_ENDPOINT.to_owned());
        Origin::of_url(&endpoint).map_err(|e| StorageError::Unavailable {
            backend: "grafeas",
            message: format!("{ENDPOINT_ENV}: {e}"),
        })?;
        let mut plain_http = Vec::new();
        for value in &ctx.registry.insecure_registries {
            if let Ok(hp) = net::HostPort::parse(value) {
                plain_http.push(hp);
            }
        }
        let auth = GoogleAuth::from_lookup(
            env,
            google::Options {
                deadline: ctx.deadline,
                extra_ca: ctx.extra_cas(),
            },
        )
        .map_err(|e| StorageError::Grafeas {
            target: format!("projects/{project}"),
            message: e.to_string(),
        })?;
        let net = ctx.transport(plain_http);
        Ok(Self {
            endpoint,
            project,
            note_prefix,
            hint: cfg.get("storage.grafeas.notehint").to_owned(),
            kmsref: cfg.get("signers.kms.kmsref").to_owned(),
            kind: ctx.target.kind,
            net,
            auth,
        })
    }

    fn fail(&self, what: &str, message: impl std::fmt::Display) -> StorageError {
        StorageError::Grafeas {
            target: format!("{what} in projects/{}", self.project),
            message: message.to_string(),
        }
    }

    fn kind_name(&self) -> &'static str {
        match self.kind {
            RunKind::TaskRun => "taskrun",
            RunKind::PipelineRun => "pipelinerun",
        }
    }

    pub fn simplesigning_note_id(&self) -> String {
        format!("{}-simplesigning", self.note_prefix)
    }

    pub fn build_note_id(&self) -> String {
        format!("{}-{}-intoto", self.note_prefix, self.kind_name())
    }

    fn credential(&self) -> Result<Credential, StorageError> {
        let token = self
            .auth
            .token(&[google::CLOUD_PLATFORM])
            .map_err(|e| self.fail("token", e))?;
        let origin = Origin::of_url(&self.endpoint).map_err(|e| self.fail("token", e))?;
        Ok(Credential::new(
            origin,
            Zeroizing::new(format!("Bearer {}", token.as_str())),
        ))
    }

    fn send(&self, req: Request<'_>, what: &str) -> Result<Response, StorageError> {
        self.net.send(&req).map_err(|e| self.fail(what, e))
    }

    /// Creates a note; one that exists already is kept, as Chains keeps it.
    fn create_note(&self, cred: &Credential, id: &str, note: &Value) -> Result<(), StorageError> {
        let url = format!(
            "{}/v1/projects/{}/notes?noteId={}",
            self.endpoint,
            self.project,
            google::form_encode(id)
        );
        let body = serde_json::to_vec(note).expect("JSON values serialise");
        let what = format!("note {id}");
        let r = self.send(
            Request::new("POST", url, format!("create Grafeas note {id}"))
                .header("Content-Type", "application/json")
                .body(&body)
                .credential(Some(cred))
                .policy(Policy::idempotent())
                .max_body(MAX_ANSWER),
            &what,
        )?;
        match r.status {
            200 | 409 => Ok(()),
            _ => Err(self.fail(&what, answered(&r))),
        }
    }

    /// Whether the note already has an occurrence for the resource with this envelope.
    fn has(&self, cred: &Credential, occ: &Occurrence) -> Result<bool, StorageError> {
        let filter = format!("resourceUrl={}", json!(occ.resource_uri));
        let mut page = String::new();
        for _ in 0..100 {
            let mut url = format!(
                "{}/v1/projects/{}/notes/{}/occurrences?filter={}",
                self.endpoint,
                self.project,
                occ.note_id,
                google::form_encode(&filter)
            );
            if !page.is_empty() {
                url.push_str(&format!("&pageToken={}", google::form_encode(&page)));
            }
            let what = format!("occurrences of {}", occ.resource_uri);
            let r = self.send(
                Request::new("GET", url, "list Grafeas occurrences")
                    .credential(Some(cred))
                    .max_body(MAX_ANSWER),
                &what,
            )?;
            if r.status == 404 {
                return Ok(false);
            }
            if r.status != 200 {
                return Err(self.fail(&what, answered(&r)));
            }
            let list = parse_occurrence_list(&r.body).map_err(|m| self.fail(&what, m))?;
            let want = &occ.body["envelope"];
            if list.occurrences.iter().any(|o| {
                o.get("resourceUri") == Some(&json!(occ.resource_uri))
                    && same_envelope(&o["envelope"], want)
            }) {
                return Ok(true);
            }
            match list.next_page_token {
                Some(t) if !t.is_empty() => page = t,
                _ => return Ok(false),
            }
        }
        Ok(false)
    }

    fn create_occurrence(
        &self,
        cred: &Credential,
        occ: &Occurrence,
    ) -> Result<String, StorageError> {
        let url = format!("{}/v1/projects/{}/occurrences", self.endpoint, self.project);
        let body = serde_json::to_vec(&occ.body).expect("JSON values serialise");
        let what = format!("occurrence for {}", occ.resource_uri);
        let mut backoff = Duration::from_millis(200);
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let r = self.net.send(
                &Request::new("POST", url.clone(), "create Grafeas occurrence")
                    .header("Content-Type", "application/json")
                    .body(&body)
                    .credential(Some(cred))
                    .policy(Policy::once())
                    .max_body(MAX_ANSWER),
            );
            let (last, retry_after) = match r {
                Ok(r) if r.status == 200 => {
                    return parse_created(&r.body).map_err(|m| self.fail(&what, m));
                }
                Ok(r) if r.class() == Class::Final => return Err(self.fail(&what, answered(&r))),
                Ok(r) => (answered(&r), r.retry_after()),
                Err(e) if matches!(&e.kind, net::ErrorKind::Fault(f) if f.class() == Class::Retryable) => {
                    (e.to_string(), None)
                }
                Err(e) => return Err(self.fail(&what, e)),
            };
            // A lost answer may hide a created occurrence: look before creating another.
            if self.has(cred, occ).unwrap_or(false) {
                return Ok("(created by an earlier attempt)".into());
            }
            let wait = net::jitter(backoff)
                .max(retry_after.unwrap_or_default().min(Duration::from_secs(60)));
            if Instant::now() + wait >= self.net.deadline() {
                return Err(self.fail(
                    &what,
                    format!("still failing when the deadline passed ({attempts} attempts): {last}"),
                ));
            }
            std::thread::sleep(wait);
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// The notes and occurrences of a batch, as Chains builds them.
    pub fn plan(&self, batch: &Batch<'_>) -> Result<Plan, StorageError> {
        let mut notes = Vec::new();
        let mut occs = Vec::new();
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let signatures = |sig: &[u8], field: &str, key_field: &str| {
            let mut s = Map::new();
            s.insert(field.into(), json!(b64(sig)));
            if !self.kmsref.is_empty() {
                s.insert(key_field.into(), json!(self.kmsref));
            }
            Value::Array(vec![Value::Object(s)])
        };
        if !batch.images.is_empty() {
            let id = self.simplesigning_note_id();
            let mut hint = Map::new();
            if !self.hint.is_empty() {
                hint.insert("humanReadableName".into(), json!(self.hint));
            }
            notes.push((
                id.clone(),
                json!({"shortDescription": "OCI Artifact Attestation Note", "attestation": {"hint": hint}}),
            ));
            for sig in &batch.images {
                let uri = sig.image.to_string();
                let raw = sig.signature.as_bytes();
                occs.push(Occurrence {
                    note_id: id.clone(),
                    resource_uri: uri.clone(),
                    body: json!({
                        "resourceUri": uri,
                        "noteName": format!("projects/{}/notes/{id}", self.project),
                        "attestation": {
                            "serializedPayload": b64(&sig.payload),
                            "signatures": signatures(raw, "signature", "publicKeyId"),
                        },
                        "envelope": {
                            "payload": b64(&sig.payload),
                            "payloadType": SIMPLESIGNING_TYPE,
                            "signatures": signatures(raw, "sig", "keyid"),
                        },
                    }),
                });
            }
        }
        if let Some(att) = batch.attestation {
            let what = format!("attestation {}", att.key);
            let envelope = att
                .envelope()
                .ok_or_else(|| self.fail(&what, "the signature is not a DSSE envelope"))?;
            let envelope =
                serde_json::to_vec(envelope).expect("serialising an envelope cannot fail");
            let statement: Value = serde_json::from_slice(&att.statement)
                .map_err(|e| self.fail(&what, format!("the statement is not JSON: {e}")))?;
            let intoto = intoto_statement(&statement).map_err(|m| self.fail(&what, m))?;
            let id = self.build_note_id();
            let kind = match self.kind {
                RunKind::TaskRun => "TaskRun",
                RunKind::PipelineRun => "PipelineRun",
            };
            notes.push((
                id.clone(),
                json!({
                    "shortDescription": "Build Provenance Note for TaskRun",
                    "build": {"builderVersion": format!("tekton.dev/v1/{kind}")},
                }),
            ));
            for uri in subject_uris(&statement) {
                occs.push(Occurrence {
                    note_id: id.clone(),
                    resource_uri: uri.clone(),
                    body: json!({
                        "resourceUri": uri,
                        "noteName": format!("projects/{}/notes/{id}", self.project),
                        "build": {"intotoStatement": intoto},
                        "envelope": {
                            "payload": b64(&att.statement),
                            "payloadType": INTOTO_TYPE,
                            "signatures": signatures(&envelope, "sig", "keyid"),
                        },
                    }),
                });
            }
        }
        Ok((notes, occs))
    }
}

impl Backend for GrafeasBackend {
    fn name(&self) -> &'static str {
        "grafeas"
    }

    fn preflight(&self) -> Result<(), StorageError> {
        let cred = self.credential()?;
        for id in [self.simplesigning_note_id(), self.build_note_id()] {
            let url = format!("{}/v1/projects/{}/notes/{id}", self.endpoint, self.project);
            let what = format!("note {id}");
            let r = self.send(
                Request::new("GET", url, "read Grafeas note")
                    .credential(Some(&cred))
                    .max_body(MAX_ANSWER),
                &what,
            )?;
            if !matches!(r.status, 200 | 404) {
                return Err(self.fail(&what, answered(&r)));
            }
        }
        Ok(())
    }

    fn store(&self, batch: &Batch<'_>) -> Result<(), StorageError> {
        let (notes, occs) = self.plan(batch)?;
        if notes.is_empty() {
            return Ok(());
        }
        let cred = self.credential()?;
        for (id, note) in &notes {
            self.create_note(&cred, id, note)?;
        }
        for occ in &occs {
            if self.has(&cred, occ)? {
                tracing::info!(
                    resource = occ.resource_uri,
                    note = occ.note_id,
                    "Grafeas already has this occurrence; not created again"
                );
                continue;
            }
            let name = self.create_occurrence(&cred, occ)?;
            tracing::info!(
                occurrence = name,
                resource = occ.resource_uri,
                "created Grafeas occurrence"
            );
        }
        Ok(())
    }
}

/// A project or note id goes into URL paths: Grafeas' ids are letters, digits, `-`, `_`, `.`.
fn check_id(key: &'static str, id: &str) -> Result<(), StorageError> {
    if id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !id.starts_with('.')
    {
        Ok(())
    } else {
        Err(StorageError::Config {
            key,
            message: format!("{id:?}: only letters, digits, '-', '_' and '.' are allowed"),
        })
    }
}

fn same_envelope(a: &Value, b: &Value) -> bool {
    a["payload"] == b["payload"] && a["signatures"][0]["sig"] == b["signatures"][0]["sig"]
}

fn answered(r: &Response) -> String {
    let text = String::from_utf8_lossy(&r.body);
    let message = serde_json::from_slice::<Value>(&r.body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| text.lines().next().unwrap_or("").to_owned());
    let line: String = message
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    format!("answered {}: {}", r.status, line.trim())
}

/// The resource URIs Chains gives build occurrences: `name@alg:hex` per subject digest.
pub fn subject_uris(statement: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for s in statement["subject"].as_array().into_iter().flatten() {
        let name = s["name"].as_str().unwrap_or("");
        for (alg, d) in s["digest"].as_object().into_iter().flatten() {
            out.push(format!("{name}@{alg}:{}", d.as_str().unwrap_or("")));
        }
    }
    out
}

/// A page of `ListNoteOccurrences`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OccurrenceList {
    #[serde(default)]
    pub occurrences: Vec<Map<String, Value>>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

pub fn parse_occurrence_list(body: &[u8]) -> Result<OccurrenceList, String> {
    serde_json::from_slice(body).map_err(|e| format!("the occurrence list is not Grafeas': {e}"))
}

/// The name Grafeas gave a created occurrence.
pub fn parse_created(body: &[u8]) -> Result<String, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the answer is not an occurrence: {e}"))?;
    match v.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => Ok(n.chars().filter(|c| !c.is_control()).take(300).collect()),
        _ => Err("the answer is not an occurrence: it has no name".into()),
    }
}

/// The statement as Grafeas' `intoto.ToProto` gives it, in proto3 JSON: the header fields and
/// the predicate read as SLSA v0.2 into `slsaProvenanceZeroTwo` (a SLSA v1.0 predicate has
/// none of those fields, so only empty messages remain, as in Chains' occurrences).
pub fn intoto_statement(st: &Value) -> Result<Value, String> {
    let mut out = Map::new();
    put_str(&mut out, "_type", &st["_type"]);
    let subjects: Vec<Value> = st["subject"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let mut m = Map::new();
            put_str(&mut m, "name", &s["name"]);
            put_digest(&mut m, "digest", &s["digest"]);
            Value::Object(m)
        })
        .collect();
    if !subjects.is_empty() {
        out.insert("subject".into(), Value::Array(subjects));
    }
    put_str(&mut out, "predicateType", &st["predicateType"]);
    let p = &st["predicate"];
    let mut prov = Map::new();
    let mut builder = Map::new();
    put_str(&mut builder, "id", &p["builder"]["id"]);
    prov.insert("builder".into(), Value::Object(builder));
    put_str(&mut prov, "buildType", &p["buildType"]);
    let inv = &p["invocation"];
    let cs = &inv["configSource"];
    let mut config_source = Map::new();
    put_str(&mut config_source, "uri", &cs["uri"]);
    put_digest(&mut config_source, "digest", &cs["digest"]);
    put_str(&mut config_source, "entryPoint", &cs["entryPoint"]);
    let mut invocation = Map::new();
    invocation.insert("configSource".into(), Value::Object(config_source));
    put_struct(&mut invocation, "parameters", &inv["parameters"])?;
    put_struct(&mut invocation, "environment", &inv["environment"])?;
    prov.insert("invocation".into(), Value::Object(invocation));
    put_struct(&mut prov, "buildConfig", &p["buildConfig"])?;
    if let Some(md) = p.get("metadata").filter(|m| !m.is_null()) {
        let mut m = Map::new();
        put_str(&mut m, "buildInvocationId", &md["buildInvocationId"]);
        put_str(&mut m, "buildStartedOn", &md["buildStartedOn"]);
        put_str(&mut m, "buildFinishedOn", &md["buildFinishedOn"]);
        let mut c = Map::new();
        for f in ["parameters", "environment", "materials"] {
            if md["completeness"][f] == json!(true) {
                c.insert(f.into(), json!(true));
            }
        }
        m.insert("completeness".into(), Value::Object(c));
        if md["reproducible"] == json!(true) {
            m.insert("reproducible".into(), json!(true));
        }
        prov.insert("metadata".into(), Value::Object(m));
    }
    let materials: Vec<Value> = p["materials"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            let mut m = Map::new();
            put_str(&mut m, "uri", &x["uri"]);
            put_digest(&mut m, "digest", &x["digest"]);
            Value::Object(m)
        })
        .collect();
    if !materials.is_empty() {
        prov.insert("materials".into(), Value::Array(materials));
    }
    out.insert("slsaProvenanceZeroTwo".into(), Value::Object(prov));
    Ok(Value::Object(out))
}

/// A string field, left out when empty (proto3 JSON).
fn put_str(m: &mut Map<String, Value>, key: &str, v: &Value) {
    if let Some(s) = v.as_str().filter(|s| !s.is_empty()) {
        m.insert(key.into(), json!(s));
    }
}

fn put_digest(m: &mut Map<String, Value>, key: &str, v: &Value) {
    let d: BTreeMap<&str, &str> = v
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
        .collect();
    if !d.is_empty() {
        m.insert(key.into(), json!(d));
    }
}

/// A `google.protobuf.Struct` field: an object as it is, absent for null; anything else
/// fails, as Grafeas' converter fails on it.
fn put_struct(m: &mut Map<String, Value>, key: &str, v: &Value) -> Result<(), String> {
    match v {
        Value::Null => Ok(()),
        Value::Object(_) => {
            m.insert(key.into(), v.clone());
            Ok(())
        }
        _ => Err(format!("predicate field {key} is not an object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slsa_v1_predicate_leaves_only_empty_v02_messages() {
        let st = json!({"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"r/a","digest":{"sha256":"ab"}}],
            "predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{},"runDetails":{}}});
        assert_eq!(
            intoto_statement(&st).unwrap(),
            json!({"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"r/a","digest":{"sha256":"ab"}}],
                "predicateType":"https://slsa.dev/provenance/v1",
                "slsaProvenanceZeroTwo":{"builder":{},"invocation":{"configSource":{}}}})
        );
        assert_eq!(subject_uris(&st), ["r/a@sha256:ab"]);
    }

    #[test]
    fn a_slsa_v02_predicate_keeps_its_fields_in_proto_json_names() {
        let st = json!({"predicate":{"builder":{"id":"b"},"buildType":"t",
            "invocation":{"configSource":{"uri":"git+x","digest":{"sha1":"c"},"entryPoint":"e"},"parameters":{"p":1}},
            "buildConfig":{"steps":[]},"metadata":{"buildStartedOn":"2026-01-02T03:04:05Z","completeness":{"parameters":false,"materials":true},"reproducible":false},
            "materials":[{"uri":"m","digest":{"sha256":"d"}}]}});
        let p = &intoto_statement(&st).unwrap()["slsaProvenanceZeroTwo"];
        assert_eq!(p["builder"]["id"], "b");
        assert_eq!(p["invocation"]["configSource"]["entryPoint"], "e");
        assert_eq!(p["invocation"]["parameters"], json!({"p":1}));
        assert_eq!(
            p["metadata"],
            json!({"buildStartedOn":"2026-01-02T03:04:05Z","completeness":{"materials":true}})
        );
        assert_eq!(p["materials"], json!([{"uri":"m","digest":{"sha256":"d"}}]));
        assert!(intoto_statement(&json!({"predicate":{"buildConfig":[1]}})).is_err());
    }
}
