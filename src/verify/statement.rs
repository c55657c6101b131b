//! In-toto Statements (v0.1 and v1) and the SLSA provenance predicates (v0.2 and v1.0) they
//! carry, as chainlet, Tekton Chains and `cosign attest --type slsaprovenance*` write them.
//!
//! Everything here is read from signed but otherwise untrusted bytes: every function returns a
//! value or an error, never panics, and an error names the field that is wrong.

use std::collections::BTreeMap;

use serde_json::Value;

/// The DSSE payload type of in-toto Statements.
pub const INTOTO_PAYLOAD_TYPE: &str = crate::signing::dsse::INTOTO_PAYLOAD_TYPE;
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
pub const SLSA_V02: &str = "https://slsa.dev/provenance/v0.2";
pub const SLSA_V1: &str = "https://slsa.dev/provenance/v1";
/// What cosign 3 signs for an image signature in a Sigstore bundle: a Statement, not provenance.
pub const COSIGN_SIGN_V1: &str = "https://sigstore.dev/cosign/sign/v1";

/// A decoded in-toto Statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub statement_type: String,
    pub predicate_type: String,
    pub subjects: Vec<Subject>,
    pub predicate: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub name: String,
    /// Algorithm (lowercase) → hex digest, as written.
    pub digest: BTreeMap<String, String>,
}

/// Decodes a DSSE payload as an in-toto Statement.
pub fn parse(payload_type: &str, payload: &[u8]) -> Result<Statement, String> {
    if payload_type != INTOTO_PAYLOAD_TYPE {
        return Err(format!(
            "the envelope's payloadType is {payload_type:?}, not an in-toto Statement \
             ({INTOTO_PAYLOAD_TYPE})"
        ));
    }
    let v: Value =
        serde_json::from_slice(payload).map_err(|e| format!("the statement is not JSON: {e}"))?;
    let obj = v.as_object().ok_or("the statement is not a JSON object")?;
    let statement_type = str_field(obj.get("_type"), "_type")?;
    if statement_type != STATEMENT_V01 && statement_type != STATEMENT_V1 {
        return Err(format!(
            "_type {statement_type:?} is not an in-toto Statement (v0.1 or v1)"
        ));
    }
    let predicate_type = str_field(obj.get("predicateType"), "predicateType")?;
    let raw_subjects = obj
        .get("subject")
        .and_then(Value::as_array)
        .ok_or("the statement has no subject list")?;
    let mut subjects = Vec::with_capacity(raw_subjects.len());
    for (i, s) in raw_subjects.iter().enumerate() {
        let name = match s.get("name") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(n)) => n.clone(),
            Some(_) => return Err(format!("subject[{i}].name is not a string")),
        };
        let mut digest = BTreeMap::new();
        if let Some(d) = s.get("digest") {
            let d = d
                .as_object()
                .ok_or_else(|| format!("subject[{i}].digest is not an object"))?;
            for (alg, hex) in d {
                let hex = hex
                    .as_str()
                    .ok_or_else(|| format!("subject[{i}].digest.{alg:?} is not a string"))?;
                digest.insert(alg.to_ascii_lowercase(), hex.to_owned());
            }
        }
        subjects.push(Subject { name, digest });
    }
    Ok(Statement {
        statement_type,
        predicate_type,
        subjects,
        predicate: obj.get("predicate").cloned().unwrap_or(Value::Null),
    })
}

fn str_field(v: Option<&Value>, name: &str) -> Result<String, String> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) => Err(format!("the statement has no {name}")),
        Some(_) => Err(format!("the statement's {name} is not a string")),
    }
}

impl Statement {
    /// Whether a subject has this sha256 digest (hex, compared case-insensitively).
    pub fn names_sha256(&self, hex: &str) -> bool {
        self.subjects.iter().any(|s| {
            s.digest
                .get("sha256")
                .is_some_and(|d| d.eq_ignore_ascii_case(hex))
        })
    }

