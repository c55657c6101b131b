//! `storage.docdb.url`, read as go-cloud's docstore URL openers read it. The URL may carry a
//! credential (a MongoDB password), so no error repeats it: they name the part that is wrong.

/// A parsed docstore URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocstoreUrl {
    Dynamo(DynamoUrl),
    Firestore(FirestoreUrl),
    Mongo,
}

/// `dynamodb://TABLE?partition_key=…[&sort_key=…][&region=…][&endpoint=…]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoUrl {
    pub table: String,
    pub partition_key: String,
    pub sort_key: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
}

/// `firestore://projects/P/databases/D/documents/COLLECTION?name_field=F[&revision_field=…]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirestoreUrl {
    pub project: String,
    pub database: String,
    /// The collection's path below `documents/`: `chains`, or a nested `runs/team-a/chains`.
    pub collection: String,
    /// The field whose value is a document's id (go-cloud leaves it out of the fields).
    pub name_field: String,
}

impl FirestoreUrl {
    /// `projects/P/databases/D`.
    pub fn database_path(&self) -> String {
        format!("projects/{}/databases/{}", self.project, self.database)
    }

    /// `projects/P/databases/D/documents/COLLECTION`: the collection's resource name.
    pub fn collection_path(&self) -> String {
        format!("{}/documents/{}", self.database_path(), self.collection)
    }
}

/// go-cloud's AWS options that chainlet does not implement yet.
const AWS_LATER: &[&str] = &[
    "profile",
    "role",
    "dualstack",
    "fips",
    "anonymous",
    "rate_limiter_capacity",
    "request_checksum_calculation",
    "response_checksum_validation",
];

/// Fields of the document that can be an item's key (`Object` is a map; keys are scalars).
const KEY_FIELDS: &[&str] = &["Name", "Signed", "Signature", "Cert", "Chain"];

pub fn parse(raw: &str) -> Result<DocstoreUrl, String> {
    // Go's url.Parse refuses these too ("invalid control character in URL").
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("has a control character, which no URL may hold".into());
    }
    let Some((scheme, rest)) = raw.split_once("://") else {
        return Err("is not a docstore URL (dynamodb://, firestore:// or mongo://)".into());
    };
    match scheme {
        "dynamodb" => parse_dynamo(rest).map(DocstoreUrl::Dynamo),
        "firestore" => parse_firestore(rest).map(DocstoreUrl::Firestore),
        "mongo" => Ok(DocstoreUrl::Mongo),
        other => Err(format!(
            "has the scheme {:?}, which no docstore has (dynamodb, firestore, mongo)",
            other.chars().take(32).collect::<String>()
        )),
    }
}

fn parse_dynamo(rest: &str) -> Result<DynamoUrl, String> {
    let rest = rest.split('#').next().unwrap_or_default();
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (table, path) = before_query
        .find('/')
        .map_or((before_query, ""), |i| before_query.split_at(i));
    if table.is_empty() {
        return Err("dynamodb://: the URL's host, the table name, is empty".into());
    }
    if !(3..=255).contains(&table.len())
        || !table
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        return Err(format!(
            "dynamodb://: {:?} is not a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ - .)",
            table.chars().take(64).collect::<String>()
        ));
    }
    if !path.is_empty() {
        return Err(format!(
            "dynamodb://{table}: the URL has a path; only the host, the table name, is used"
        ));
    }
    let mut url = DynamoUrl {
        table: table.to_owned(),
        partition_key: String::new(),
        sort_key: None,
        region: None,
        endpoint: None,
    };
    let mut seen = std::collections::BTreeSet::new();
    for (key, value) in query_pairs(query)? {
        // As url.Values.Get: the first value of a parameter counts.
        if !seen.insert(key.clone()) {
            continue;
        }
        let at = |m: &str| format!("dynamodb://{table}: {m}");
        match key.as_str() {
            "partition_key" => url.partition_key = value,
            "sort_key" if !value.is_empty() => url.sort_key = Some(value),
            "region" if !value.is_empty() => url.region = Some(value),
            "endpoint" if !value.is_empty() => url.endpoint = Some(value),
            // Reads and queries only; a put is the same with or without them.
            "sort_key" | "region" | "endpoint" | "allow_scans" | "consistent_read"
            | "revision_field" | "awssdk" => {}
            "hostname_immutable" => {
                // chainlet always sends requests to the endpoint exactly as given.
                if !matches!(
                    value.as_str(),
                    "1" | "t"
                        | "T"
                        | "TRUE"
                        | "true"
                        | "True"
                        | "0"
                        | "f"
                        | "F"
                        | "FALSE"
                        | "false"
                        | "False"
                ) {
                    return Err(at(&format!(
                        "hostname_immutable={value:?} is not a boolean"
                    )));
                }
            }
            k if AWS_LATER.contains(&k) => {
                return Err(at(&format!("the {k} parameter is not supported yet")));
            }
            k => {
                return Err(at(&format!(
                    "unknown query parameter {:?}",
                    k.chars().take(64).collect::<String>()
                )));
            }
        }
    }
    if url.partition_key.is_empty() {
        return Err(format!(
            "dynamodb://{table}: partition_key is required (Chains' documents are keyed by Name: ?partition_key=Name)"
        ));
    }
    for key in std::iter::once(&url.partition_key).chain(&url.sort_key) {
        if !KEY_FIELDS.contains(&key.as_str()) {
            return Err(format!(
                "dynamodb://{table}: the key field {:?} is not a field of Chains' document ({})",
                key.chars().take(64).collect::<String>(),
                KEY_FIELDS.join(", ")
            ));
        }
    }
    Ok(url)
}

