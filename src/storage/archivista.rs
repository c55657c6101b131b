//! Storage `archivista`: the attestation's DSSE envelope, uploaded to an Archivista server as
//! Chains uploads it.
//!
//! ```text
//! POST <storage.archivista.url>/upload      Content-Type: application/json
//!      body: the envelope as Go's encoding/json writes it (payload, payloadType, signatures
//!            [keyid, sig]) and a newline: the bytes Chains' Archivista client sends
//!      answer 200 {"gitoid":"<hex>"}: sha256 of "blob <len>\0" + body, as Archivista computes it
//! GET  <storage.archivista.url>/download/<gitoid>   the stored bytes (500 when there are none)
//! ```
//!
//! Archivista names what it stores by the gitoid of the bytes, so sending Chains' exact bytes
//! gives Chains' object name. Before uploading, the envelope's gitoid is looked up with a
//! download: a re-run finds its envelope and uploads nothing (Archivista's SQL index refuses
//! a second upload of the same gitoid, so a blind re-upload would fail). The same lookup runs
//! before every retry of a failed upload, in case the failed attempt was stored after all.
//!
//! Archivista stores DSSE envelopes only: image signatures (`artifacts.oci.storage`) and
//! format `tekton` (a raw signature) are refused when the backend is opened, where Chains
//! fails at store time.
//!
//! The preflight is a download of a gitoid nobody stores: any answer Archivista gives to a
//! download (200, its 500 for a missing object, a 404) shows the server is there; a refused
//! connection, a TLS failure, 401/403, or Go's "404 page not found" for a path that is not an
//! Archivista route stops the run before any backend writes.

use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::{Backend, Batch, Context, Registration, StorageError};
use crate::config::{ArtifactType, StorageName};
use crate::net::{self, Class, ErrorKind, Policy, Request, Response, Transport};
use crate::signing::dsse::Envelope;

const KEY: &str = "storage.archivista.url";
/// The upload answer is a gitoid in a small JSON object.
const MAX_ANSWER: u64 = 64 * 1024;

pub const REGISTRATION: Registration = Registration {
    name: StorageName::Archivista,
    open: |ctx: &Context<'_>| Ok(Box::new(ArchivistaBackend::open(ctx)?)),
};

pub struct ArchivistaBackend {
    /// `storage.archivista.url` without trailing slashes.
    base: String,
    net: Transport,
}

