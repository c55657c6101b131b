//! Storage `gcs`: objects in the Cloud Storage bucket `storage.gcs.bucket`, named as Chains
//! names them.
//!
//! ```text
//! <kind>-<namespace>-<name>/<key>.signature   the DSSE envelope's JSON (format `tekton`: the raw
//!                                             signature bytes); for an image, the raw signature
//! <kind>-<namespace>-<name>/<key>.payload     the signed bytes: statement or simple-signing payload
//! <kind>-<namespace>-<name>/<key>.cert        the signing certificate PEM (empty for keys)
//! <kind>-<namespace>-<name>/<key>.chain       its chain PEM (empty for keys)
//! ```
//! `<kind>` is `taskrun` or `pipelinerun`; `<key>` is `taskrun-<uid>` (`pipelinerun-<uid>`)
//! for the attestation and the first 12 hex characters of the digest for an image signature
//! (Chains' short keys). Chains' Go client sets no content type, so Google's library sniffs
//! one from the bytes: `text/plain; charset=utf-8` for text (JSON, PEM, empty objects),
//! `application/octet-stream` for binary signatures; chainlet sends the same.
//!
//! Objects go up with JSON API media uploads. `STORAGE_EMULATOR_HOST` (`host:port`, or a URL)
//! points everything at an emulator over plain HTTP without credentials, as Google's clients
//! do; otherwise requests carry a token from [`crate::cloud::google`].
//!
//! The preflight reads the bucket, asks which of `storage.objects.create` (and `.delete`, to
//! replace earlier objects) the credentials hold, and lists the run's folder. A re-run writes
//! the same names; an object whose size and CRC32C already match is left as it is, and the
//! log says how many were written, replaced and left unchanged.

use std::collections::HashMap;
use std::sync::Mutex;

use zeroize::Zeroizing;

use super::{Backend, Batch, Context, Registration, StorageError};
use crate::cloud::google::{self, GoogleAuth, form_encode};
use crate::kube::RunKind;
use crate::net::{self, Credential, Origin, Policy, Request, Transport};
use crate::signing::Certificate;

pub const BUCKET_KEY: &str = "storage.gcs.bucket";
const PUBLIC_ENDPOINT: &str = "https://storage.googleapis.com";
/// Google's clients read this to talk to an emulator (plain HTTP, no credentials).
pub const EMULATOR_ENV: &str = "STORAGE_EMULATOR_HOST";
/// Pages of a folder listing read at most (1000 objects each).
const MAX_LIST_PAGES: usize = 20;

pub struct GcsBackend {
    bucket: String,
    /// `taskrun-<namespace>-<name>`: the run's folder in the bucket.
    folder: String,
    endpoint: String,
    net: Transport,
    /// `None` for an emulator.
    auth: Option<GoogleAuth>,
    /// The folder's objects as the preflight saw them: name → (size, crc32c in base64).
    existing: Mutex<Option<HashMap<String, (u64, String)>>>,
}

pub const REGISTRATION: Registration = Registration {
    name: crate::config::StorageName::Gcs,
    open: |ctx: &Context<'_>| Ok(Box::new(GcsBackend::open(ctx, |k| std::env::var(k).ok())?)),
};

/// One object to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

impl GcsBackend {
    /// Opens the backend from the config and an environment lookup.
    pub fn open(
        ctx: &Context<'_>,
        env: impl Fn(&str) -> Option<String> + Copy,
    ) -> Result<Self, StorageError> {
        let bucket = ctx.config.get(BUCKET_KEY).trim().to_owned();
        if bucket.is_empty() {
            return Err(StorageError::Config {
                key: BUCKET_KEY,
                message: "is empty: storage gcs needs the name of a bucket".into(),
            });
        }
        if !valid_bucket(&bucket) {
            return Err(StorageError::Config {
                key: BUCKET_KEY,
                message: format!("{bucket:?} is not a bucket name (a-z, 0-9, '-', '_', '.')"),
            });
        }
        if ctx.namespace.is_empty() {
            return Err(StorageError::Unavailable {
                backend: "gcs",
                message: "needs the run's namespace for Chains' object names (--namespace)".into(),
            });
        }
        let kind = match ctx.target.kind {
            RunKind::TaskRun => "taskrun",
            RunKind::PipelineRun => "pipelinerun",
        };
        let folder = format!("{kind}-{}-{}", ctx.namespace, ctx.target.name);
        let target = format!("gs://{bucket}");
        let fail = |message: String| StorageError::Gcs {
            target: target.clone(),
            message,
        };
        let google::ServiceEndpoint {
            url: endpoint,
            plain_http,
            auth,
        } = google::ServiceEndpoint::resolve(
            &env,
            EMULATOR_ENV,
            PUBLIC_ENDPOINT,
            google::Options {
                deadline: ctx.deadline,
                extra_ca: ctx.extra_cas(),
            },
        )
        .map_err(fail)?;
        let net = ctx.transport(plain_http);
        Ok(Self {
            bucket,
            folder,
            endpoint,
            net,
            auth,
            existing: Mutex::new(None),
        })
    }

