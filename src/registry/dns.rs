//! A pure-Rust stub resolver, so the static binary never calls glibc's `getaddrinfo` (which needs
//! NSS modules a `FROM scratch` image does not have).
//!
//! It does what a pod's resolver must: IP literals as they are, `/etc/hosts`, then DNS over UDP
//! (TCP when the answer is truncated) to the `nameserver`s of `/etc/resolv.conf`, applying its
//! `search` list and `ndots` (Kubernetes sets `ndots:5`, so `registry.ns.svc` is tried with the
//! search domains first) and its `timeout` and `attempts`.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use simple_dns::rdata::RData;
use simple_dns::{CLASS, Name, Packet, QCLASS, QTYPE, Question, TYPE};

/// The resolver's view of the system: nameservers, search list, options, and the hosts file.
#[derive(Debug, Clone)]
pub struct Resolver {
    nameservers: Vec<SocketAddr>,
    search: Vec<String>,
    ndots: usize,
    timeout: Duration,
    attempts: u32,
    hosts: Vec<(String, IpAddr)>,
}

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("{host}: no address found (DNS servers {servers})")]
    NotFound { host: String, servers: String },
    #[error("{host}: no DNS server answered ({servers}): {last}")]
    NoAnswer {
        host: String,
        servers: String,
        last: String,
    },
}

impl Resolver {
    /// Reads `/etc/resolv.conf` and `/etc/hosts`; missing files mean no DNS servers or no hosts.
    pub fn from_system() -> Self {
        let conf = std::fs::read("/etc/resolv.conf").unwrap_or_default();
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        Self::from_parts(&conf, &hosts)
    }

    pub fn from_parts(resolv_conf: &[u8], hosts: &str) -> Self {
        let (conf, _errors) = resolv_conf::Config::parse_with_errors(resolv_conf);
        let nameservers = conf
            .nameservers
            .iter()
            .map(|ip| {
                let ip: IpAddr = match ip {
                    resolv_conf::ScopedIp::V4(v4) => IpAddr::V4(*v4),
                    resolv_conf::ScopedIp::V6(v6, _) => IpAddr::V6(*v6),
                };
                SocketAddr::new(ip, 53)
            })
            .collect();
        Self {
            nameservers,
            search: conf.get_last_search_or_domain().cloned().collect(),
            ndots: conf.ndots as usize,
            timeout: Duration::from_secs(conf.timeout.clamp(1, 30) as u64),
            attempts: conf.attempts.clamp(1, 5),
            hosts: parse_hosts(hosts),
        }
    }

    /// Points the resolver at one server (tests).
    pub fn with_nameserver(mut self, server: SocketAddr) -> Self {
        self.nameservers = vec![server];
        self
    }

    /// Resolves a host name to its addresses, IPv4 first.
    pub fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let wanted = host.trim_end_matches('.').to_ascii_lowercase();
        let from_hosts: Vec<IpAddr> = self
            .hosts
            .iter()
            .filter(|(name, _)| *name == wanted)
            .map(|(_, ip)| *ip)
            .collect();
        if !from_hosts.is_empty() {
            return Ok(sorted(from_hosts));
        }
        let mut last_error = None;
        for candidate in self.candidates(host) {
            match self.query_all(&candidate) {
                Ok(ips) if !ips.is_empty() => return Ok(sorted(ips)),
                Ok(_) => {}
                Err(e) => last_error = Some(e),
            }
        }
        let servers = self
            .nameservers
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        Err(match last_error {
            Some(last) => DnsError::NoAnswer {
                host: host.to_owned(),
                servers,
                last,
            },
            None => DnsError::NotFound {
                host: host.to_owned(),
                servers,
            },
        })
    }

    /// The names to try, in resolv.conf order: as written first when it has at least `ndots`
    /// dots (or ends with a dot), otherwise after the search domains.
    fn candidates(&self, host: &str) -> Vec<String> {
        if let Some(absolute) = host.strip_suffix('.') {
            return vec![absolute.to_owned()];
        }
        let searched: Vec<String> = self.search.iter().map(|d| format!("{host}.{d}")).collect();
        let dots = host.matches('.').count();
        let mut out = Vec::new();
        if dots >= self.ndots {
            out.push(host.to_owned());
            out.extend(searched);
        } else {
            out.extend(searched);
            out.push(host.to_owned());
        }
        out
    }

    /// A and AAAA answers for one name, from the first server that answers.
    fn query_all(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        let mut last = String::from("no nameserver configured");
        for _ in 0..self.attempts {
            for server in &self.nameservers {
                // An A answer is enough: a server that never answers AAAA questions (some
                // do not) must not make an IPv4 name unresolvable.
                let a = query(*server, name, TYPE::A, self.timeout);
                let aaaa = query(*server, name, TYPE::AAAA, self.timeout);
                match (a, aaaa) {
                    (Err(e), Err(_)) => last = format!("{server}: {e}"),
                    (a, aaaa) => {
                        let mut ips = a.unwrap_or_default();
                        ips.extend(aaaa.unwrap_or_default());
                        return Ok(ips);
                    }
                }
            }
        }
        Err(last)
    }
}

fn sorted(mut ips: Vec<IpAddr>) -> Vec<IpAddr> {
    ips.sort_by_key(|ip| ip.is_ipv6());
    ips.dedup();
    ips
}

fn parse_hosts(text: &str) -> Vec<(String, IpAddr)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let Some(ip) = fields.next().and_then(|f| f.parse::<IpAddr>().ok()) else {
            continue;
        };
        for name in fields {
            out.push((name.to_ascii_lowercase(), ip));
        }
    }
    out
}

