//! The TaskRun as the Kubernetes API returns it: what results alone cannot give (the spec, step
//! and sidecar image digests, `refSource`, feature flags, labels and annotations, start and
//! completion times) and, for a finished TaskRun, its results.
//!
//! The object is untrusted input like the results: every field is checked for its type, and a
//! malformed field is an error naming it.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::Value;
use serde_json::value::RawValue;

use super::{ResultValue, StepResults, TaskResult};

/// `status.provenance.refSource` (or a step's): where the Task or StepAction came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefSource {
    pub uri: String,
    pub digest: BTreeMap<String, String>,
    pub entry_point: String,
}

/// One entry of `status.steps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepState {
    pub name: String,
    /// The kubelet's image reference, e.g. `docker-pullable://repo@sha256:…`.
    pub image_id: String,
    /// A StepAction resolved remotely.
    pub ref_source: Option<RefSource>,
}

/// What chainlet uses of the API's TaskRun.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiTaskRun {
    pub name: String,
    pub uid: String,
    /// `metadata.labels` and `metadata.annotations`; `None` when absent (Chains writes `null`).
    pub labels: Option<BTreeMap<String, String>>,
    pub annotations: Option<BTreeMap<String, String>>,
    /// `spec`, as the API returned it.
    pub spec: Value,
    /// `spec.params`: name and value (a string, array or object).
    pub params: Vec<(String, Value)>,
    /// `status.taskSpec.params` that have a default.
    pub param_defaults: Vec<(String, Value)>,
    /// `status.taskSpec.steps`, after Tekton's substitutions (for slsa/v1's buildConfig).
    pub task_spec_steps: Vec<Value>,
    pub steps: Vec<StepState>,
    /// `status.sidecars[]`: name and imageID.
    pub sidecar_images: Vec<(String, String)>,
    pub ref_source: Option<RefSource>,
    /// `status.provenance.featureFlags`, as the API returned it.
    pub feature_flags: Option<Value>,
    /// Whether `spec.taskRef.resolver` names a remote resolver (not empty, not `Cluster`).
    pub remote_task: bool,
    pub start_time: Option<SystemTime>,
    pub completion_time: Option<SystemTime>,
    /// `status.results`, in status order.
    pub results: Vec<TaskResult>,
    /// `status.steps[].results`, per step in step order.
    pub step_results: Vec<StepResults>,
    /// `status` byte for byte (format `tekton` signs it).
    pub status_json: String,
    /// The whole object as the API returned it (a PipelineRun's `slsa-tekton` dependencies
    /// carry it).
    pub object_json: String,
    /// `status.results` as the API returned them (slsa/v1 PipelineRun `buildConfig`).
    pub results_json: Vec<Value>,
    /// `status.conditions[0].status`: `True`, `False` or `Unknown`.
    pub condition: String,
    /// Whether `status.taskSpec` is there.
    pub has_task_spec: bool,
}

/// An image a TaskRun ran: `oci://<repo>` and its digest `{alg: hex}`.
pub type ImageDependency = (String, BTreeMap<String, String>);

impl ApiTaskRun {
    /// Step images, then sidecar images, as `oci://<repo>` with `{alg: hex}`, the way Chains
    /// reads `imageID`. An image without a digest fails, naming its container.
    pub fn image_dependencies(&self) -> Result<Vec<ImageDependency>, String> {
        self.steps
            .iter()
            .map(|s| (&s.name, &s.image_id))
            .chain(self.sidecar_images.iter().map(|(n, id)| (n, id)))
            .map(|(name, id)| {
                let (repo, alg, hex) = image_dependency(id)
                    .map_err(|e| format!("TaskRun {}, container {name}: {e}", self.name))?;
                Ok((format!("oci://{repo}"), BTreeMap::from([(alg, hex)])))
            })
            .collect()
    }
}

