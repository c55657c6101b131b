//! The TaskRun's spec and feature flags as Chains writes them into SLSA v1.0 predicates.
//!
//! Chains decodes the object into Tekton Pipelines' Go types and encodes it again, so its
//! payload is not the API's JSON: fields the types always write appear even when empty
//! (`serviceAccountName`, each step's `computeResources`), durations read as Go prints them
//! (`1h` becomes `1h0m0s`), and unknown feature flags and flags left at their zero value are
//! dropped. The functions here make the same changes to the API's JSON; everything else passes
//! through as the API returned it (key order does not matter: the predicate is sorted).

use serde_json::{Map, Value};

/// `externalParameters.runSpec` from the API's `spec`.
pub fn run_spec(spec: &Value) -> Value {
    let mut spec = spec.clone();
    let Some(obj) = spec.as_object_mut() else {
        return Value::Object(Map::new());
    };
    obj.entry("serviceAccountName")
        .or_insert_with(|| Value::String(String::new()));
    drop_empty_list(obj, "params");
    if let Some(Value::String(t)) = obj.get_mut("timeout")
        && let Some(norm) = go_duration(t)
    {
        *t = norm;
    }
    if let Some(Value::Object(task_spec)) = obj.get_mut("taskSpec") {
        normalise_task_spec(task_spec);
    }
    spec
}

/// Go leaves out a list field tagged `omitempty` (`params` of a TaskRun, PipelineRun, Task or
/// Pipeline spec) when it is empty; the API may still return `[]`.
fn drop_empty_list(obj: &mut Map<String, Value>, key: &str) {
    if obj
        .get(key)
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        obj.remove(key);
    }
}

/// Steps, sidecars and the step template always carry `computeResources`.
fn normalise_task_spec(task_spec: &mut Map<String, Value>) {
    drop_empty_list(task_spec, "params");
    for key in ["steps", "sidecars"] {
        if let Some(Value::Array(list)) = task_spec.get_mut(key) {
            for item in list.iter_mut().filter_map(Value::as_object_mut) {
                item.entry("computeResources")
                    .or_insert_with(|| Value::Object(Map::new()));
            }
        }
    }
    if let Some(Value::Object(template)) = task_spec.get_mut("stepTemplate") {
        template
            .entry("computeResources")
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// `externalParameters.runSpec` from the API's PipelineRun `spec`: Go always writes
/// `taskRunTemplate`, and each embedded Task gets `metadata: {}` and `spec: null`.
pub fn pipeline_run_spec(spec: &Value) -> Value {
    let mut spec = spec.clone();
    let Some(obj) = spec.as_object_mut() else {
        return Value::Object(Map::new());
    };
    obj.entry("taskRunTemplate")
        .or_insert_with(|| Value::Object(Map::new()));
    drop_empty_list(obj, "params");
    if let Some(Value::Object(timeouts)) = obj.get_mut("timeouts") {
        for value in timeouts.values_mut() {
            if let Value::String(t) = value
                && let Some(norm) = go_duration(t)
            {
                *t = norm;
            }
        }
    }
    if let Some(Value::Object(pipeline)) = obj.get_mut("pipelineSpec") {
        drop_empty_list(pipeline, "params");
        for list in ["tasks", "finally"] {
            let Some(Value::Array(tasks)) = pipeline.get_mut(list) else {
                continue;
            };
            for task in tasks.iter_mut().filter_map(Value::as_object_mut) {
                if let Some(Value::Object(task_spec)) = task.get_mut("taskSpec") {
                    task_spec
                        .entry("metadata")
                        .or_insert_with(|| Value::Object(Map::new()));
                    task_spec.entry("spec").or_insert(Value::Null);
                    normalise_task_spec(task_spec);
                }
            }
        }
        if let Some(Value::Array(results)) = pipeline.get_mut("results") {
            for r in results.iter_mut().filter_map(Value::as_object_mut) {
                r.entry("description")
                    .or_insert_with(|| Value::String(String::new()));
            }
        }
    }
    spec
}

/// The feature flags Tekton Pipelines' `FeatureFlags` type keeps, by JSON name. Chains reads the
/// recorded flags into that type, so names match case-insensitively (older Pipelines wrote
/// `EnableAPIFields`), unknown names are dropped, and zero values are left out.
const FEATURE_FLAGS: &[&str] = &[
    "awaitSidecarReadiness",
    "coschedule",
    "disableCredsInit",
    "disableInlineSpec",
    "enableAPIFields",
    "enableArtifacts",
    "enableCELInWhenExpression",
    "enableConciseResolverSyntax",
    "enableKeepPodOnCancel",
    "enableKubernetesSidecar",
    "enableParamEnum",
    "enableProvenanceInStatus",
    "enableStepActions",
    "enableTektonOCIBundles",
    "enableTerminationMessageCompression",
    "enableWaitExponentialBackoff",
    "enforceNonfalsifiability",
    "maxResultSize",
    "requireGitSSHSecretKnownHosts",
    "resultExtractionMethod",
    "runningInEnvWithInjectedSidecars",
    "sendCloudEventsForRuns",
    "setSecurityContext",
    "setSecurityContextReadOnlyRootFilesystem",
    "verificationNoMatchPolicy",
];

/// `tekton-pipelines-feature-flags` from `status.provenance.featureFlags`.
pub fn feature_flags(flags: &Value) -> Value {
    let mut out = Map::new();
    let Some(obj) = flags.as_object() else {
        return Value::Object(out);
    };
    for (key, value) in obj {
        let Some(name) = FEATURE_FLAGS.iter().find(|n| n.eq_ignore_ascii_case(key)) else {
            continue;
        };
        // A pointer field keeps even `false`; every other field drops its zero value.
        let zero = match value {
            Value::Null => true,
            Value::Bool(b) => !b && *name != "enableTektonOCIBundles",
            Value::String(s) => s.is_empty(),
            Value::Number(n) => n.as_f64() == Some(0.0),
            _ => false,
        };
        if !zero {
            out.insert((*name).to_owned(), value.clone());
        }
    }
    Value::Object(out)
}

/// A Go duration (`90m`, `1h30m`, `1.5s`) printed as Go's `Duration.String` does
/// (`1h30m0s`, `1.5s`). `None` when it does not parse.
pub fn go_duration(s: &str) -> Option<String> {
    let nanos = parse_go_duration(s)?;
    Some(format_go_duration(nanos))
}

fn parse_go_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_end);
        if num.is_empty() || num == "." {
            return None;
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut value = whole.checked_mul(scale)?;
        let mut unit_part = scale;
        for d in frac.chars() {
            unit_part /= 10;
            value = value.checked_add(i128::from(d.to_digit(10)?) * unit_part)?;
        }
        total = total.checked_add(value)?;
        rest = after;
    }
    if total > i128::from(i64::MAX) {
        return None;
    }
    Some(if neg { -total } else { total })
}

