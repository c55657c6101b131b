//! YAML policy files, read into JSON values: one document, mappings with string keys,
//! sequences and scalars (YAML 1.2's core schema: `null`, `true`/`false`, integers and floats
//! when plain, everything else a string). Anchors and aliases are refused (a policy needs none,
//! and an alias can make a small file expand without bound); nesting is limited.

use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// Deeper than this is refused: a policy is two levels deep.
const MAX_DEPTH: usize = 64;

enum Open {
    Seq(Vec<Value>),
    /// The mapping so far and the key waiting for its value.
    Map(Map<String, Value>, Option<String>),
}

/// Parses one YAML document into a JSON value. An empty document is `null`.
pub fn to_json(text: &str) -> Result<Value, String> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut done: Option<Value> = None;
    let mut documents = 0usize;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| e.to_string())?;
        let at = || format!("line {}", mark.line());
        let value = match event {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => continue,
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(format!("{}: more than one YAML document", at()));
                }
                continue;
            }
            Event::Alias(_) => return Err(format!("{}: YAML aliases are not supported", at())),
            Event::Scalar(text, style, anchor, tag) => {
                if anchor != 0 {
                    return Err(format!("{}: YAML anchors are not supported", at()));
                }
                if tag.is_some() {
                    return Err(format!("{}: YAML tags are not supported", at()));
                }
                scalar(text, style)
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                let is_seq = matches!(event, Event::SequenceStart(..));
                if anchor != 0 {
                    return Err(format!("{}: YAML anchors are not supported", at()));
                }
                if tag.is_some() {
                    return Err(format!("{}: YAML tags are not supported", at()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("{}: nested deeper than {MAX_DEPTH} levels", at()));
                }
                if matches!(stack.last(), Some(Open::Map(_, None))) {
                    return Err(format!("{}: a mapping key must be a plain value", at()));
                }
                stack.push(if is_seq {
                    Open::Seq(Vec::new())
                } else {
                    Open::Map(Map::new(), None)
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Open::Seq(items)) => Value::Array(items),
                _ => return Err(format!("{}: unbalanced sequence", at())),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map(m, None)) => Value::Object(m),
                _ => return Err(format!("{}: unbalanced mapping", at())),
            },
        };
        match stack.last_mut() {
            None => {
                if done.is_some() {
                    return Err(format!("{}: more than one value at the top", at()));
                }
                done = Some(value);
            }
            Some(Open::Seq(items)) => items.push(value),
            Some(Open::Map(m, key @ None)) => {
                let k = match value {
                    Value::String(s) => s,
                    Value::Null => "null".into(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => return Err(format!("{}: a mapping key must be a plain value", at())),
                };
                if m.contains_key(&k) {
                    return Err(format!("{}: key {k:?} appears twice", at()));
                }
                *key = Some(k);
            }
            Some(Open::Map(m, key @ Some(_))) => {
                let k = key.take().unwrap_or_default();
                m.insert(k, value);
            }
        }
    }
    Ok(done.unwrap_or(Value::Null))
}

fn scalar(text: String, style: TScalarStyle) -> Value {
    if style != TScalarStyle::Plain {
        return Value::String(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(&text);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = text.parse::<i64>()
    {
        return Value::from(i);
    }
    if digits
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_reads_as_json() {
        let v = to_json(
            "# comment\nbuilderIds:\n  - https://tekton.dev/chains/v2\nmaxAge: 7d\nparams: {A: 1, B: 'x'}\nrequireSignature: true\nempty:\n",
        )
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"builderIds":["https://tekton.dev/chains/v2"],"maxAge":"7d",
                "params":{"A":1,"B":"x"},"requireSignature":true,"empty":null})
        );
        assert_eq!(to_json("").unwrap(), Value::Null);
        assert_eq!(to_json("'1'").unwrap(), Value::String("1".into()));
    }

    #[test]
    fn aliases_duplicates_and_second_documents_are_refused() {
        assert!(to_json("a: &x [1]\nb: *x\n").is_err());
        assert!(to_json("a: 1\na: 2\n").is_err());
        assert!(to_json("a: 1\n---\nb: 2\n").is_err());
        assert!(to_json("[").is_err());
        assert!(to_json(&"[".repeat(200)).is_err());
    }
}