    /// The subjects' sha256 digests, for a reason: `sha256:aaaa…, sha256:bbbb…`.
    pub fn subject_digests(&self) -> String {
        let all: Vec<String> = self
            .subjects
            .iter()
            .filter_map(|s| s.digest.get("sha256"))
            .map(|d| format!("sha256:{}", short(d)))
            .collect();
        if all.is_empty() {
            "no sha256 subject".into()
        } else {
            all.join(", ")
        }
    }
}

/// The first 12 characters of a hex digest, for messages.
pub fn short(hex: &str) -> String {
    hex.chars().take(12).collect()
}

/// Which SLSA provenance a predicate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlsaVersion {
    V02,
    V1,
}

/// What the policy reads from a SLSA provenance predicate.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    pub version: SlsaVersion,
    pub builder_id: Option<String>,
    pub build_type: Option<String>,
    /// `metadata.buildFinishedOn` (v0.2) or `runDetails.metadata.finishedOn` (v1), as written.
    pub finished_on: Option<String>,
    /// The `uri` of every material (v0.2) or resolved dependency (v1); `None` for one without.
    pub materials: Vec<Option<String>>,
    predicate: Value,
}

/// The SLSA provenance of a statement; an error for another predicate type or a predicate
/// whose fields have the wrong JSON types.
pub fn provenance(st: &Statement) -> Result<Provenance, String> {
    let version = match st.predicate_type.as_str() {
        SLSA_V02 => SlsaVersion::V02,
        SLSA_V1 => SlsaVersion::V1,
        other => {
            return Err(format!(
                "predicate type {other:?} is not SLSA provenance v0.2 or v1"
            ));
        }
    };
    let p = &st.predicate;
    if !p.is_object() {
        return Err("the provenance predicate is not a JSON object".into());
    }
    let (builder, build_type, finished, materials) = match version {
        SlsaVersion::V02 => (
            ("builder.id", p.pointer("/builder/id")),
            ("buildType", p.get("buildType")),
            (
                "metadata.buildFinishedOn",
                p.pointer("/metadata/buildFinishedOn"),
            ),
            ("materials", p.get("materials")),
        ),
        SlsaVersion::V1 => (
            ("runDetails.builder.id", p.pointer("/runDetails/builder/id")),
            (
                "buildDefinition.buildType",
                p.pointer("/buildDefinition/buildType"),
            ),
            (
                "runDetails.metadata.finishedOn",
                p.pointer("/runDetails/metadata/finishedOn"),
            ),
            (
                "buildDefinition.resolvedDependencies",
                p.pointer("/buildDefinition/resolvedDependencies"),
            ),
        ),
    };
    let materials = match materials.1 {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, m) in items.iter().enumerate() {
                out.push(match m.get("uri") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(u)) => Some(u.clone()),
                    Some(_) => return Err(format!("{}[{i}].uri is not a string", materials.0)),
                });
            }
            out
        }
        Some(_) => return Err(format!("{} is not a list", materials.0)),
    };
    Ok(Provenance {
        version,
        builder_id: opt_str(builder)?,
        build_type: opt_str(build_type)?,
        finished_on: opt_str(finished)?,
        materials,
        predicate: p.clone(),
    })
}

fn opt_str((name, v): (&str, Option<&Value>)) -> Result<Option<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{name} is not a string")),
    }
}

impl Provenance {
    /// Every value recorded for parameter `name`, as text (a string as it is, anything else as
    /// compact JSON): v0.2 `invocation.parameters.<name>`; v1
    /// `buildDefinition.externalParameters.<name>`, Chains' `externalParameters.runSpec.params`
    /// entry named `name`, and `buildDefinition.internalParameters.<name>`.
    pub fn param(&self, name: &str) -> Vec<String> {
        let p = &self.predicate;
        let mut found: Vec<&Value> = Vec::new();
        match self.version {
            SlsaVersion::V02 => {
                found.extend(
                    p.pointer("/invocation/parameters")
                        .and_then(|o| o.get(name)),
                );
            }
            SlsaVersion::V1 => {
                let ext = p.pointer("/buildDefinition/externalParameters");
                found.extend(ext.and_then(|o| o.get(name)));
                if let Some(params) = ext
                    .and_then(|e| e.pointer("/runSpec/params"))
                    .and_then(Value::as_array)
                {
                    found.extend(
                        params
                            .iter()
                            .filter(|e| e.get("name").and_then(Value::as_str) == Some(name))
                            .filter_map(|e| e.get("value")),
                    );
                }
                found.extend(
                    p.pointer("/buildDefinition/internalParameters")
                        .and_then(|o| o.get(name)),
                );
            }
        }
        found.into_iter().map(as_text).collect()
    }
}