fn format_go_duration(nanos: i128) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let frac = |value: u128, digits: u32| -> String {
        let div = 10u128.pow(digits);
        let whole = value / div;
        let rest = value % div;
        if rest == 0 {
            whole.to_string()
        } else {
            let f = format!("{rest:0width$}", width = digits as usize);
            format!("{whole}.{}", f.trim_end_matches('0'))
        }
    };
    if n < 1_000 {
        return format!("{sign}{n}ns");
    }
    if n < 1_000_000 {
        return format!("{sign}{}µs", frac(n, 3));
    }
    if n < 1_000_000_000 {
        return format!("{sign}{}ms", frac(n, 6));
    }
    let hours = n / 3_600_000_000_000;
    let minutes = (n / 60_000_000_000) % 60;
    let secs = frac(n % 60_000_000_000, 9);
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{secs}s")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{secs}s")
    } else {
        format!("{sign}{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_params_are_left_out_as_go_omitempty_does() {
        let spec = run_spec(&json!({"params": [], "taskSpec": {"params": [], "steps": []}}));
        assert_eq!(spec.get("params"), None);
        assert_eq!(spec["taskSpec"].get("params"), None);
        let spec = run_spec(&json!({"params": [{"name": "a", "value": "b"}]}));
        assert_eq!(spec["params"][0]["name"], "a");
        let spec = pipeline_run_spec(&json!({"params": [], "pipelineSpec": {"params": []}}));
        assert_eq!(spec.get("params"), None);
        assert_eq!(spec["pipelineSpec"].get("params"), None);
    }

    #[test]
    fn durations_print_as_go_does() {
        for (input, want) in [
            ("1h", "1h0m0s"),
            ("60m", "1h0m0s"),
            ("90m", "1h30m0s"),
            ("1h0m0s", "1h0m0s"),
            ("1.5s", "1.5s"),
            ("500ms", "500ms"),
            ("1500ms", "1.5s"),
            ("2m3s", "2m3s"),
            ("0", "0s"),
            ("10us", "10µs"),
            ("1.25h", "1h15m0s"),
        ] {
            assert_eq!(go_duration(input).as_deref(), Some(want), "{input}");
        }
        for bad in [
            "",
            "1",
            "h",
            "1x",
            "--1s",
            // The whole part fits once multiplied by its unit; the fraction then overflows.
            "170141183460469231731687303715884105.8us",
            "170141183460469231731687303715884.2ms",
        ] {
            assert_eq!(go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn run_spec_gets_the_fields_go_always_writes() {
        let spec = json!({"timeout": "1h", "taskSpec": {"steps": [{"name": "a"}],
            "stepTemplate": {"env": []}}});
        assert_eq!(
            run_spec(&spec),
            json!({"serviceAccountName": "", "timeout": "1h0m0s", "taskSpec": {
                "steps": [{"name": "a", "computeResources": {}}],
                "stepTemplate": {"env": [], "computeResources": {}}}})
        );
    }

    #[test]
    fn feature_flags_as_the_go_type_keeps_them() {
        let flags = json!({"EnableAPIFields": "beta", "ResultExtractionMethod":
            "termination-message", "awaitSidecarReadiness": false, "maxResultSize": 4096,
            "EnableTektonOCIBundles": false, "somethingNew": true});
        assert_eq!(
            feature_flags(&flags),
            json!({"enableAPIFields": "beta", "resultExtractionMethod": "termination-message",
                "maxResultSize": 4096, "enableTektonOCIBundles": false})
        );
    }
}
