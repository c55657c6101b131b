//! A fault a real registry cannot produce on demand: a proxy in front of it that answers the
//! first N requests with 503 Service Unavailable, then forwards everything untouched.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct FaultProxy {
    pub addr: String,
    pub refused: Arc<AtomicUsize>,
}

impl FaultProxy {
    /// Answers the first `failures` requests with 503 (`usize::MAX`: always).
    pub fn start(upstream: &str, failures: usize) -> Self {
        Self::start_with(upstream, failures, "503 Service Unavailable", "UNAVAILABLE")
    }

    /// Answers the first `failures` requests with `status` and a registry error `code`.
    pub fn start_with(
        upstream: &str,
        failures: usize,
        status: &'static str,
        code: &'static str,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let refused = Arc::new(AtomicUsize::new(0));
        let upstream = upstream.to_owned();
        let counter = refused.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let upstream = upstream.clone();
                let counter = counter.clone();
                std::thread::spawn(move || {
                    handle(conn, &upstream, failures, &counter, status, code)
                });
            }
        });
        Self { addr, refused }
    }
}

fn handle(
    mut client: TcpStream,
    upstream: &str,
    failures: usize,
    counter: &AtomicUsize,
    status: &str,
    code: &str,
) {
    // Read one request head and its body.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let Ok(n) = client.read(&mut chunk) else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let Ok(n) = client.read(&mut chunk) else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    if counter.load(Ordering::SeqCst) < failures {
        counter.fetch_add(1, Ordering::SeqCst);
        let body = format!(
            "{{\"errors\":[{{\"code\":\"{code}\",\"message\":\"injected by the test\"}}]}}"
        );
        let _ = client.write_all(
            format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        return;
    }
    let Ok(mut up) = TcpStream::connect(upstream) else {
        return;
    };
    if up.write_all(&buf).is_err() {
        return;
    }
    let (Ok(mut up_read), Ok(mut client_write)) = (up.try_clone(), client.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut up_read, &mut client_write);
        let _ = client_write.shutdown(std::net::Shutdown::Both);
    });
    let _ = std::io::copy(&mut client, &mut up);
    let _ = up.shutdown(std::net::Shutdown::Both);
}