    /// Every object of a batch, in the order Chains writes them.
    pub fn objects(&self, batch: &Batch<'_>) -> Vec<Object> {
        objects(&self.folder, batch)
    }

    fn target(&self, object: Option<&str>) -> String {
        match object {
            Some(o) => format!("gs://{}/{o}", self.bucket),
            None => format!("gs://{}", self.bucket),
        }
    }

    fn error(&self, object: Option<&str>, message: impl std::fmt::Display) -> StorageError {
        StorageError::Gcs {
            target: self.target(object),
            message: message.to_string(),
        }
    }

    /// The `Authorization` for the endpoint, or none for an emulator.
    fn credential(&self) -> Result<Option<Credential>, StorageError> {
        let Some(auth) = &self.auth else {
            return Ok(None);
        };
        let token = auth
            .token(&[google::DEVSTORAGE_READ_WRITE])
            .map_err(|e| self.error(None, e))?;
        let origin = Origin::of_url(&self.endpoint).map_err(|e| self.error(None, e))?;
        Ok(Some(Credential::new(
            origin,
            Zeroizing::new(format!("Bearer {}", token.as_str())),
        )))
    }

    fn get(
        &self,
        url: String,
        op: &str,
        credential: Option<&Credential>,
    ) -> Result<net::Response, StorageError> {
        self.net
            .send(
                &Request::new("GET", url, op)
                    .credential(credential)
                    .max_body(4 << 20),
            )
            .map_err(|e| self.error(None, e))
    }

    /// The bucket exists and the credentials may create objects in it.
    fn check_bucket(&self, credential: Option<&Credential>) -> Result<(), StorageError> {
        let b = &self.bucket;
        let answer = self.get(
            format!("{}/storage/v1/b/{b}", self.endpoint),
            "GET bucket",
            credential,
        )?;
        match answer.status {
            200 => {}
            404 => return Err(self.error(None, "the bucket does not exist")),
            401 | 403 => {
                return Err(self.error(
                    None,
                    format!(
                        "HTTP {}: the credentials may not read the bucket",
                        answer.status
                    ),
                ));
            }
            s => return Err(self.error(None, format!("reading the bucket: HTTP {s}"))),
        }
        Ok(())
    }

    /// Which of these permissions the credentials hold on the bucket, or `None` where the
    /// server cannot say (emulators do not implement `testIamPermissions`).
    fn permissions(
        &self,
        wanted: &[&str],
        credential: Option<&Credential>,
    ) -> Result<Option<Vec<String>>, StorageError> {
        let query: Vec<String> = wanted
            .iter()
            .map(|p| format!("permissions={}", form_encode(p)))
            .collect();
        let answer = self.get(
            format!(
                "{}/storage/v1/b/{}/iam/testPermissions?{}",
                self.endpoint,
                self.bucket,
                query.join("&")
            ),
            "GET bucket testPermissions",
            credential,
        )?;
        if answer.status != 200 {
            if self.auth.is_none() {
                return Ok(None);
            }
            return Err(self.error(
                None,
                format!(
                    "asking for the bucket's permissions: HTTP {}",
                    answer.status
                ),
            ));
        }
        parse_permissions(&answer.body)
            .map(Some)
            .map_err(|e| self.error(None, e))
    }

    /// The run folder's objects: name → (size, crc32c).
    fn list_folder(
        &self,
        credential: Option<&Credential>,
    ) -> Result<HashMap<String, (u64, String)>, StorageError> {
        let mut out = HashMap::new();
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let mut url = format!(
                "{}/storage/v1/b/{}/o?prefix={}",
                self.endpoint,
                self.bucket,
                form_encode(&format!("{}/", self.folder))
            );
            if let Some(t) = &page_token {
                url.push_str("&pageToken=");
                url.push_str(&form_encode(t));
            }
            let answer = self.get(url, "list the run's objects", credential)?;
            if answer.status != 200 {
                return Err(self.error(
                    Some(&format!("{}/", self.folder)),
                    format!("listing the run's objects: HTTP {}", answer.status),
                ));
            }
            let page = parse_listing(&answer.body).map_err(|e| self.error(None, e))?;
            out.extend(page.objects);
            match page.next_page_token {
                Some(t) => page_token = Some(t),
                None => return Ok(out),
            }
        }
        Err(self.error(
            Some(&format!("{}/", self.folder)),
            "the run's folder has more objects than chainlet lists",
        ))
    }

    fn upload(&self, object: &Object, credential: Option<&Credential>) -> Result<(), StorageError> {
        let url = format!(
            "{}/upload/storage/v1/b/{}/o?uploadType=media&name={}",
            self.endpoint,
            self.bucket,
            form_encode(&object.name)
        );
        let answer = self
            .net
            .send(
                &Request::new("POST", url, format!("upload {}", object.name))
                    .header("Content-Type", object.content_type)
                    .body(&object.bytes)
                    .credential(credential)
                    // The same name and bytes again only replace the object with itself.
                    .policy(Policy::idempotent()),
            )
            .map_err(|e| self.error(Some(&object.name), e))?;
        match answer.status {
            200 | 201 => Ok(()),
            s => Err(self.error(Some(&object.name), format!("upload: HTTP {s}"))),
        }
    }
}

