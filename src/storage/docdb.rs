//! Storage `docdb`: one document per signed artifact in a document database, named by a
//! go-cloud docstore URL (`storage.docdb.url`), as Chains writes it.
//!
//! Chains' document (`SignedDocument` in its `storage/docdb`), with go-cloud's field names:
//!
//! ```text
//! Name       the short key: taskrun-<uid>, pipelinerun-<uid>, or an image digest's first 12 hex
//! Signed     the signed payload's bytes (binary)
//! Signature  base64 of the signature: the DSSE envelope's JSON for an attestation, the raw
//!            signature for an image (simple signing) or for format `tekton`
//! Cert       the signing certificate's PEM, empty for keys
//! Chain      its chain's PEM, empty for keys
//! Object     the signed payload parsed as JSON (a map)
//! ```
//!
//! Each service is one file behind [`Backend`], encoding the fields as go-cloud's driver for
//! it does, and writing with an unconditional put under the document's key, so a re-run
//! replaces the same document:
//!
//! - `dynamodb://TABLE?partition_key=Name` ([`dynamodb`]): an item per document; the URL's
//!   `partition_key` (and `sort_key`, if any) must be among these fields.
//! - `firestore://projects/P/databases/D/documents/COLLECTION?name_field=Name`
//!   ([`firestore`]): a document whose id is the name field's value, which go-cloud leaves
//!   out of the fields.
//!
//! Both preflight with a read and a write that can never apply, so a refusal leaves every
//! backend unwritten. `mongo://` is refused as not supported yet: no MongoDB server can be
//! had here to test a client against.

pub mod dynamodb;
pub mod firestore;
pub mod url;

use base64::Engine as _;

use super::{Backend, Batch, Context, Registration, StorageError};

/// The fields of Chains' document, as go-cloud names them.
pub const FIELDS: [&str; 6] = ["Name", "Signed", "Signature", "Cert", "Chain", "Object"];

/// One document, as Chains builds it for a signed payload.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedDocument {
    pub name: String,
    pub signed: Vec<u8>,
    /// Standard base64.
    pub signature: String,
    pub cert: String,
    pub chain: String,
    pub object: serde_json::Value,
}

/// A field's value, as go-cloud's drivers see a Go value.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
    Json(&'a serde_json::Value),
}

impl SignedDocument {
    /// A field by its go-cloud name.
    pub fn field(&self, name: &str) -> Option<Field<'_>> {
        Some(match name {
            "Name" => Field::Text(&self.name),
            "Signed" => Field::Bytes(&self.signed),
            "Signature" => Field::Text(&self.signature),
            "Cert" => Field::Text(&self.cert),
            "Chain" => Field::Text(&self.chain),
            "Object" => Field::Json(&self.object),
            _ => return None,
        })
    }
}

/// The documents of a batch: the attestation's, then one per image signature.
pub fn documents(batch: &Batch<'_>) -> Result<Vec<SignedDocument>, String> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let pem = |c: Option<&crate::signing::Certificate>| {
        c.map_or((String::new(), String::new()), |c| {
            (c.cert_pem.clone(), c.chain_pem.clone())
        })
    };
    let object = |name: &str, bytes: &[u8]| {
        serde_json::from_slice(bytes)
            .map_err(|e| format!("{name}: the signed payload is not JSON: {e}"))
    };
    let mut out = Vec::new();
    if let Some(att) = batch.attestation {
        let signature = att.signature_bytes();
        let (cert, chain) = pem(att.certificate.as_ref());
        out.push(SignedDocument {
            object: object(&att.key, &att.statement)?,
            name: att.key.clone(),
            signed: att.statement.clone(),
            signature: b64(&signature),
            cert,
            chain,
        });
    }
    for image in &batch.images {
        let hex = &image.image.digest_hex;
        let name = hex.get(..12).unwrap_or(hex).to_owned();
        let (cert, chain) = pem(image.certificate.as_ref());
        out.push(SignedDocument {
            object: object(&name, &image.payload)?,
            name,
            signed: image.payload.clone(),
            signature: image.signature.clone(),
            cert,
            chain,
        });
    }
    Ok(out)
}