/// Parses a TaskRun object (`tekton.dev/v1`).
pub fn parse(body: &[u8]) -> Result<ApiTaskRun, String> {
    #[derive(serde::Deserialize)]
    struct Raw<'a> {
        #[serde(borrow)]
        status: Option<&'a RawValue>,
    }
    let raw: Raw = serde_json::from_slice(body).map_err(|e| format!("not a JSON object: {e}"))?;
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not a JSON object: {e}"))?;
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("TaskRun");
    if kind != "TaskRun" {
        return Err(format!("kind is {kind:?}, not TaskRun"));
    }
    let empty = Value::Object(Default::default());
    let metadata = object(&v, "metadata")?.unwrap_or(&empty);
    let spec = object(&v, "spec")?
        .cloned()
        .unwrap_or_else(|| empty.clone());
    let status = object(&v, "status")?.unwrap_or(&empty);
    let task_spec = object(status, "taskSpec")?.unwrap_or(&empty);
    let provenance = object(status, "provenance")?.unwrap_or(&empty);

    let params = named_values(&spec, "params", "value", "spec.params")?;
    let param_defaults = named_values(task_spec, "params", "default", "status.taskSpec.params")?;

    let mut steps = Vec::new();
    let mut step_results = Vec::new();
    for (i, step) in array(status, "steps", "status.steps")?.iter().enumerate() {
        let what = format!("status.steps[{i}]");
        let name = string(step, "name", &what)?.to_owned();
        let image_id = string(step, "imageID", &what)?.to_owned();
        let ref_source = match object(step, "provenance")? {
            Some(p) => ref_source(p, &format!("{what}.provenance"))?,
            None => None,
        };
        let results = results(step, &format!("{what}.results"))?;
        if !results.is_empty() {
            step_results.push(StepResults {
                step: name.clone(),
                results,
            });
        }
        steps.push(StepState {
            name,
            image_id,
            ref_source,
        });
    }
    let mut sidecar_images = Vec::new();
    for (i, s) in array(status, "sidecars", "status.sidecars")?
        .iter()
        .enumerate()
    {
        let what = format!("status.sidecars[{i}]");
        sidecar_images.push((
            string(s, "name", &what)?.to_owned(),
            string(s, "imageID", &what)?.to_owned(),
        ));
    }
    let resolver = spec
        .get("taskRef")
        .and_then(|r| r.get("resolver"))
        .and_then(Value::as_str)
        .unwrap_or("");
    Ok(ApiTaskRun {
        name: string(metadata, "name", "metadata")?.to_owned(),
        uid: string(metadata, "uid", "metadata")?.to_owned(),
        labels: string_map(metadata, "labels", "metadata.labels")?,
        annotations: string_map(metadata, "annotations", "metadata.annotations")?,
        params,
        param_defaults,
        task_spec_steps: array(task_spec, "steps", "status.taskSpec.steps")?.to_vec(),
        steps,
        sidecar_images,
        ref_source: ref_source(provenance, "status.provenance")?,
        feature_flags: provenance.get("featureFlags").cloned(),
        remote_task: !resolver.is_empty() && resolver != "Cluster",
        start_time: time(status, "startTime")?,
        completion_time: time(status, "completionTime")?,
        results: results(status, "status.results")?,
        step_results,
        status_json: raw.status.map(|r| r.get().to_owned()).unwrap_or_default(),
        object_json: String::from_utf8_lossy(body).into_owned(),
        results_json: array(status, "results", "status.results")?.to_vec(),
        has_task_spec: status.get("taskSpec").is_some_and(Value::is_object),
        condition: match array(status, "conditions", "status.conditions")?.first() {
            Some(c) => string(c, "status", "status.conditions[0]")?.to_owned(),
            None => String::new(),
        },
        spec,
    })
}

