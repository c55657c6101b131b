//! What an attestation must say, from flags or a policy file (YAML or JSON, same keys):
//! predicate type, builder ids, build types, maximum age, parameters and materials.
//!
//! ```yaml
//! predicateType: slsaprovenance1        # or a URI
//! builderIds: [https://tekton.dev/chains/v2]
//! buildTypes: [https://tekton.dev/chains/v2/slsa]
//! maxAge: 7d
//! params: {CHAINS-GIT_URL: https://github.com/example/app}
//! allowMaterials: [git+https://github.com/example/, oci://registry.example.com/]
//! requireMaterials: [git+https://github.com/example/app]
//! requireSignature: true
//! ```
//!
//! A policy file and the flags are two policies: an attestation passes only when it passes
//! both, so a flag can narrow a policy file but never widen it.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::statement::{self, Statement};

/// cosign's short names for `--type`.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("slsaprovenance", statement::SLSA_V02),
    ("slsaprovenance02", statement::SLSA_V02),
    ("slsaprovenance1", statement::SLSA_V1),
];

/// One set of checks and where it came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// `None` for the command line, else the policy file's name: for reasons.
    pub file: Option<String>,
    /// The predicate type (a URI) an attestation must have to count.
    pub predicate_type: Option<String>,
    pub builder_ids: Vec<String>,
    pub build_types: Vec<String>,
    pub max_age: Option<Duration>,
    pub params: Vec<(String, String)>,
    pub allow_materials: Vec<String>,
    pub require_materials: Vec<String>,
    pub require_signature: bool,
}

/// Maps cosign's short names to their URIs; anything with a `:` is taken as a URI.
pub fn predicate_type(s: &str) -> Result<String, String> {
    let s = s.trim();
    if let Some((_, uri)) = SHORT_NAMES.iter().find(|(n, _)| *n == s) {
        return Ok((*uri).to_owned());
    }
    if s.contains(':') {
        return Ok(s.to_owned());
    }
    Err(format!(
        "predicate type {s:?} is neither a URI nor one of {}",
        SHORT_NAMES
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// `30m`, `24h`, `7d`, `1h30m`: whole numbers with a unit each (s, m, h, d, w).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    if text.is_empty() {
        return Err("an empty duration (write e.g. 30m, 24h or 7d)".into());
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            number = Some(
                number
                    .unwrap_or(0)
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(d)))
                    .ok_or_else(|| format!("duration {text:?} is too long"))?,
            );
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => {
                return Err(format!(
                    "duration {text:?}: {c:?} is not a unit (s, m, h, d or w)"
                ));
            }
        };
        let n = number
            .take()
            .ok_or_else(|| format!("duration {text:?}: a unit without a number"))?;
        total = n
            .checked_mul(unit)
            .and_then(|x| total.checked_add(x))
            .filter(|t| *t <= 100 * 365 * 86_400)
            .ok_or_else(|| format!("duration {text:?} is longer than 100 years"))?;
    }
    if number.is_some() {
        return Err(format!(
            "duration {text:?}: a number without a unit (s, m, h, d or w)"
        ));
    }
    if total == 0 {
        return Err(format!("duration {text:?} is zero"));
    }
    Ok(Duration::from_secs(total))
}

/// Splits `NAME=VALUE`.
pub fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() && !name.chars().any(char::is_control) => {
            Ok((name.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("param {s:?} is not NAME=VALUE")),
    }
}

/// The keys a policy file may have.
const KEYS: &[&str] = &[
    "predicateType",
    "builderIds",
    "buildTypes",
    "maxAge",
    "params",
    "allowMaterials",
    "requireMaterials",
    "requireSignature",
];

