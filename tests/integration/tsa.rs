//! RFC 3161 against the real timestamp authority (sigstore's `timestamp-server`, in-memory
//! signer, on loopback): chainlet's request is granted, the answer verifies against the chain
//! the server publishes, `openssl ts -verify` agrees, and tampering is refused.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chainlet::transparency::tsa;

use crate::common;
use crate::common::sigstore::Tsa;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into()
}

fn timestamp(server: &Tsa, query: &[u8]) -> Vec<u8> {
    let url = format!("{}/api/v1/timestamp", server.url());
    let mut resp = agent()
        .post(&url)
        .header("Content-Type", "application/timestamp-query")
        .send(query)
        .expect("the timestamp request is answered");
    assert!(
        matches!(resp.status().as_u16(), 200 | 201),
        "{url}: {}",
        resp.status()
    );
    resp.body_mut().read_to_vec().unwrap()
}

fn openssl_verify(dir: &Path, resp: &[u8], data: &[u8]) -> bool {
    std::fs::write(dir.join("resp.der"), resp).unwrap();
    std::fs::write(dir.join("data.bin"), data).unwrap();
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(["ts", "-verify", "-in", "resp.der", "-data", "data.bin"])
        .args(["-CAfile", "root.pem", "-untrusted", "untrusted.pem"])
        .output()
        .expect("openssl runs");
    eprintln!(
        "openssl ts -verify: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out.status.success()
}

#[test]
fn timestamp_server_answer_verifies() {
    // The harness's server: one timestamp-server per machine (its metrics port is fixed).
    let Some(server) = Tsa::start() else {
        return;
    };
    let pem = server.cert_chain_pem();
    let chain: Vec<Vec<u8>> = pem_rfc7468_blocks(&pem);
    assert!(chain.len() >= 2, "{pem}");

    let signature = b"MEUCIQCACfhp: any signature bytes".to_vec();
    let req = tsa::request(&signature).unwrap();
    let resp = timestamp(&server, &req.der);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let ts = tsa::verify_response(&resp, &signature, req.nonce, &chain).unwrap();
    assert!((ts.gen_time - now).abs() < 60, "{} vs {now}", ts.gen_time);
    assert_eq!(ts.signed_timestamp, resp);
    // Read back from a bundle, as a response or as the bare token.
    assert_eq!(tsa::verify_token(&resp, &signature, &chain).unwrap(), ts);
    assert_eq!(
        tsa::verify_token(&ts.token_der, &signature, &chain).unwrap(),
        ts
    );

    // openssl agrees: root trusted, the rest untrusted.
    let dir = tempfile::tempdir().unwrap();
    let pems: Vec<&str> = pem
        .split_inclusive("-----END CERTIFICATE-----")
        .filter(|p| p.contains("-----BEGIN"))
        .collect();
    let (root, rest) = pems.split_last().unwrap();
    std::fs::write(dir.path().join("root.pem"), format!("{}\n", root.trim())).unwrap();
    std::fs::write(
        dir.path().join("untrusted.pem"),
        format!("{}\n", rest.concat().trim()),
    )
    .unwrap();
    assert!(openssl_verify(dir.path(), &resp, &signature));

    // Tampering: another signature, another nonce, a changed byte, a short chain, another
    // authority's chain.
    let mut other = signature.clone();
    other[0] ^= 1;
    assert!(tsa::verify_response(&resp, &other, req.nonce, &chain).is_err());
    assert!(!openssl_verify(dir.path(), &resp, &other));
    assert!(tsa::verify_response(&resp, &signature, req.nonce ^ 1, &chain).is_err());
    // Any byte changed: refused, or (a byte outside what is signed, in the certificates the
    // token carries and the check does not take from it) the same time still over this
    // signature. Every byte of the imprint and of the signature at the end is refused.
    let flip = |at: usize| {
        let mut bad = resp.clone();
        bad[at] ^= 0x10;
        tsa::verify_response(&bad, &signature, req.nonce, &chain)
    };
    for at in 0..resp.len() {
        match flip(at) {
            Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
            Ok(t) => assert_eq!(t.gen_time, ts.gen_time),
        }
    }
    use sha2::Digest as _;
    let imprint = sha2::Sha256::digest(&signature);
    let at = resp
        .windows(32)
        .position(|w| w == imprint.as_slice())
        .expect("the imprint is in the response");
    for at in (at..at + 32).chain(resp.len() - 20..resp.len()) {
        assert!(flip(at).is_err(), "byte {at} changed and still verified");
    }
    assert!(tsa::verify_response(&resp, &signature, req.nonce, &chain[..1]).is_err());
    assert!(tsa::verify_response(&resp, &signature, req.nonce, &chain[1..]).is_err());
    // Another authority's chain (the test server's leaf with another root is the same case).
    if let Some(fx) = common::fixtures() {
        let root: serde_json::Value = serde_json::from_slice(
            &std::fs::read(fx.join("rekor/trusted-root-public-good.json")).unwrap(),
        )
        .unwrap();
        use base64::Engine as _;
        let other: Vec<Vec<u8>> = root["timestampAuthorities"][0]["certChain"]["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                base64::engine::general_purpose::STANDARD
                    .decode(c["rawBytes"].as_str().unwrap())
                    .unwrap()
            })
            .collect();
        assert!(tsa::verify_response(&resp, &signature, req.nonce, &other).is_err());
        let mixed = [chain[0].clone(), other[1].clone(), other[2].clone()];
        assert!(tsa::verify_response(&resp, &signature, req.nonce, &mixed).is_err());
    }

    // openssl's own query (no nonce, certReq) is answered and verifies too.
    std::fs::write(dir.path().join("sig.bin"), &signature).unwrap();
    common::openssl(
        dir.path(),
        &[
            "ts", "-query", "-data", "sig.bin", "-sha256", "-cert", "-out", "q.der",
        ],
    );
    let q = std::fs::read(dir.path().join("q.der")).unwrap();
    let resp = timestamp(&server, &q);
    tsa::verify_token(&resp, &signature, &chain).unwrap();
}

/// The DER of each PEM block in `text`.
fn pem_rfc7468_blocks(text: &str) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    text.split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .filter_map(|b| b.split("-----END CERTIFICATE-----").next())
        .map(|b| {
            let b64: String = b.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap()
        })
        .collect()
}