/// One question to one server: UDP, then TCP if the answer was truncated. A name that does not
/// exist is an empty answer, not an error.
fn query(
    server: SocketAddr,
    name: &str,
    qtype: TYPE,
    timeout: Duration,
) -> Result<Vec<IpAddr>, String> {
    let id = random_id();
    let mut packet = Packet::new_query(id);
    packet.set_flags(simple_dns::PacketFlag::RECURSION_DESIRED);
    let qname = Name::new(name).map_err(|e| format!("bad name {name:?}: {e}"))?;
    packet.questions.push(Question::new(
        qname,
        QTYPE::TYPE(qtype),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    let request = packet.build_bytes_vec().map_err(|e| e.to_string())?;

    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("valid")
    } else {
        "[::]:0".parse().expect("valid")
    };
    let socket = UdpSocket::bind(bind).map_err(|e| e.to_string())?;
    socket.connect(server).map_err(|e| e.to_string())?;
    socket.send(&request).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("timed out".into());
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        let n = socket.recv(&mut buf).map_err(|e| e.to_string())?;
        let Ok(reply) = Packet::parse(&buf[..n]) else {
            continue;
        };
        if reply.id() != id || !answers_question(&reply, name, qtype) {
            continue; // a late answer to an earlier question, or not an answer to ours
        }
        if reply.has_flags(simple_dns::PacketFlag::TRUNCATION) {
            return query_tcp(server, &request, id, timeout);
        }
        return answers(&reply);
    }
}

fn query_tcp(
    server: SocketAddr,
    request: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Vec<IpAddr>, String> {
    let mut stream = TcpStream::connect_timeout(&server, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut framed = (request.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(request);
    stream.write_all(&framed).map_err(|e| e.to_string())?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut buf).map_err(|e| e.to_string())?;
    let reply = Packet::parse(&buf).map_err(|e| e.to_string())?;
    if reply.id() != id {
        return Err("answer does not match the question".into());
    }
    answers(&reply)
}

/// A reply (QR set) whose question is ours.
fn answers_question(reply: &Packet<'_>, name: &str, qtype: TYPE) -> bool {
    reply.has_flags(simple_dns::PacketFlag::RESPONSE)
        && reply.questions.len() == 1
        && reply.questions[0].qtype == QTYPE::TYPE(qtype)
        && reply.questions[0]
            .qname
            .to_string()
            .trim_end_matches('.')
            .eq_ignore_ascii_case(name.trim_end_matches('.'))
}

fn answers(reply: &Packet<'_>) -> Result<Vec<IpAddr>, String> {
    use simple_dns::RCODE;
    match reply.rcode() {
        RCODE::NoError | RCODE::NameError => {}
        other => return Err(format!("server answered {other:?}")),
    }
    Ok(reply
        .answers
        .iter()
        .filter_map(|rr| match &rr.rdata {
            RData::A(a) => Some(IpAddr::V4(a.address.into())),
            RData::AAAA(a) => Some(IpAddr::V6(a.address.into())),
            _ => None,
        })
        .collect())
}

fn random_id() -> u16 {
    let mut b = [0u8; 2];
    // A predictable id only weakens spoofing resistance; it never fails the lookup.
    let _ = getrandom::fill(&mut b);
    u16::from_ne_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use simple_dns::ResourceRecord;
    use simple_dns::rdata::A;

    /// A DNS server on loopback that answers A questions for one name.
    fn fake_server(name: &'static str, ip: [u8; 4]) -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                let q = Packet::parse(&buf[..n]).unwrap();
                let mut reply = Packet::new_reply(q.id());
                let question = q.questions[0].clone();
                let asked = question.qname.to_string();
                let is_a = question.qtype == QTYPE::TYPE(TYPE::A);
                reply.questions.push(question);
                if asked == name && is_a {
                    reply.answers.push(ResourceRecord::new(
                        Name::new_unchecked(name),
                        CLASS::IN,
                        60,
                        RData::A(A {
                            address: u32::from_be_bytes(ip),
                        }),
                    ));
                } else if asked != name {
                    *reply.rcode_mut() = simple_dns::RCODE::NameError;
                }
                let bytes = reply.build_bytes_vec().unwrap();
                socket.send_to(&bytes, from).unwrap();
            }
        });
        addr
    }

    #[test]
    fn ip_literals_and_hosts_need_no_server() {
        let r = Resolver::from_parts(b"", "127.0.0.1 localhost\n::1 localhost\n");
        assert_eq!(
            r.resolve("10.1.2.3").unwrap(),
            ["10.1.2.3".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            r.resolve("[::1]").unwrap(),
            ["::1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            r.resolve("LocalHost").unwrap()[0],
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn search_domains_come_first_below_ndots_like_in_a_pod() {
        let server = fake_server("registry.ci.svc.cluster.local", [10, 0, 0, 7]);
        let conf =
            b"search ci.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n";
        let r = Resolver::from_parts(conf, "").with_nameserver(server);
        assert_eq!(
            r.resolve("registry").unwrap(),
            ["10.0.0.7".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            r.resolve("registry.ci.svc.cluster.local.").unwrap(),
            ["10.0.0.7".parse::<IpAddr>().unwrap()]
        );
        let e = r.resolve("nothing.example").unwrap_err().to_string();
        assert!(
            e.contains("nothing.example") && e.contains("no address"),
            "{e}"
        );
    }
}