impl Backend for GcsBackend {
    fn name(&self) -> &'static str {
        "gcs"
    }

    fn preflight(&self) -> Result<(), StorageError> {
        let credential = self.credential()?;
        self.check_bucket(credential.as_ref())?;
        let existing = self.list_folder(credential.as_ref())?;
        let mut wanted = vec!["storage.objects.create"];
        if !existing.is_empty() {
            wanted.push("storage.objects.delete");
        }
        if let Some(held) = self.permissions(&wanted, credential.as_ref())?
            && let Some(missing) = wanted.iter().find(|p| !held.iter().any(|h| h == *p))
        {
            return Err(self.error(None, format!("the credentials lack {missing}")));
        }
        *self.existing.lock().unwrap_or_else(|e| e.into_inner()) = Some(existing);
        Ok(())
    }

    fn store(&self, batch: &Batch<'_>) -> Result<(), StorageError> {
        let credential = self.credential()?;
        let cached = self
            .existing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let existing = match cached {
            Some(e) => e,
            None => self.list_folder(credential.as_ref())?,
        };
        let (mut written, mut replaced, mut unchanged) = (0, 0, 0);
        for object in self.objects(batch) {
            match existing.get(&object.name) {
                Some((size, crc))
                    if *size == object.bytes.len() as u64 && *crc == crc32c_b64(&object.bytes) =>
                {
                    unchanged += 1;
                    continue;
                }
                Some(_) => replaced += 1,
                None => written += 1,
            }
            self.upload(&object, credential.as_ref())?;
        }
        tracing::info!(
            bucket = %self.bucket,
            folder = %self.folder,
            written,
            replaced,
            unchanged,
            "storage gcs: {written} objects written, {replaced} replaced, {unchanged} already stored with identical content"
        );
        Ok(())
    }
}

/// Chains' objects for a batch in the run folder `folder`.
pub fn objects(folder: &str, batch: &Batch<'_>) -> Vec<Object> {
    let mut out = Vec::new();
    let mut put = |key: &str, signature: Vec<u8>, payload: &[u8], cert: Option<&Certificate>| {
        let (c, chain) = cert.map_or(("", ""), |c| (&c.cert_pem[..], &c.chain_pem[..]));
        for (suffix, bytes) in [
            ("signature", signature),
            ("payload", payload.to_vec()),
            ("cert", c.as_bytes().to_vec()),
            ("chain", chain.as_bytes().to_vec()),
        ] {
            out.push(Object {
                name: format!("{folder}/{key}.{suffix}"),
                content_type: sniff(&bytes),
                bytes,
            });
        }
    };
    if let Some(att) = batch.attestation {
        let signature = att.signature_bytes();
        put(
            &att.key,
            signature,
            &att.statement,
            att.certificate.as_ref(),
        );
    }
    for image in &batch.images {
        use base64::Engine as _;
        let hex = &image.image.digest_hex;
        let short = hex.get(..12).unwrap_or(hex);
        // Chains stores what the signer returned: the raw signature, not its base64.
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&image.signature)
            .unwrap_or_else(|_| image.signature.clone().into_bytes());
        put(short, raw, &image.payload, image.certificate.as_ref());
    }
    out
}

/// The content type Google's Go client sniffs for what Chains stores (Go's
/// `http.DetectContentType`, reduced to the cases that occur: text, or binary).
pub fn sniff(bytes: &[u8]) -> &'static str {
    let head = &bytes[..bytes.len().min(512)];
    // Go's "binary data" bytes: controls other than tab, newline, form feed, carriage return
    // and escape.
    let binary = head
        .iter()
        .any(|&b| matches!(b, 0x00..=0x08 | 0x0B | 0x0E..=0x1A | 0x1C..=0x1F));
    if binary {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}

/// CRC32C (Castagnoli) as Cloud Storage reports it: base64 of the big-endian value.
pub fn crc32c_b64(bytes: &[u8]) -> String {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    crate::signing::base64(&(!crc).to_be_bytes())
}