impl ArchivistaBackend {
    pub fn open(ctx: &Context<'_>) -> Result<Self, StorageError> {
        let config_error = |message: String| StorageError::Config { key: KEY, message };
        let url = ctx.config.get(KEY).trim();
        if url.is_empty() {
            return Err(config_error(
                "is empty: storage archivista needs the Archivista server's URL".into(),
            ));
        }
        net::Origin::of_url(url).map_err(config_error)?;
        if url.contains(['?', '#']) {
            return Err(config_error(format!(
                "{url}: a query or fragment cannot be joined with /upload"
            )));
        }
        let own = match ctx.target.kind {
            crate::kube::RunKind::TaskRun => ArtifactType::TaskRun,
            crate::kube::RunKind::PipelineRun => ArtifactType::PipelineRun,
        };
        let refuse = |key: &'static str, message: &str| StorageError::Config {
            key,
            message: format!("{message}: storage archivista stores DSSE envelopes only"),
        };
        if own == ArtifactType::TaskRun
            && ctx
                .config
                .stores(ArtifactType::Oci, StorageName::Archivista)
        {
            return Err(refuse(
                "artifacts.oci.storage",
                "lists archivista, but image signatures are simple-signing payloads",
            ));
        }
        if ctx.config.format(own) == "tekton" {
            let key = match own {
                ArtifactType::PipelineRun => "artifacts.pipelinerun.format",
                _ => "artifacts.taskrun.format",
            };
            return Err(refuse(
                key,
                "is tekton, whose signature is raw, not an envelope",
            ));
        }
        let mut plain_http = Vec::new();
        for value in &ctx.registry.insecure_registries {
            let hp = net::HostPort::parse(value).map_err(|e| StorageError::Config {
                key: KEY,
                message: format!("--insecure-registry {value:?}: {e}"),
            })?;
            plain_http.push(hp);
        }
        let net = ctx.transport(plain_http);
        Ok(Self {
            base: url.trim_end_matches('/').to_owned(),
            net,
        })
    }

    fn fail(&self, what: &str, message: impl std::fmt::Display) -> StorageError {
        StorageError::Archivista {
            target: format!("{what} {}", self.base),
            message: message.to_string(),
        }
    }

    fn download_url(&self, gitoid: &str) -> String {
        format!("{}/download/{gitoid}", self.base)
    }

    /// One request, its connection faults retried with backoff until the deadline; every
    /// HTTP answer (5xx included) is returned to the caller, who knows what it means here.
    fn send(&self, req: Request<'_>) -> Result<Response, net::Error> {
        let req = req.policy(Policy::once());
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.net.send(&req) {
                Err(e) if retryable_fault(&e) && self.time_for(backoff) => {
                    std::thread::sleep(net::jitter(backoff));
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }

    fn time_for(&self, wait: Duration) -> bool {
        Instant::now() + wait < self.net.deadline()
    }

    /// Whether Archivista already holds exactly `body` under `gitoid`. Any other outcome
    /// (its 500 for a missing object, a fault) is "no": the upload that follows meets it.
    fn holds(&self, gitoid: &str, body: &[u8]) -> bool {
        let url = self.download_url(gitoid);
        let req = Request::new("GET", url, "look up the envelope in Archivista")
            .header("Content-Type", "application/json")
            .max_body(body.len() as u64 + 1);
        match self.send(req) {
            Ok(r) if r.status == 200 => r.body == body,
            Ok(r) => {
                tracing::debug!(gitoid, status = r.status, "not in Archivista yet");
                false
            }
            Err(e) => {
                tracing::debug!(gitoid, error = %e, "Archivista lookup failed");
                false
            }
        }
    }

    fn upload(&self, key: &str, body: &[u8], gitoid: &str) -> Result<(), StorageError> {
        let url = format!("{}/upload", self.base);
        let what = format!("upload of {key} to");
        let mut backoff = Duration::from_millis(200);
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let req = Request::new("POST", url.clone(), "upload to Archivista")
                .header("Content-Type", "application/json")
                .body(body)
                .policy(Policy::once())
                .max_body(MAX_ANSWER);
            let (last, retry_after) = match self.net.send(&req) {
                Ok(r) if r.status == 200 => {
                    let answered = parse_upload_answer(&r.body).map_err(|m| {
                        self.fail(&what, format!("the server answered 200, but {m}"))
                    })?;
                    if answered != gitoid {
                        tracing::warn!(
                            gitoid = answered,
                            expected = gitoid,
                            "Archivista named the envelope by other bytes than chainlet sent"
                        );
                    }
                    tracing::info!(
                        gitoid = answered,
                        url = self.base,
                        "stored {key} in Archivista"
                    );
                    return Ok(());
                }
                Ok(r) if r.class() == Class::Final => {
                    return Err(self.fail(&what, answered(&r)));
                }
                Ok(r) => (answered(&r), r.retry_after()),
                Err(e) if retryable_fault(&e) => (e.to_string(), None),
                Err(e) => return Err(self.fail(&what, e)),
            };
            // The failed attempt may have been stored (a lost answer, or the index refusing a
            // gitoid it already has).
            if self.holds(gitoid, body) {
                tracing::info!(gitoid, url = self.base, "stored {key} in Archivista");
                return Ok(());
            }
            let wait = net::jitter(backoff)
                .max(retry_after.unwrap_or_default().min(Duration::from_secs(60)));
            if !self.time_for(wait) {
                return Err(self.fail(
                    &what,
                    format!("still failing when the deadline passed ({attempts} attempts): {last}"),
                ));
            }
            std::thread::sleep(wait);
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}

impl Backend for ArchivistaBackend {
    fn name(&self) -> &'static str {
        "archivista"
    }

    fn preflight(&self) -> Result<(), StorageError> {
        let url = self.download_url(&gitoid(b""));
        let what = "preflight of";
        let mut backoff = Duration::from_millis(200);
        loop {
            let req = Request::new("GET", url.clone(), "reach Archivista").max_body(MAX_ANSWER);
            let r = self.send(req).map_err(|e| self.fail(what, e))?;
            match r.status {
                200 | 500 => return Ok(()),
                404 if !r.body.starts_with(b"404 page not found") => return Ok(()),
                s if s > 500 || s == 408 || s == 429 => {
                    if !self.time_for(backoff) {
                        return Err(self.fail(what, answered(&r)));
                    }
                    std::thread::sleep(net::jitter(backoff));
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                _ => {
                    return Err(self.fail(
                        what,
                        format!(
                            "a download {}; is {KEY} the Archivista server?",
                            answered(&r)
                        ),
                    ));
                }
            }
        }
    }

    fn store(&self, batch: &Batch<'_>) -> Result<(), StorageError> {
        if let Some(sig) = batch.images.first() {
            return Err(self.fail(
                &format!("signature of {}", sig.image),
                "Archivista stores DSSE envelopes only",
            ));
        }
        let Some(att) = batch.attestation else {
            return Ok(());
        };
        let envelope = att.envelope().ok_or_else(|| {
            self.fail(
                &format!("upload of {} to", att.key),
                "the signature is not a DSSE envelope",
            )
        })?;
        let body = upload_body(envelope)
            .map_err(|m| self.fail(&format!("upload of {} to", att.key), m))?;
        let id = gitoid(&body);
        if self.holds(&id, &body) {
            tracing::info!(
                gitoid = id,
                url = self.base,
                "{} is already in Archivista; not uploaded again",
                att.key
            );
            return Ok(());
        }
        self.upload(&att.key, &body, &id)
    }
}

fn retryable_fault(e: &net::Error) -> bool {
    matches!(&e.kind, ErrorKind::Fault(f) if f.class() == Class::Retryable)
}

/// "answered 503: <first line of the body>", short and on one line.
fn answered(r: &Response) -> String {
    let text = String::from_utf8_lossy(&r.body);
    let line: String = text
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    format!("answered {}: {}", r.status, line.trim())
}

/// Archivista's name for `bytes`: hex sha256 of git's blob form, `blob <len>\0` + bytes.
pub fn gitoid(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    crate::registry::hex(&h.finalize())
}

/// The upload body Chains sends: the envelope decoded into go-witness' `dsse.Envelope` and
/// written by Go's `json.Encoder` (its field order, base64 of the byte fields, HTML-safe
/// string escapes, a trailing newline).
pub fn upload_body(envelope: &Envelope) -> Result<Vec<u8>, String> {
    let std = base64::engine::general_purpose::STANDARD;
    let rebase = |what: &str, s: &str| {
        std.decode(s)
            .map(|b| std.encode(b))
            .map_err(|e| format!("the envelope's {what} is not base64: {e}"))
    };
    let mut out = String::with_capacity(envelope.payload.len() + 256);
    out.push_str("{\"payload\":\"");
    out.push_str(&rebase("payload", &envelope.payload)?);
    out.push_str("\",\"payloadType\":");
    crate::formats::go_json::string(&mut out, &envelope.payload_type);
    out.push_str(",\"signatures\":[");
    for (i, s) in envelope.signatures.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"keyid\":");
        crate::formats::go_json::string(&mut out, &s.keyid);
        out.push_str(",\"sig\":\"");
        out.push_str(&rebase("signature", &s.sig)?);
        out.push_str("\"}");
    }
    out.push_str("]}\n");
    Ok(out.into_bytes())
}