/// Fields of the document a Firestore id can come from: go-cloud wants a string key.
const NAME_FIELDS: &[&str] = &["Name", "Signature", "Cert", "Chain"];

/// As go-cloud's opener: the URL's host and path joined and cleaned (Go's `path.Join`) must
/// match `projects/P/databases/D/documents/C…`; `name_field` is required, `revision_field`
/// is accepted, any other parameter is refused.
fn parse_firestore(rest: &str) -> Result<FirestoreUrl, String> {
    let rest = rest.split('#').next().unwrap_or_default();
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (host, path) = before_query
        .find('/')
        .map_or((before_query, ""), |i| before_query.split_at(i));
    if host.contains('@') {
        return Err("firestore://: the URL has user information; Firestore URLs take none".into());
    }
    if host.is_empty() {
        // go-cloud joins host and path: `firestore:///projects/…` becomes `/projects/…`.
        return Err("firestore://: the URL's host is empty; the resource name starts there (firestore://projects/P/…)".into());
    }
    // Go's url.Parse unescapes the path (not the host) before the opener joins them.
    let path = unescape_path(path)?;
    let mut segments: Vec<&str> = Vec::new();
    for segment in std::iter::once(host).chain(path.split('/')) {
        match segment {
            "" | "." => {}
            // As Go's path.Clean of a relative path: a `..` with nothing to undo stays.
            ".." if segments.last().is_some_and(|s| *s != "..") => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    // A decoded `%0A` is a character of the name: shown escaped, so an error stays one line.
    let shown = || {
        let joined = segments.join("/");
        let mut s: String = joined.chars().take(120).collect();
        if s.len() < joined.len() {
            s.push('…');
        }
        s.escape_debug().to_string()
    };
    let (project, database, collection) = match segments.as_slice() {
        [
            "projects",
            project,
            "databases",
            database,
            "documents",
            collection @ ..,
        ] if !collection.is_empty() => (*project, *database, collection),
        _ => {
            return Err(format!(
                "firestore://: \"{}\" is not a collection's resource name (projects/P/databases/D/documents/COLLECTION)",
                shown()
            ));
        }
    };
    // Odd lengths name collections (`c`, `c/doc/sub`); even ones would name a document.
    if collection.len() % 2 == 0 {
        return Err(format!(
            "firestore://{}: the path after documents/ names a document, not a collection (it needs an odd number of segments)",
            shown()
        ));
    }
    if let Some(bad) = collection
        .iter()
        .chain([&project, &database])
        .find(|s| s.len() > 1500 || (s.starts_with("__") && s.ends_with("__") && s.len() >= 4))
    {
        return Err(format!(
            "firestore://{}: {:?} is not a Firestore id (reserved __…__ or longer than 1500 bytes)",
            shown(),
            bad.chars().take(64).collect::<String>()
        ));
    }
    let at = |m: &str| format!("firestore://{}: {m}", shown());
    let mut name_field = None;
    for (key, value) in query_pairs(query)? {
        match key.as_str() {
            // As url.Values.Get: the first value counts.
            "name_field" => {
                name_field.get_or_insert(value);
            }
            // Names a field of revisions; Chains' document has none, so a put ignores it.
            "revision_field" => {}
            k => {
                return Err(at(&format!(
                    "invalid query parameter {:?} (go-cloud takes name_field and revision_field)",
                    k.chars().take(64).collect::<String>()
                )));
            }
        }
    }
    let name_field = name_field.filter(|f| !f.is_empty()).ok_or_else(|| {
        at("name_field is required (Chains' documents are named by Name: ?name_field=Name)")
    })?;
    if !NAME_FIELDS.contains(&name_field.as_str()) {
        return Err(at(&format!(
            "name_field {:?} is not a text field of Chains' document ({})",
            name_field.chars().take(64).collect::<String>(),
            NAME_FIELDS.join(", ")
        )));
    }
    Ok(FirestoreUrl {
        project: project.to_owned(),
        database: database.to_owned(),
        collection: collection.join("/"),
        name_field,
    })
}

/// A URL path's `%XX` escapes decoded, as Go's `url.Parse` fills `URL.Path` (`+` stays `+`).
fn unescape_path(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("firestore://: the URL's path has a malformed %-escape")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| "firestore://: the URL's path is not UTF-8 once unescaped".into())
}

/// `k=v&…`, percent-decoded with `+` as a space, as Go's `url.ParseQuery`.
pub fn query_pairs(query: &str) -> Result<Vec<(String, String)>, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((unescape(k)?, unescape(v)?))
        })
        .collect()
}