/// The short key of the run itself: the name preflight probes with.
fn run_key(target: &super::tekton::Target) -> String {
    let kind = match target.kind {
        crate::kube::RunKind::TaskRun => "taskrun",
        crate::kube::RunKind::PipelineRun => "pipelinerun",
    };
    format!("{kind}-{}", target.uid)
}

pub const REGISTRATION: Registration = Registration {
    name: crate::config::StorageName::Docdb,
    open,
};

fn open(ctx: &Context<'_>) -> Result<Box<dyn Backend>, StorageError> {
    let raw = ctx.config.get("storage.docdb.url");
    let config = |message: String| StorageError::Config {
        key: "storage.docdb.url",
        message,
    };
    if raw.is_empty() {
        return Err(config(
            "is empty: storage docdb needs a docstore URL such as dynamodb://TABLE?partition_key=Name or firestore://projects/P/databases/(default)/documents/COLLECTION?name_field=Name".into(),
        ));
    }
    match url::parse(raw).map_err(config)? {
        url::DocstoreUrl::Dynamo(table) => {
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            Ok(Box::new(dynamodb::DynamoBackend::open(
                table,
                &env,
                ctx,
                run_key(ctx.target),
            )?))
        }
        url::DocstoreUrl::Firestore(coll) => {
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
            Ok(Box::new(firestore::FirestoreBackend::open(
                coll,
                &env,
                ctx,
                run_key(ctx.target),
            )?))
        }
        url::DocstoreUrl::Mongo => Err(config(
            "mongo://: not supported yet: storage docdb writes to DynamoDB and Firestore; no MongoDB server can be had on these machines to test a client against".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::{Certificate, Signature, dsse::Envelope};
    use crate::storage::{Attestation, ImageSignature};

    #[test]
    fn documents_carry_chains_fields_for_the_run_and_each_image() {
        let envelope: Envelope = serde_json::from_str(
            r#"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AQI="}]}"#,
        )
        .unwrap();
        let att = Attestation {
            key: "taskrun-u1".into(),
            images: Vec::new(),
            predicate_type: "",
            statement: br#"{"_type":"x","n":1.5}"#.to_vec(),
            signed: Signature::Dsse(envelope.clone()),
            certificate: None,
            public_key_der: Vec::new(),
            log_entry: None,
        };
        let image = ImageSignature {
            image: crate::subjects::ImageRef::parse(&format!(
                "r.example/team/app@sha256:{}",
                "ab".repeat(32)
            ))
            .unwrap(),
            payload: br#"{"critical":{},"optional":null}"#.to_vec(),
            signature: "c2ln".into(),
            certificate: Some(Certificate {
                cert_pem: "LEAF".into(),
                chain_pem: "ROOT".into(),
            }),
            public_key_der: Vec::new(),
            log_entry: None,
            statement: None,
        };
        let batch = Batch {
            attestation: Some(&att),
            images: vec![&image],
        };
        let docs = documents(&batch).unwrap();
        assert_eq!(docs[0].name, "taskrun-u1");
        let b64 = base64::engine::general_purpose::STANDARD;
        assert_eq!(
            b64.decode(&docs[0].signature).unwrap(),
            serde_json::to_vec(&envelope).unwrap()
        );
        assert_eq!(docs[0].object["n"], 1.5);
        assert_eq!((docs[0].cert.as_str(), docs[0].chain.as_str()), ("", ""));
        assert_eq!(docs[1].name, "abababababab");
        assert_eq!(docs[1].signature, "c2ln");
        assert_eq!(docs[1].signed, image.payload);
        assert_eq!(
            (docs[1].cert.as_str(), docs[1].chain.as_str()),
            ("LEAF", "ROOT")
        );
    }
}