/// Bucket names: 3–222 characters of lowercase letters, digits, `-`, `_` and `.`.
fn valid_bucket(name: &str) -> bool {
    (3..=222).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

/// One page of an object listing.
#[derive(Debug, Default)]
pub struct Listing {
    pub objects: HashMap<String, (u64, String)>,
    pub next_page_token: Option<String>,
}

/// Reads `{"items": [{"name", "size", "crc32c"}], "nextPageToken"}`.
pub fn parse_listing(body: &[u8]) -> Result<Listing, String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Page {
        #[serde(default)]
        items: Vec<Item>,
        next_page_token: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        name: String,
        /// A decimal string in the JSON API.
        size: Option<String>,
        crc32c: Option<String>,
    }
    let page: Page = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the object listing is not JSON the API sends (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let mut objects = HashMap::new();
    for item in page.items {
        // An object without a readable size or checksum is treated as different: rewritten.
        let size = item.size.and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
        objects.insert(item.name, (size, item.crc32c.unwrap_or_default()));
    }
    Ok(Listing {
        objects,
        next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
    })
}

/// Reads `{"permissions": [...]}` (absent when none is held).
pub fn parse_permissions(body: &[u8]) -> Result<Vec<String>, String> {
    #[derive(serde::Deserialize)]
    struct Held {
        #[serde(default)]
        permissions: Vec<String>,
    }
    serde_json::from_slice::<Held>(body)
        .map(|h| h.permissions)
        .map_err(|_| "the permission check's answer is not JSON the API sends".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::Signature;
    use crate::storage::{Attestation, ImageSignature};

    #[test]
    fn crc32c_matches_the_known_check_value_and_the_servers() {
        // The CRC-32C check value of "123456789" is 0xE3069283.
        assert_eq!(
            crc32c_b64(b"123456789"),
            crate::signing::base64(&[0xE3, 0x06, 0x92, 0x83])
        );
        // What fake-gcs-server reported for these bytes.
        assert_eq!(crc32c_b64(br#"{"a":1}"#), "z/fVag==");
    }

    #[test]
    fn content_types_are_the_sniffed_ones() {
        assert_eq!(sniff(b""), "text/plain; charset=utf-8");
        assert_eq!(sniff(b"{\"payload\":\"x\"}\n"), "text/plain; charset=utf-8");
        assert_eq!(sniff(&[0x30, 0x45, 0x02, 0x21]), "application/octet-stream");
    }

    #[test]
    fn object_names_follow_chains_layout() {
        let att = Attestation {
            key: "taskrun-uid-1".into(),
            images: Vec::new(),
            predicate_type: "",
            statement: b"{}".to_vec(),
            signed: Signature::Raw(vec![0, 1]),
            certificate: None,
            public_key_der: Vec::new(),
            log_entry: None,
        };
        let image = ImageSignature {
            image: crate::subjects::ImageRef::parse(&format!(
                "reg.example/app@sha256:{}",
                "ab".repeat(32)
            ))
            .unwrap(),
            payload: b"{\"critical\":{}}".to_vec(),
            signature: "AAEC".into(),
            certificate: None,
            public_key_der: Vec::new(),
            log_entry: None,
            statement: None,
        };
        let batch = Batch {
            attestation: Some(&att),
            images: vec![&image],
        };
        let objs = objects("taskrun-ns-build", &batch);
        let names: Vec<&str> = objs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "taskrun-ns-build/taskrun-uid-1.signature",
                "taskrun-ns-build/taskrun-uid-1.payload",
                "taskrun-ns-build/taskrun-uid-1.cert",
                "taskrun-ns-build/taskrun-uid-1.chain",
                "taskrun-ns-build/abababababab.signature",
                "taskrun-ns-build/abababababab.payload",
                "taskrun-ns-build/abababababab.cert",
                "taskrun-ns-build/abababababab.chain",
            ]
        );
        assert_eq!(objs[4].bytes, [0, 1, 2]);
        assert_eq!(objs[4].content_type, "application/octet-stream");
        assert!(objs[6].bytes.is_empty());
    }

    #[test]
    fn listings_and_permissions_parse_or_fail_cleanly() {
        let l = parse_listing(
            br#"{"items":[{"name":"a/b","size":"7","crc32c":"z/fVag=="}],"nextPageToken":"t"}"#,
        )
        .unwrap();
        assert_eq!(l.objects["a/b"], (7, "z/fVag==".to_owned()));
        assert_eq!(l.next_page_token.as_deref(), Some("t"));
        assert!(parse_listing(b"{}").unwrap().objects.is_empty());
        assert!(parse_listing(b"[").is_err());
        assert_eq!(
            parse_permissions(br#"{"permissions":["storage.objects.create"]}"#).unwrap(),
            ["storage.objects.create"]
        );
        assert!(parse_permissions(b"{}").unwrap().is_empty());
    }
}