/// The gitoid in Archivista's upload answer, `{"gitoid":"<hex>"}`.
pub fn parse_upload_answer(body: &[u8]) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        gitoid: String,
    }
    let a: Answer = serde_json::from_slice(body)
        .map_err(|e| format!("its answer is not an upload response: {e}"))?;
    let g = a.gitoid;
    if g.is_empty() || g.len() > 128 || !g.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("its answer's gitoid is not a hex digest".into());
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::dsse::Signature;

    #[test]
    fn the_gitoid_is_the_sha256_of_the_git_blob() {
        // What `git hash-object` gives for "hello" in a sha256 repository.
        assert_eq!(
            gitoid(b"hello"),
            "8aec4e4876f854f688d0ebfc8f37598f38e5fd6903cccc850ca36591175aeb60"
        );
    }

    #[test]
    fn the_body_is_what_go_encodes_for_a_go_witness_envelope() {
        let env = Envelope {
            payload_type: "application/vnd.in-toto+json".into(),
            payload: "e30=".into(),
            signatures: vec![Signature {
                keyid: "a<b>&".into(),
                sig: "c2ln".into(),
            }],
        };
        assert_eq!(
            String::from_utf8(upload_body(&env).unwrap()).unwrap(),
            "{\"payload\":\"e30=\",\"payloadType\":\"application/vnd.in-toto+json\",\
             \"signatures\":[{\"keyid\":\"a\\u003cb\\u003e\\u0026\",\"sig\":\"c2ln\"}]}\n"
        );
    }

    #[test]
    fn an_upload_answer_without_a_hex_gitoid_is_an_error() {
        assert_eq!(
            parse_upload_answer(b"{\"gitoid\":\"ab12\"}\n").unwrap(),
            "ab12"
        );
        for bad in [
            &b"{}"[..],
            b"{\"gitoid\":\"\"}",
            b"{\"gitoid\":\"../x\"}",
            b"nope",
        ] {
            assert!(parse_upload_answer(bad).is_err());
        }
    }
}
