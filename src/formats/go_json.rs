//! JSON encoded as Go's `encoding/json` encodes it, for the bytes Chains base64-encodes into
//! byproducts: compact, object keys sorted, and `<`, `>`, `&`, U+2028 and U+2029 escaped.

use crate::collect::ResultValue;

/// A result value as `json.Marshal` of Tekton's `ParamValue` writes it.
pub fn result_value(v: &ResultValue) -> String {
    let mut out = String::new();
    match v {
        ResultValue::String(s) => string(&mut out, s),
        ResultValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(&mut out, item);
            }
            out.push(']');
        }
        ResultValue::Object(map) => {
            out.push('{');
            for (i, (k, val)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(&mut out, k);
                out.push(':');
                string(&mut out, val);
            }
            out.push('}');
        }
    }
    out
}

/// A JSON string as Go's encoding/json writes it (HTML-escaping, its default).
pub(crate) fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        let v = ResultValue::String("a<b>&\"c\"\n\u{1}".into());
        assert_eq!(result_value(&v), r#""a\u003cb\u003e\u0026\"c\"\n\u0001""#);
    }

    #[test]
    fn objects_have_sorted_keys() {
        let v = ResultValue::Object(
            [("uri", "u"), ("digest", "d")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        assert_eq!(result_value(&v), r#"{"digest":"d","uri":"u"}"#);
    }
}
