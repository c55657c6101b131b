//! What every property shares: case counts, arbitrary JSON, and near-misses of real inputs
//! (a valid document edited in a few places: a field removed or given another type, a string
//! cut or given a multi-byte character, a value nested deeper than any parser allows, bytes cut
//! or flipped after serialising).

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;
use serde_json::{Map, Value};

/// A bounded run by default (the whole suite is part of `scripts/test`). `PROPTEST_CASES`
/// asks for more: proptest applies it to every property written with `proptest!`.
pub fn cases(default: u32) -> Config {
    Config::with_cases(default)
}

/// Runs a property whose cases are slow (a process spawn or an scrypt derivation each):
/// `default` cases, or `PROPTEST_CASES / slow` when that is set. (Written without `proptest!`,
/// which would apply `PROPTEST_CASES` itself.) Failures are saved as `proptest!` saves them.
pub fn run_slow<S: Strategy>(
    source_file: &'static str,
    default: u32,
    slow: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .map(|n| (n / slow.max(1)).max(1))
        .unwrap_or(default);
    let config = Config {
        cases,
        source_file: Some(source_file),
        ..Config::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}\n{runner}");
    }
}

/// Pieces of the real shapes: hint suffixes, digest and reference syntax, Tekton's variable
/// syntax, characters several bytes long.
pub const TOKENS: &[&str] = &[
    "é",
    "😀",
    "日本",
    "\u{0}",
    "\u{2028}",
    "\n",
    " ",
    "sha256:",
    "sha512:",
    "SHA256:",
    "@",
    ":",
    "/",
    ".",
    "-",
    "[",
    "]",
    "$(",
    ")",
    "$(tasks.",
    "$(finally.",
    ".results.",
    "[*]",
    "docker-pullable://",
    "index.docker.io",
    "docker.io",
    "localhost:5000",
    "[::1]",
    "IMAGE_URL",
    "IMAGE_DIGEST",
    "IMAGES",
    "ARTIFACT_OUTPUTS",
    "ARTIFACT_INPUTS",
    "true",
    "false",
    "0",
    "00000000000000000000000000000000000000000000000000000000000000000",
    "05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4",
];

/// Numbers at the edges of the integer types parsers use, and those edges divided by the
/// units a parser multiplies by (Go durations: µs, ms, s, m, h), give or take one.
pub fn edge_integer() -> impl Strategy<Value = String> {
    const EDGES: [u128; 6] = [
        u32::MAX as u128,
        i64::MAX as u128,
        u64::MAX as u128,
        i128::MAX as u128,
        u128::MAX,
        1 << 53,
    ];
    const UNITS: [u128; 6] = [
        1,
        1_000,
        1_000_000,
        1_000_000_000,
        60_000_000_000,
        3_600_000_000_000,
    ];
    (
        prop::sample::select(&EDGES[..]),
        prop::sample::select(&UNITS[..]),
        -1i8..=1,
    )
        .prop_map(|(edge, unit, delta)| {
            (edge / unit)
                .saturating_add_signed(delta as i128)
                .to_string()
        })
}

/// Strings shaped like Go durations (`1h30m`, `1.5s`), with numbers of every size, and numbers
/// at the edge of what fits once multiplied by their unit (`<i128::MAX / 1000>.9us`).
pub fn duration_like() -> impl Strategy<Value = String> {
    const UNITS: [(&str, u128); 8] = [
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
        ("x", 1),
    ];
    let number = prop_oneof![
        "[0-9]{1,4}",
        "[0-9]{15,40}",
        edge_integer(),
        Just(String::new()),
    ];
    let unit = prop::sample::select(&["h", "m", "s", "ms", "us", "µs", "μs", "ns", "", "x"][..]);
    let ordinary =
        prop::collection::vec((number, "(\\.[0-9]{0,12})?", unit), 1..4).prop_map(|parts| {
            parts
                .into_iter()
                .map(|(n, f, u)| format!("{n}{f}{u}"))
                .collect::<String>()
        });
    let edge = (
        prop::sample::select(&UNITS[..]),
        prop::sample::select(&[i64::MAX as u128, u64::MAX as u128, i128::MAX as u128][..]),
        -1i8..=1,
        "(\\.[0-9]{0,12})?",
        prop_oneof![
            Just(String::new()),
            Just("1ns".to_owned()),
            Just("1h".to_owned())
        ],
    )
        .prop_map(|((unit, scale), edge, delta, frac, more)| {
            let n = (edge / scale).saturating_add_signed(delta as i128);
            format!("{n}{frac}{unit}{more}")
        });
    prop_oneof![ordinary, edge]
}

/// A string from anywhere: empty, printable Unicode, ASCII, the shapes' pieces concatenated,
/// long repeats, numbers at the edges.
pub fn any_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "\\PC{0,16}",
        "[ -~]{0,24}",
        prop::collection::vec(prop::sample::select(TOKENS), 1..6).prop_map(|t| t.concat()),
        (prop::sample::select(TOKENS), 100..400usize).prop_map(|(t, n)| t.repeat(n)),
        edge_integer(),
        duration_like(),
    ]
}