fn unescape(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .filter(|_| {
                        bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit()
                    })
                    .ok_or("a query parameter has a malformed %-escape")?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "a query parameter is not UTF-8 once unescaped".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamodb_urls_read_as_go_cloud_reads_them() {
        let DocstoreUrl::Dynamo(u) = parse(
            "dynamodb://chains-docs?partition_key=Name&region=eu-west-1&endpoint=http%3A%2F%2F127.0.0.1%3A4566&consistent_read=true",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(u.table, "chains-docs");
        assert_eq!(u.partition_key, "Name");
        assert_eq!(u.sort_key, None);
        assert_eq!(u.region.as_deref(), Some("eu-west-1"));
        assert_eq!(u.endpoint.as_deref(), Some("http://127.0.0.1:4566"));
        let DocstoreUrl::Dynamo(u) =
            parse("dynamodb://t12?partition_key=Name&sort_key=Signature").unwrap()
        else {
            panic!()
        };
        assert_eq!(u.sort_key.as_deref(), Some("Signature"));
    }

    #[test]
    fn bad_dynamodb_urls_say_what_is_wrong_without_repeating_the_url() {
        for (url, says) in [
            ("dynamodb://t12", "partition_key is required"),
            ("dynamodb://?partition_key=Name", "table name, is empty"),
            ("dynamodb://t12/x?partition_key=Name", "has a path"),
            ("dynamodb://t12?partition_key=Object", "not a field"),
            ("dynamodb://t12?partition_key=name", "not a field"),
            (
                "dynamodb://t12?partition_key=Name&profile=p",
                "not supported yet",
            ),
            (
                "dynamodb://t12?partition_key=Name&bogus=1",
                "unknown query parameter",
            ),
            ("dynamodb://t12?partition_key=Name&x=%zz", "malformed"),
            (
                "dynamodb://a?partition_key=Name",
                "not a DynamoDB table name",
            ),
            ("s3://b", "no docstore has"),
            ("no-scheme", "not a docstore URL"),
        ] {
            let e = parse(url).unwrap_err();
            assert!(e.contains(says), "{url}: {e}");
        }
        assert_eq!(
            parse("mongo://u:secret@h/db/c").unwrap(),
            DocstoreUrl::Mongo
        );
    }

    #[test]
    fn firestore_urls_read_as_go_cloud_reads_them() {
        let f = |raw: &str| match parse(raw) {
            Ok(DocstoreUrl::Firestore(u)) => u,
            other => panic!("{raw}: {other:?}"),
        };
        let u =
            f("firestore://projects/my-proj/databases/(default)/documents/chains?name_field=Name");
        assert_eq!(
            (
                u.project.as_str(),
                u.database.as_str(),
                u.collection.as_str()
            ),
            ("my-proj", "(default)", "chains")
        );
        assert_eq!(u.name_field, "Name");
        assert_eq!(
            u.collection_path(),
            "projects/my-proj/databases/(default)/documents/chains"
        );
        // path.Join cleans; the path is unescaped; nested collections; the first value counts.
        let u = f(
            "firestore://projects/p/databases/db1//documents/./runs/x/../team%2Da/chains/?name_field=Name&name_field=Cert&revision_field=R#frag",
        );
        assert_eq!(u.collection, "runs/team-a/chains");
        assert_eq!(u.database_path(), "projects/p/databases/db1");
        assert_eq!(u.name_field, "Name");
    }

    #[test]
    fn bad_firestore_urls_say_what_is_wrong() {
        for (url, says) in [
            (
                "firestore://projects/p/databases/d/documents/c",
                "name_field is required",
            ),
            (
                "firestore://projects/p/databases/d/documents/c?name_field=",
                "name_field is required",
            ),
            (
                "firestore://projects/p/databases/d/documents/c?name_field=Signed",
                "not a text field",
            ),
            (
                "firestore://projects/p/databases/d/documents/c?name_field=Name&x=1",
                "invalid query parameter",
            ),
            (
                "firestore://projects/p/databases/d/documents?name_field=Name",
                "not a collection's resource name",
            ),
            (
                "firestore://projects/p/databases/d/documents/c/doc?name_field=Name",
                "names a document",
            ),
            (
                "firestore://projects/p/documents/c?name_field=Name",
                "not a collection's resource name",
            ),
            (
                "firestore:///projects/p/databases/d/documents/c?name_field=Name",
                "host is empty",
            ),
            (
                "firestore://projects/../../projects/p/databases/d/documents/c?name_field=Name",
                "not a collection's",
            ),
            (
                "firestore://u:pw@projects/p/databases/d/documents/c?name_field=Name",
                "user information",
            ),
            (
                "firestore://projects/p/databases/d/documents/c%zz?name_field=Name",
                "malformed",
            ),
            (
                "firestore://projects/p/databases/d/documents/__c__?name_field=Name",
                "not a Firestore id",
            ),
        ] {
            let e = parse(url).unwrap_err();
            assert!(e.contains(says), "{url}: {e}");
            assert!(!e.contains("pw"), "{url}: {e}");
        }
    }
}