/// What chainlet uses of the API's PipelineRun.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiPipelineRun {
    pub name: String,
    pub uid: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub annotations: Option<BTreeMap<String, String>>,
    pub spec: Value,
    /// `spec.params`.
    pub params: Vec<(String, Value)>,
    /// `status.pipelineSpec.params` that have a default.
    pub param_defaults: Vec<(String, Value)>,
    /// Pipeline task names in `status.pipelineSpec` order: `tasks`, then `finally`.
    pub task_order: Vec<String>,
    /// The pipeline tasks themselves, same order, and whether each is a `finally` task.
    pub pipeline_tasks: Vec<(Value, bool)>,
    /// Whether `status.pipelineSpec` is there.
    pub has_pipeline_spec: bool,
    /// `spec.taskRunTemplate.serviceAccountName`.
    pub service_account: String,
    /// `status.pipelineSpec.results`: name and value template (`$(tasks.x.results.y)`).
    pub result_specs: Vec<(String, Value)>,
    /// `status.childReferences` of kind TaskRun: (name, pipeline task name).
    pub child_taskruns: Vec<(String, String)>,
    pub ref_source: Option<RefSource>,
    pub feature_flags: Option<Value>,
    /// Whether `spec.pipelineRef.resolver` names a remote resolver.
    pub remote_pipeline: bool,
    pub start_time: Option<SystemTime>,
    pub completion_time: Option<SystemTime>,
    /// `status.results` (set only once the PipelineRun has finished).
    pub results: Vec<TaskResult>,
}

/// Parses a PipelineRun object (`tekton.dev/v1`).
pub fn parse_pipelinerun(body: &[u8]) -> Result<ApiPipelineRun, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not a JSON object: {e}"))?;
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("PipelineRun");
    if kind != "PipelineRun" {
        return Err(format!("kind is {kind:?}, not PipelineRun"));
    }
    let empty = Value::Object(Default::default());
    let metadata = object(&v, "metadata")?.unwrap_or(&empty);
    let spec = object(&v, "spec")?
        .cloned()
        .unwrap_or_else(|| empty.clone());
    let status = object(&v, "status")?.unwrap_or(&empty);
    let pipeline_spec = object(status, "pipelineSpec")?.unwrap_or(&empty);
    let provenance = object(status, "provenance")?.unwrap_or(&empty);
    let mut task_order = Vec::new();
    let mut pipeline_tasks = Vec::new();
    for list in ["tasks", "finally"] {
        let what = format!("status.pipelineSpec.{list}");
        for (i, t) in array(pipeline_spec, list, &what)?.iter().enumerate() {
            task_order.push(string(t, "name", &format!("{what}[{i}]"))?.to_owned());
            pipeline_tasks.push((t.clone(), list == "finally"));
        }
    }
    let service_account = match object(&spec, "taskRunTemplate")? {
        Some(t) => string(t, "serviceAccountName", "spec.taskRunTemplate")?.to_owned(),
        None => String::new(),
    };
    let mut child_taskruns = Vec::new();
    for (i, c) in array(status, "childReferences", "status.childReferences")?
        .iter()
        .enumerate()
    {
        let what = format!("status.childReferences[{i}]");
        if string(c, "kind", &what)? == "TaskRun" {
            child_taskruns.push((
                string(c, "name", &what)?.to_owned(),
                string(c, "pipelineTaskName", &what)?.to_owned(),
            ));
        }
    }
    let resolver = spec
        .get("pipelineRef")
        .and_then(|r| r.get("resolver"))
        .and_then(Value::as_str)
        .unwrap_or("");
    Ok(ApiPipelineRun {
        name: string(metadata, "name", "metadata")?.to_owned(),
        uid: string(metadata, "uid", "metadata")?.to_owned(),
        labels: string_map(metadata, "labels", "metadata.labels")?,
        annotations: string_map(metadata, "annotations", "metadata.annotations")?,
        params: named_values(&spec, "params", "value", "spec.params")?,
        param_defaults: named_values(
            pipeline_spec,
            "params",
            "default",
            "status.pipelineSpec.params",
        )?,
        task_order,
        pipeline_tasks,
        has_pipeline_spec: status.get("pipelineSpec").is_some_and(Value::is_object),
        service_account,
        result_specs: named_values(
            pipeline_spec,
            "results",
            "value",
            "status.pipelineSpec.results",
        )?,
        child_taskruns,
        ref_source: ref_source(provenance, "status.provenance")?,
        feature_flags: provenance.get("featureFlags").cloned(),
        remote_pipeline: !resolver.is_empty() && resolver != "Cluster",
        start_time: time(status, "startTime")?,
        completion_time: time(status, "completionTime")?,
        results: results(status, "status.results")?,
        spec,
    })
}