/// A string edited: cut at any byte (rounded down to a character), a piece inserted at any
/// character boundary, a character removed, emptied.
#[derive(Debug, Clone)]
pub enum StrEdit {
    Cut(Index),
    Insert(Index, String),
    Remove(Index),
    Empty,
}

pub fn str_edit() -> impl Strategy<Value = StrEdit> {
    // Characters of two, three and four bytes, where parsers slice by byte offsets.
    const MULTIBYTE: &[&str] = &["é", "€", "日", "\u{2028}", "😀"];
    prop_oneof![
        any::<Index>().prop_map(StrEdit::Cut),
        (any::<Index>(), any_string()).prop_map(|(i, s)| StrEdit::Insert(i, s)),
        (any::<Index>(), prop::sample::select(MULTIBYTE))
            .prop_map(|(i, c)| StrEdit::Insert(i, c.to_owned())),
        any::<Index>().prop_map(StrEdit::Remove),
        Just(StrEdit::Empty),
    ]
}

/// Applies a string edit at character boundaries (the result is always valid UTF-8).
pub fn edit_str(s: &str, edit: &StrEdit) -> String {
    let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
    match edit {
        StrEdit::Cut(i) => s[..bounds[i.index(bounds.len())]].to_owned(),
        StrEdit::Insert(i, piece) => {
            let at = bounds[i.index(bounds.len())];
            format!("{}{piece}{}", &s[..at], &s[at..])
        }
        StrEdit::Remove(i) if bounds.len() > 1 => {
            let k = i.index(bounds.len() - 1);
            format!("{}{}", &s[..bounds[k]], &s[bounds[k + 1]..])
        }
        StrEdit::Remove(_) => String::new(),
        StrEdit::Empty => String::new(),
    }
}

/// A string near a real one: the real one with up to three edits.
pub fn near_str(real: &'static [&'static str]) -> impl Strategy<Value = String> {
    (
        prop::sample::select(real),
        prop::collection::vec(str_edit(), 0..4),
    )
        .prop_map(|(s, edits)| {
            edits
                .iter()
                .fold(s.to_owned(), |acc, edit| edit_str(&acc, edit))
        })
}

/// Object keys: the ones Tekton objects use (so arbitrary values land where parsers look),
/// and anything. Time keys are left out: the RFC 3339 parser is another engineer's.
pub fn json_key() -> impl Strategy<Value = String> {
    const KEYS: &[&str] = &[
        "kind",
        "metadata",
        "name",
        "uid",
        "labels",
        "annotations",
        "spec",
        "status",
        "params",
        "value",
        "default",
        "results",
        "steps",
        "sidecars",
        "imageID",
        "provenance",
        "refSource",
        "uri",
        "digest",
        "entryPoint",
        "featureFlags",
        "taskRef",
        "pipelineRef",
        "resolver",
        "taskSpec",
        "pipelineSpec",
        "tasks",
        "finally",
        "childReferences",
        "pipelineTaskName",
        "conditions",
        "timeout",
        "timeouts",
        "runAfter",
        "taskRunTemplate",
        "serviceAccountName",
        "script",
        "command",
        "args",
        "isBuildArtifact",
        "schemaVersion",
        "mediaType",
        "config",
        "layers",
        "size",
        "auths",
        "auth",
        "username",
        "password",
        "identitytoken",
        "token",
        "access_token",
        "kdf",
        "cipher",
        "N",
        "r",
        "p",
        "salt",
        "nonce",
        "ciphertext",
    ];
    prop_oneof![
        3 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => any_string(),
    ]
}

/// JSON scalars, numbers at the edges included (serde_json reads integers past `u64` as
/// floats).
pub fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(&[0.0, -0.0, 1e308, -1e308, 5e-324, 0.5][..]).prop_map(Value::from),
        any_string().prop_map(Value::String),
    ]
}

/// Arbitrary JSON, a few levels deep.
pub fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(json_key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// One edit of a JSON document at a node chosen by the index.
#[derive(Debug, Clone)]
pub enum JsonEdit {
    /// Another value, often of another type.
    Replace(Value),
    /// The field or element removed.
    Remove,
    /// A string edited (other values are left alone).
    Str(StrEdit),
    /// Wrapped in this many arrays: deeper than serde_json's recursion limit for 130 and up.
    Nest(usize),
    /// A key added to an object (or an element to an array).
    Add(String, Value),
}

pub fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        4 => json_value().prop_map(JsonEdit::Replace),
        2 => Just(JsonEdit::Remove),
        4 => str_edit().prop_map(JsonEdit::Str),
        1 => prop::sample::select(&[1usize, 2, 100, 127, 128, 129, 300][..]).prop_map(JsonEdit::Nest),
        2 => (json_key(), json_value()).prop_map(|(k, v)| JsonEdit::Add(k, v)),
    ]
}

