//! A token server for distribution's `auth: token`: checks Basic credentials and issues ES256
//! JWTs (with the signing certificate in `x5c`) granting the scope asked for.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;

use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::DecodePrivateKey as _;

pub const ISSUER: &str = "chainlet-test-issuer";
pub const SERVICE: &str = "chainlet-test-registry";

pub struct TokenServer {
    pub realm: String,
    pub cert: std::path::PathBuf,
}

impl TokenServer {
    /// Starts the server; only `user:password` gets tokens.
    pub fn start(dir: &Path, user: &'static str, password: &'static str) -> Self {
        super::tls::self_signed(dir, "token", "/CN=token signer");
        let key = p256::ecdsa::SigningKey::read_pkcs8_pem_file(dir.join("token.key")).unwrap();
        let cert_pem = std::fs::read_to_string(dir.join("token.crt")).unwrap();
        let cert_b64: String = cert_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let realm = format!("http://{}/token", listener.local_addr().unwrap());
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let mut authorization = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':')
                        && k.eq_ignore_ascii_case("authorization")
                    {
                        authorization = Some(v.trim().to_owned());
                    }
                }
                let mut conn = conn;
                if authorization.as_deref() != Some(expected.as_str()) {
                    let _ = conn.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    continue;
                }
                let query: Vec<(String, String)> = request_line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|target| target.split_once('?'))
                    .map(|(_, q)| {
                        q.split('&')
                            .filter_map(|kv| kv.split_once('='))
                            .map(|(k, v)| (k.to_owned(), percent_decode(v)))
                            .collect()
                    })
                    .unwrap_or_default();
                let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                let scope = param("scope").unwrap_or_default();
                // A client that asks for the wrong service, or for more than pull and push on
                // one repository, gets no token.
                let scope_ok = scope.starts_with("repository:")
                    && scope
                        .rsplit(':')
                        .next()
                        .is_some_and(|a| a.split(',').all(|a| a == "pull" || a == "push"));
                if param("service").as_deref() != Some(SERVICE) || !scope_ok {
                    let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    continue;
                }
                let token = jwt(&key, &cert_b64, user, &scope);
                let body = format!("{{\"token\":\"{token}\"}}");
                let _ = conn.write_all(
                    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
                        .as_bytes(),
                );
            }
        });
        Self {
            realm,
            cert: dir.join("token.crt"),
        }
    }

    /// The registry config section for this server.
    pub fn registry_config(&self) -> String {
        self.registry_config_with_realm(&self.realm)
    }

    /// The same with another realm (the server behind a proxy).
    pub fn registry_config_with_realm(&self, realm: &str) -> String {
        format!(
            "auth:\n  token:\n    realm: {realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            self.cert.display()
        )
    }

    /// `host:port` of the server.
    pub fn addr(&self) -> &str {
        self.realm
            .trim_start_matches("http://")
            .trim_end_matches("/token")
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 3 <= b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn jwt(key: &p256::ecdsa::SigningKey, cert_b64: &str, user: &str, scope: &str) -> String {
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // scope = repository:<name>:<actions>
    let access = match scope.splitn(3, ':').collect::<Vec<_>>()[..] {
        ["repository", name, actions] => {
            let actions: Vec<String> = actions.split(',').map(|a| format!("\"{a}\"")).collect();
            format!(
                "[{{\"type\":\"repository\",\"name\":\"{name}\",\"actions\":[{}]}}]",
                actions.join(",")
            )
        }
        _ => "[]".into(),
    };
    let header = format!("{{\"alg\":\"ES256\",\"typ\":\"JWT\",\"x5c\":[\"{cert_b64}\"]}}");
    let claims = format!(
        "{{\"iss\":\"{ISSUER}\",\"sub\":\"{user}\",\"aud\":\"{SERVICE}\",\"exp\":{},\"nbf\":{},\"iat\":{now},\"jti\":\"{now}-{user}\",\"access\":{access}}}",
        now + 300,
        now - 10
    );
    let signing_input = format!("{}.{}", url.encode(header), url.encode(claims));
    let sig: p256::ecdsa::Signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", url.encode(sig.to_bytes()))
}