fn object<'a>(v: &'a Value, key: &str) -> Result<Option<&'a Value>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(o @ Value::Object(_)) => Ok(Some(o)),
        Some(_) => Err(format!("{key}: not an object")),
    }
}

fn array<'a>(v: &'a Value, key: &str, what: &str) -> Result<&'a [Value], String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("{what}: not an array")),
    }
}

fn string<'a>(v: &'a Value, key: &str, what: &str) -> Result<&'a str, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("{what}.{key}: not a string")),
    }
}

fn string_map(
    v: &Value,
    key: &str,
    what: &str,
) -> Result<Option<BTreeMap<String, String>>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(format!("{what}[{k:?}]: not a string")),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(format!("{what}: not an object")),
    }
}

/// `[{name, <field>}]` lists: params and param specs.
fn named_values(
    v: &Value,
    key: &str,
    field: &str,
    what: &str,
) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    for (i, p) in array(v, key, what)?.iter().enumerate() {
        let name = string(p, "name", &format!("{what}[{i}]"))?;
        if let Some(value) = p.get(field).filter(|v| !v.is_null()) {
            out.push((name.to_owned(), value.clone()));
        }
    }
    Ok(out)
}

fn ref_source(provenance: &Value, what: &str) -> Result<Option<RefSource>, String> {
    let Some(r) = object(provenance, "refSource")? else {
        return Ok(None);
    };
    let what = format!("{what}.refSource");
    Ok(Some(RefSource {
        uri: string(r, "uri", &what)?.to_owned(),
        digest: string_map(r, "digest", &format!("{what}.digest"))?.unwrap_or_default(),
        entry_point: string(r, "entryPoint", &what)?.to_owned(),
    }))
}

fn time(status: &Value, key: &str) -> Result<Option<SystemTime>, String> {
    match status.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => crate::time::parse_rfc3339(s)
            .map(Some)
            .map_err(|e| format!("status.{key} {s:?}: {e}")),
        Some(_) => Err(format!("status.{key}: not a string")),
    }
}

fn results(v: &Value, what: &str) -> Result<Vec<TaskResult>, String> {
    let mut out = Vec::new();
    for (i, r) in array(v, "results", what)?.iter().enumerate() {
        let item = format!("{what}[{i}]");
        let name = string(r, "name", &item)?.to_owned();
        let value = match r.get("value") {
            Some(Value::String(s)) => ResultValue::String(s.clone()),
            Some(Value::Array(a)) => ResultValue::Array(
                a.iter()
                    .map(|x| x.as_str().map(str::to_owned))
                    .collect::<Option<_>>()
                    .ok_or_else(|| format!("{item} ({name}): an array of non-strings"))?,
            ),
            Some(Value::Object(o)) => ResultValue::Object(
                o.iter()
                    .map(|(k, x)| x.as_str().map(|s| (k.clone(), s.to_owned())))
                    .collect::<Option<_>>()
                    .ok_or_else(|| format!("{item} ({name}): an object with non-string values"))?,
            ),
            _ => return Err(format!("{item} ({name}): no string, array or object value")),
        };
        out.push(TaskResult { name, value });
    }
    Ok(out)
}