impl Policy {
    /// Parses a policy file: JSON when it starts with `{`, else YAML. `name` is for errors.
    pub fn from_file(bytes: &[u8], name: &str) -> Result<Self, String> {
        let at = |e: String| format!("policy {name}: {e}");
        let text = std::str::from_utf8(bytes).map_err(|_| at("not UTF-8 text".into()))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let doc: Value = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| at(format!("not valid JSON: {e}")))?
        } else {
            super::yaml::to_json(text).map_err(|e| at(format!("not valid YAML: {e}")))?
        };
        let obj = match doc {
            Value::Object(o) => o,
            Value::Null => return Err(at("the file is empty".into())),
            _ => return Err(at("the top level is not a mapping of checks".into())),
        };
        let mut p = Policy {
            file: Some(name.to_owned()),
            ..Policy::default()
        };
        for (key, value) in &obj {
            let field = |e: &str| at(format!("{key}: {e}"));
            match key.as_str() {
                "predicateType" => {
                    let s = scalar_text(value).ok_or_else(|| field("not a string"))?;
                    p.predicate_type = Some(predicate_type(&s).map_err(|e| field(&e))?);
                }
                "builderIds" => p.builder_ids = strings(value).map_err(|e| field(&e))?,
                "buildTypes" => p.build_types = strings(value).map_err(|e| field(&e))?,
                "allowMaterials" => p.allow_materials = strings(value).map_err(|e| field(&e))?,
                "requireMaterials" => {
                    p.require_materials = strings(value).map_err(|e| field(&e))?
                }
                "maxAge" => {
                    let s = scalar_text(value).ok_or_else(|| field("not a string"))?;
                    p.max_age = Some(parse_duration(&s).map_err(|e| field(&e))?);
                }
                "params" => {
                    let m = value
                        .as_object()
                        .ok_or_else(|| field("not a mapping of NAME: VALUE"))?;
                    for (n, v) in m {
                        if n.trim().is_empty() || n.chars().any(char::is_control) {
                            return Err(field(&format!("{n:?} is not a parameter name")));
                        }
                        let v = scalar_text(v)
                            .ok_or_else(|| field(&format!("{n}: not a plain value")))?;
                        p.params.push((n.clone(), v));
                    }
                }
                "requireSignature" => {
                    p.require_signature =
                        value.as_bool().ok_or_else(|| field("not true or false"))?
                }
                _ => {
                    return Err(at(format!(
                        "unknown key {key:?} (known: {})",
                        KEYS.join(", ")
                    )));
                }
            }
        }
        Ok(p)
    }

    /// Whether this policy checks the predicate at all (beyond its type).
    pub fn checks_provenance(&self) -> bool {
        !self.builder_ids.is_empty()
            || !self.build_types.is_empty()
            || !self.params.is_empty()
            || !self.allow_materials.is_empty()
            || !self.require_materials.is_empty()
    }

    /// Whether an attestation of this predicate type counts. Without a predicate type, every
    /// type counts except cosign 3's image-signature statement.
    pub fn counts(&self, predicate_type: &str) -> bool {
        match &self.predicate_type {
            Some(t) => t == predicate_type,
            None => predicate_type != statement::COSIGN_SIGN_V1,
        }
    }

    /// How a check is named in a reason: the flag, or the file's key.
    fn name(&self, flag: &str, key: &str) -> String {
        match &self.file {
            None => format!("--{flag}"),
            Some(f) => format!("{key} in {f}"),
        }
    }

    /// Every check this statement fails, as one-line reasons. `signed_at` is the trusted
    /// signing time (log or timestamp), when there is one.
    pub fn check(
        &self,
        st: &Statement,
        signed_at: Option<SystemTime>,
        now: SystemTime,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let needs_predicate =
            self.checks_provenance() || (self.max_age.is_some() && signed_at.is_none());
        let prov = if needs_predicate {
            match statement::provenance(st) {
                Ok(p) => Some(p),
                Err(e) => {
                    out.push(format!("{e}: the policy's provenance checks cannot be met"));
                    return out;
                }
            }
        } else {
            None
        };
        if let Some(max) = self.max_age {
            let when = match signed_at {
                Some(t) => Ok((t, "signed")),
                None => match prov.as_ref().and_then(|p| p.finished_on.as_deref()) {
                    Some(s) => crate::time::parse_rfc3339(s)
                        .map(|t| (t, "finished"))
                        .map_err(|e| format!("the provenance's finish time {s:?}: {e}")),
                    None => Err(format!(
                        "{} needs a signing time: no log entry or timestamp was checked and the \
                         provenance has no finish time",
                        self.name("max-age", "maxAge")
                    )),
                },
            };
            match when {
                Err(e) => out.push(e),
                // A finish time the statement claims in the future is not a time at all (a
                // trusted time was already checked against the clock).
                Ok((t, "finished")) if t > now + std::time::Duration::from_secs(300) => {
                    out.push(format!(
                        "the provenance's finish time {} is in the future",
                        crate::time::format_rfc3339_seconds(t)
                    ));
                }
                Ok((t, what)) => {
                    if now.duration_since(t).is_ok_and(|age| age > max) {
                        out.push(format!(
                            "{what} {}, older than {} {}",
                            crate::time::format_rfc3339_seconds(t),
                            self.name("max-age", "maxAge"),
                            show_duration(max)
                        ));
                    }
                }
            }
        }
        let Some(p) = prov else { return out };
        one_of(
            &mut out,
            "builder id",
            p.builder_id.as_deref(),
            &self.builder_ids,
            &self.name("builder-id", "builderIds"),
        );
        one_of(
            &mut out,
            "build type",
            p.build_type.as_deref(),
            &self.build_types,
            &self.name("build-type", "buildTypes"),
        );
        for (name, want) in &self.params {
            let have = p.param(name);
            if have.is_empty() {
                out.push(format!(
                    "param {name} is not in the provenance ({} wants {want:?})",
                    self.name("param", "params")
                ));
            } else if !have.iter().any(|h| h == want) {
                out.push(format!(
                    "param {name} is {:?}, not {want:?} ({})",
                    have[0],
                    self.name("param", "params")
                ));
            }
        }
        if !self.allow_materials.is_empty() {
            for (i, m) in p.materials.iter().enumerate() {
                match m {
                    None => out.push(format!(
                        "material #{} has no uri ({} allows only {})",
                        i + 1,
                        self.name("allow-material", "allowMaterials"),
                        quoted(&self.allow_materials)
                    )),
                    Some(uri) if !self.allow_materials.iter().any(|a| under(uri, a)) => {
                        out.push(format!(
                            "material {uri:?} is not allowed ({} allows {})",
                            self.name("allow-material", "allowMaterials"),
                            quoted(&self.allow_materials)
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        for want in &self.require_materials {
            if !p
                .materials
                .iter()
                .any(|m| m.as_deref().is_some_and(|u| under(u, want)))
            {
                out.push(format!(
                    "no material is {want:?} or under it ({})",
                    self.name("require-material", "requireMaterials")
                ));
            }
        }
        out
    }
}

/// Whether `uri` is `prefix` or lies under it: the prefix ends in `/`, or what follows it starts
/// a path, version, query or fragment (`/`, `@`, `?`, `#`), optionally after a `.git`. So
/// `git+https://github.com/example/app` covers `…/app.git@<sha>` but not `…/app-evil`, and
/// `oci://registry.example.com` not `oci://registry.example.com.evil.io/…`.
pub fn under(uri: &str, prefix: &str) -> bool {
    let Some(rest) = uri.strip_prefix(prefix) else {
        return false;
    };
    if rest.is_empty() || prefix.ends_with('/') {
        return true;
    }
    let rest = rest.strip_prefix(".git").unwrap_or(rest);
    rest.is_empty() || rest.starts_with(['/', '@', '?', '#'])
}

fn one_of(out: &mut Vec<String>, what: &str, have: Option<&str>, allowed: &[String], by: &str) {
    if allowed.is_empty() {
        return;
    }
    match have {
        None => out.push(format!(
            "the provenance has no {what} ({by} allows {})",
            quoted(allowed)
        )),
        Some(h) if !allowed.iter().any(|a| a == h) => out.push(format!(
            "{what} {h:?} is not allowed ({by} allows {})",
            quoted(allowed)
        )),
        Some(_) => {}
    }
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A duration as the largest units that divide it: `7d`, `90m`, `1h30m` stays `90m`.
pub fn show_duration(d: Duration) -> String {
    let s = d.as_secs();
    for (unit, n) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if s.is_multiple_of(n) {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}

/// A plain YAML/JSON value as text: strings as they are, numbers and booleans as written.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A list of strings, or one string.
fn strings(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| scalar_text(x).ok_or_else(|| format!("item {} is not a string", i + 1)))
            .collect(),
        other => scalar_text(other)
            .map(|s| vec![s])
            .ok_or_else(|| "not a list of strings".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_prefixes_end_at_a_boundary() {
        let app = "git+https://github.com/example/app";
        assert!(under(app, app));
        assert!(under("git+https://github.com/example/app.git@abc", app));
        assert!(under("git+https://github.com/example/app/sub", app));
        assert!(!under("git+https://github.com/example/app-evil", app));
        assert!(!under(
            "git+https://github.com/example/application.git",
            app
        ));
        let reg = "oci://registry.example.com";
        assert!(!under("oci://registry.example.com.evil.io/x", reg));
        assert!(under("oci://registry.example.com/team/app", reg));
        assert!(!under(
            "oci://registry.example.com/team/app",
            "oci://registry.example.com/te"
        ));
        assert!(under(
            "oci://registry.example.com/team/app",
            "oci://registry.example.com/"
        ));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        for bad in [
            "",
            "7",
            "d",
            "1x",
            "0s",
            "-1h",
            "99999999999999999999s",
            "1h 2m",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(show_duration(Duration::from_secs(604_800)), "1w");
        assert_eq!(show_duration(Duration::from_secs(5400)), "90m");
    }

    #[test]
    fn short_names_are_cosigns() {
        assert_eq!(
            predicate_type("slsaprovenance1").unwrap(),
            statement::SLSA_V1
        );
        assert_eq!(
            predicate_type("slsaprovenance").unwrap(),
            statement::SLSA_V02
        );
        assert!(predicate_type("spdx").is_err());
    }

    #[test]
    fn a_policy_file_refuses_unknown_keys() {
        let e = Policy::from_file(b"builderId: x\n", "p.yaml").unwrap_err();
        assert!(e.contains("unknown key \"builderId\""), "{e}");
        let p = Policy::from_file(
            br#"{"builderIds":"x","maxAge":"1d","params":{"a":1}}"#,
            "p.json",
        )
        .unwrap();
        assert_eq!(p.builder_ids, vec!["x"]);
        assert_eq!(p.params, vec![("a".into(), "1".into())]);
    }
}