/// A byte-level edit after serialising: cut, a byte replaced, bytes inserted.
#[derive(Debug, Clone)]
pub enum ByteEdit {
    Cut(Index),
    Set(Index, u8),
    Insert(Index, Vec<u8>),
}

pub fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        any::<Index>().prop_map(ByteEdit::Cut),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Set(i, b)),
        (
            any::<Index>(),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..8),
                any_string().prop_map(String::into_bytes),
            ]
        )
            .prop_map(|(i, b)| ByteEdit::Insert(i, b)),
    ]
}

pub fn edit_bytes(mut bytes: Vec<u8>, edit: &ByteEdit) -> Vec<u8> {
    match edit {
        ByteEdit::Cut(i) => bytes.truncate(i.index(bytes.len() + 1)),
        ByteEdit::Set(i, b) if !bytes.is_empty() => {
            let at = i.index(bytes.len());
            bytes[at] = *b;
        }
        ByteEdit::Set(..) => {}
        ByteEdit::Insert(i, piece) => {
            let at = i.index(bytes.len() + 1);
            bytes.splice(at..at, piece.iter().copied());
        }
    }
    bytes
}

/// Every node's path, as keys and indexes; keys in `protected` are not descended into or
/// edited.
fn paths(v: &Value, protected: &[&str], here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if protected.contains(&k.as_str()) {
                    continue;
                }
                here.push(Step::Key(k.clone()));
                paths(child, protected, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                here.push(Step::At(i));
                paths(child, protected, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    At(usize),
}

fn node_mut<'a>(v: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(v, |node, step| match step {
        Step::Key(k) => &mut node[k.as_str()],
        Step::At(i) => &mut node[*i],
    })
}

/// Applies JSON edits to a document, each at the node its index picks.
pub fn edit_json(mut doc: Value, edits: &[(Index, JsonEdit)], protected: &[&str]) -> Value {
    for (index, edit) in edits {
        let mut all = Vec::new();
        paths(&doc, protected, &mut Vec::new(), &mut all);
        let path = &all[index.index(all.len())];
        match edit {
            JsonEdit::Remove => match path.split_last() {
                Some((last, parent)) => match (node_mut(&mut doc, parent), last) {
                    (Value::Object(m), Step::Key(k)) => {
                        m.remove(k);
                    }
                    (Value::Array(a), Step::At(i)) => {
                        a.remove(*i);
                    }
                    _ => {}
                },
                None => doc = Value::Null,
            },
            JsonEdit::Replace(v) => *node_mut(&mut doc, path) = v.clone(),
            JsonEdit::Str(e) => {
                if let Value::String(s) = node_mut(&mut doc, path) {
                    *s = edit_str(s, e);
                }
            }
            JsonEdit::Nest(depth) => {
                let node = node_mut(&mut doc, path);
                let mut v = node.take();
                for _ in 0..*depth {
                    v = Value::Array(vec![v]);
                }
                *node = v;
            }
            JsonEdit::Add(k, v) => match node_mut(&mut doc, path) {
                Value::Object(m) => {
                    m.insert(k.clone(), v.clone());
                }
                Value::Array(a) => a.push(v.clone()),
                _ => {}
            },
        }
    }
    doc
}

/// The bytes of a near-miss of `doc`: up to four JSON edits, then up to two byte edits (none
/// most of the time, so that most cases still parse as JSON and reach the code past parsing).
pub fn near_json(doc: Value, protected: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    near_json_from(Just(doc), protected)
}

/// [`near_json`] of documents from a strategy (a seed with some fields set to values of
/// their own kind first).
pub fn near_json_from(
    docs: impl Strategy<Value = Value>,
    protected: &'static [&'static str],
) -> impl Strategy<Value = Vec<u8>> {
    (
        docs,
        prop::collection::vec((any::<Index>(), json_edit()), 0..5),
        prop_oneof![
            3 => Just(Vec::new()),
            1 => prop::collection::vec(byte_edit(), 1..3),
        ],
    )
        .prop_map(move |(doc, edits, byte_edits)| {
            let doc = edit_json(doc, &edits, protected);
            let bytes = serde_json::to_vec(&doc).expect("a Value serialises");
            byte_edits.iter().fold(bytes, edit_bytes)
        })
}

/// Arbitrary bytes, or arbitrary JSON serialised.
pub fn any_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        json_value().prop_map(|v| serde_json::to_vec(&v).expect("a Value serialises")),
        prop::sample::select(&[1usize, 64, 127, 128, 129, 10_000][..]).prop_map(|depth| format!(
            "{}{}",
            "[".repeat(depth),
            "]".repeat(depth)
        )
        .into_bytes()),
        prop::sample::select(&[1usize, 128, 129, 10_000][..])
            .prop_map(|depth| "{\"a\":".repeat(depth).into_bytes()),
    ]
}

/// The shared test vectors, when they are there.
pub fn fixtures() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("CHAINLET_FIXTURES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures")
        });
    dir.is_dir().then_some(dir)
}

/// A PEM block with 64-character lines, as Go's `encoding/pem` writes one.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}