/// The PipelineRun's results as Tekton Pipelines computes them when the run finishes, from
/// `status.pipelineSpec.results` and the children's results: each `$(tasks.<task>.results.<name>)`
/// (and `…<name>[*]`, `…<name>.<key>`) is replaced by the child's value. A result that names a
/// task or result that is not there is left out, as Pipelines leaves out results of failed or
/// skipped tasks.
pub fn resolve_pipeline_results(
    specs: &[(String, Value)],
    children: &[(String, &ApiTaskRun)],
) -> Vec<TaskResult> {
    let lookup = |task: &str, name: &str| -> Option<&ResultValue> {
        children
            .iter()
            .filter(|(t, _)| t == task)
            .flat_map(|(_, tr)| tr.results.iter())
            .find(|r| r.name == name)
            .map(|r| &r.value)
    };
    // One reference: (task, result, selector): "" (the value), "[*]" (a whole array), "[N]"
    // (an element) or an object key.
    fn parse_ref(inner: &str) -> Option<(&str, &str, &str)> {
        let rest = inner
            .strip_prefix("tasks.")
            .or_else(|| inner.strip_prefix("finally."))?;
        let (task, rest) = rest.split_once(".results.")?;
        if let Some(open) = rest.find('[') {
            return Some((task, &rest[..open], &rest[open..]));
        }
        Some(match rest.split_once('.') {
            Some((name, key)) => (task, name, key),
            None => (task, rest, ""),
        })
    }
    fn index(sel: &str) -> Option<usize> {
        sel.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
    }
    let whole = |s: &str| -> Option<Option<ResultValue>> {
        let inner = s.strip_prefix("$(")?.strip_suffix(')')?;
        if inner.contains("$(") {
            return None;
        }
        let (task, name, sel) = parse_ref(inner)?;
        let v = lookup(task, name);
        Some(match (v, sel) {
            (None, _) => None,
            (Some(v), "" | "[*]") => Some(v.clone()),
            (Some(ResultValue::Array(a)), sel) => index(sel)
                .and_then(|i| a.get(i))
                .cloned()
                .map(ResultValue::String),
            (Some(ResultValue::Object(o)), key) => o.get(key).cloned().map(ResultValue::String),
            (Some(_), _) => None,
        })
    };
    let substitute = |s: &str| -> Option<String> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("$(") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find(')')?;
            let inner = &after[..end];
            match parse_ref(inner) {
                Some((task, name, sel)) => match (lookup(task, name)?, sel) {
                    (ResultValue::String(v), "") => out.push_str(v),
                    (ResultValue::Array(a), sel) => out.push_str(a.get(index(sel)?)?),
                    (ResultValue::Object(o), key) if !key.is_empty() && key != "[*]" => {
                        out.push_str(o.get(key)?)
                    }
                    _ => return None,
                },
                None => out.push_str(&rest[start..start + 3 + end]),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    };
    // Pipelines skips a declared result that references no task.
    let references = |v: &Value| {
        let text = v.to_string();
        text.contains("$(tasks.") || text.contains("$(finally.")
    };
    let mut out = Vec::new();
    for (name, template) in specs.iter().filter(|(_, t)| references(t)) {
        let value = match template {
            Value::String(s) => match whole(s) {
                Some(v) => v,
                None => substitute(s).map(ResultValue::String),
            },
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().and_then(substitute))
                .collect::<Option<Vec<_>>>()
                .map(ResultValue::Array),
            Value::Object(fields) => fields
                .iter()
                .map(|(k, v)| Some((k.clone(), v.as_str().and_then(substitute)?)))
                .collect::<Option<BTreeMap<_, _>>>()
                .map(ResultValue::Object),
            _ => None,
        };
        if let Some(value) = value {
            out.push(TaskResult {
                name: name.clone(),
                value,
            });
        }
    }
    out
}