/// A JSON value as the text a `--param NAME=VALUE` is compared with.
pub fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// cosign's simple-signing payload of an image signature: the image digest it names.
pub fn simple_signing_digest(payload: &[u8]) -> Result<String, String> {
    let v: Value = serde_json::from_slice(payload)
        .map_err(|e| format!("the signature payload is not JSON: {e}"))?;
    let critical = v
        .get("critical")
        .ok_or("the signature payload has no \"critical\" section")?;
    match critical.get("type").and_then(Value::as_str) {
        Some(t) if t.eq_ignore_ascii_case("cosign container image signature") => {}
        Some(t) => return Err(format!("the signature payload's critical.type is {t:?}")),
        None => return Err("the signature payload has no critical.type".into()),
    }
    critical
        .pointer("/image/docker-manifest-digest")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "the signature payload has no critical.image.docker-manifest-digest".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(json: &str) -> Statement {
        parse(INTOTO_PAYLOAD_TYPE, json.as_bytes()).unwrap()
    }

    #[test]
    fn v02_fields_are_read_where_chains_writes_them() {
        let s = st(
            r#"{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2",
            "subject":[{"name":"r/a","digest":{"sha256":"AB"}}],
            "predicate":{"builder":{"id":"b"},"buildType":"t","invocation":{"parameters":{"x":"1","arr":["a"]}},
            "metadata":{"buildFinishedOn":"2026-01-02T03:04:05Z"},"materials":[{"uri":"git+https://g"},{"digest":{}}]}}"#,
        );
        assert!(s.names_sha256("ab"));
        let p = provenance(&s).unwrap();
        assert_eq!(p.builder_id.as_deref(), Some("b"));
        assert_eq!(p.build_type.as_deref(), Some("t"));
        assert_eq!(p.finished_on.as_deref(), Some("2026-01-02T03:04:05Z"));
        assert_eq!(p.materials, vec![Some("git+https://g".into()), None]);
        assert_eq!(p.param("x"), vec!["1"]);
        assert_eq!(p.param("arr"), vec![r#"["a"]"#]);
        assert!(p.param("y").is_empty());
    }

    #[test]
    fn v1_params_come_from_chains_run_spec_and_both_parameter_maps() {
        let s = st(
            r#"{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1","subject":[],
            "predicate":{"buildDefinition":{"buildType":"t","externalParameters":{"runSpec":{"params":[{"name":"url","value":"u"}]},"top":"v"},
            "internalParameters":{"flag":true},"resolvedDependencies":[{"uri":"oci://x"}]},
            "runDetails":{"builder":{"id":"b"},"metadata":{"finishedOn":"2026-01-02T03:04:05Z"}}}}"#,
        );
        let p = provenance(&s).unwrap();
        assert_eq!(p.param("url"), vec!["u"]);
        assert_eq!(p.param("top"), vec!["v"]);
        assert_eq!(p.param("flag"), vec!["true"]);
        assert_eq!(p.builder_id.as_deref(), Some("b"));
        assert_eq!(p.materials, vec![Some("oci://x".into())]);
    }

    #[test]
    fn not_a_statement_is_an_error() {
        assert!(parse("text/plain", b"{}").is_err());
        assert!(parse(INTOTO_PAYLOAD_TYPE, b"[]").is_err());
        assert!(
            parse(
                INTOTO_PAYLOAD_TYPE,
                br#"{"_type":"x","predicateType":"p","subject":[]}"#
            )
            .is_err()
        );
        let s =
            st(r#"{"_type":"https://in-toto.io/Statement/v1","predicateType":"p","subject":[]}"#);
        assert!(provenance(&s).is_err());
    }
}