/// An image reference from `imageID`: `docker-pullable://` stripped, then `repo@alg:hex`,
/// which Chains requires (anything else fails the attestation, as in Chains).
pub fn image_dependency(image_id: &str) -> Result<(String, String, String), String> {
    let id = image_id
        .strip_prefix("docker-pullable://")
        .unwrap_or(image_id);
    let parts: Vec<&str> = id.split('@').collect();
    let [repo, digest] = parts[..] else {
        return Err(format!(
            "image ID {image_id:?}: expected <repository>@<algorithm>:<hex>"
        ));
    };
    let parts: Vec<&str> = digest.split(':').collect();
    let [alg, hex] = parts[..] else {
        return Err(format!(
            "image ID {image_id:?}: expected <repository>@<algorithm>:<hex>"
        ));
    };
    Ok((repo.to_owned(), alg.to_owned(), hex.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_taskrun_and_names_bad_fields() {
        let body = br#"{"metadata":{"name":"n","uid":"u","labels":{"a":"b"}},
            "spec":{"params":[{"name":"p","value":"v"}],"taskRef":{"resolver":"git"}},
            "status":{"startTime":"2021-03-29T09:50:00Z","steps":[{"name":"s","imageID":"docker-pullable://r@sha256:ab","results":[{"name":"o","value":{"k":"v"}}]}],
              "results":[{"name":"x","value":["a"]}],"provenance":{"refSource":{"uri":"git+u","digest":{"sha1":"ab"},"entryPoint":"e"}}}}"#;
        let t = parse(body).unwrap();
        assert_eq!(t.name, "n");
        assert!(t.remote_task);
        assert_eq!(t.params, vec![("p".to_owned(), Value::from("v"))]);
        assert_eq!(t.steps[0].image_id, "docker-pullable://r@sha256:ab");
        assert_eq!(t.step_results[0].results[0].name, "o");
        assert_eq!(t.results[0].value, ResultValue::Array(vec!["a".into()]));
        assert_eq!(t.ref_source.unwrap().entry_point, "e");
        assert!(t.annotations.is_none());
        assert!(t.status_json.starts_with("{\"startTime\""));

        let bad = br#"{"metadata":{"name":"n"},"status":{"steps":[{"name":"s","imageID":5}]}}"#;
        assert_eq!(
            parse(bad).unwrap_err(),
            "status.steps[0].imageID: not a string"
        );
        assert!(
            parse(br#"{"kind":"Pod"}"#)
                .unwrap_err()
                .contains("not TaskRun")
        );
    }

    #[test]
    fn pipeline_results_from_children() {
        let child = parse(
            br#"{"metadata":{"name":"b","uid":"u"},"status":{"results":[
                {"name":"IMAGE_URL","value":"gcr.io/x"},{"name":"o","value":{"uri":"u","digest":"d"}},
                {"name":"a","value":["1","2"]}]}}"#,
        )
        .unwrap();
        let specs = vec![
            (
                "url".to_owned(),
                Value::from("$(tasks.build.results.IMAGE_URL)"),
            ),
            (
                "tagged".to_owned(),
                Value::from("$(tasks.build.results.IMAGE_URL):v1"),
            ),
            ("obj".to_owned(), Value::from("$(tasks.build.results.o)")),
            (
                "field".to_owned(),
                Value::from("$(tasks.build.results.o.uri)"),
            ),
            ("arr".to_owned(), Value::from("$(tasks.build.results.a[*])")),
            (
                "skipped".to_owned(),
                Value::from("$(tasks.other.results.x)"),
            ),
            (
                "literal".to_owned(),
                serde_json::json!(["x", "$(tasks.build.results.IMAGE_URL)"]),
            ),
            (
                "second".to_owned(),
                Value::from("$(tasks.build.results.a[1])"),
            ),
            ("only-text".to_owned(), Value::from("no reference")),
            (
                "from-finally".to_owned(),
                Value::from("$(finally.build.results.IMAGE_URL)"),
            ),
        ];
        let got = resolve_pipeline_results(&specs, &[("build".to_owned(), &child)]);
        let by: BTreeMap<_, _> = got.iter().map(|r| (r.name.as_str(), &r.value)).collect();
        assert_eq!(by["url"], &ResultValue::String("gcr.io/x".into()));
        assert_eq!(by["tagged"], &ResultValue::String("gcr.io/x:v1".into()));
        assert!(matches!(by["obj"], ResultValue::Object(_)));
        assert_eq!(by["field"], &ResultValue::String("u".into()));
        assert_eq!(by["arr"], &ResultValue::Array(vec!["1".into(), "2".into()]));
        assert_eq!(
            by["literal"],
            &ResultValue::Array(vec!["x".into(), "gcr.io/x".into()])
        );
        assert!(!by.contains_key("skipped"));
        assert_eq!(by["second"], &ResultValue::String("2".into()));
        assert!(!by.contains_key("only-text"));
        assert_eq!(by["from-finally"], &ResultValue::String("gcr.io/x".into()));
    }

    #[test]
    fn image_ids_as_chains_reads_them() {
        assert_eq!(
            image_dependency("docker-pullable://gcr.io/a/b@sha256:00").unwrap(),
            ("gcr.io/a/b".into(), "sha256".into(), "00".into())
        );
        assert!(image_dependency("gcr.io/a/b:latest").is_err());
        assert!(image_dependency("").is_err());
    }
}
