//! A pure-Rust stub resolver, so the static binary never calls glibc's `getaddrinfo` (which needs
//! NSS modules a `FROM scratch` image does not have).
//!
//! It does what a pod's resolver must: IP literals as they are, `/etc/hosts`, then DNS over UDP
//! (TCP when the answer is truncated) to the `nameserver`s of `/etc/resolv.conf`, applying its
//! `search` list and `ndots` (Kubernetes sets `ndots:5`, so `registry.ns.svc` is tried with the
//! search domains first) and its `timeout` and `attempts`.
//!
//! Unlike libc it is bounded by the caller's deadline as a whole: with `ndots:5`, four search
//! domains, two attempts and a dead nameserver, resolv.conf's own timeouts add up to more than
//! a minute, and no request may wait longer than the time it has left. The A and AAAA questions
//! for a name go out together on one socket, and answers are kept for the resolver's lifetime
//! (one run).

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use simple_dns::rdata::RData;
use simple_dns::{CLASS, Name, Packet, QCLASS, QTYPE, Question, TYPE};

/// The resolver's view of the system: nameservers, search list, options, and the hosts file,
/// with the answers it has already had.
#[derive(Debug)]
pub struct Resolver {
    nameservers: Vec<SocketAddr>,
    search: Vec<String>,
    ndots: usize,
    timeout: Duration,
    attempts: u32,
    hosts: Vec<(String, IpAddr)>,
    cache: Mutex<HashMap<String, Vec<IpAddr>>>,
}

#[derive(Debug, Clone, thiserror::Error)]
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
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Points the resolver at one server (tests).
    pub fn with_nameserver(mut self, server: SocketAddr) -> Self {
        self.nameservers = vec![server];
        self
    }

    /// Resolves a host name to its addresses, IPv4 first, giving up at `deadline`.
    pub fn resolve(&self, host: &str, deadline: Instant) -> Result<Vec<IpAddr>, DnsError> {
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
        let key = host.to_ascii_lowercase();
        if let Some(ips) = self.cache().get(&key) {
            return Ok(ips.clone());
        }
        let mut last_error = None;
        for candidate in self.candidates(host) {
            match self.query_all(&candidate, deadline) {
                Ok(ips) if !ips.is_empty() => {
                    let ips = sorted(ips);
                    self.cache().insert(key, ips.clone());
                    return Ok(ips);
                }
                Ok(_) => {}
                Err(e) => last_error = Some(e),
            }
            if Instant::now() >= deadline {
                last_error = Some("the deadline passed".into());
                break;
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

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<IpAddr>>> {
        // The map is consistent after any panic elsewhere: entries are inserted whole.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
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

    /// A and AAAA answers for one name, from the first server that answers, each question
    /// bounded by resolv.conf's timeout and by the deadline.
    fn query_all(&self, name: &str, deadline: Instant) -> Result<Vec<IpAddr>, String> {
        let mut last = String::from("no nameserver configured");
        for _ in 0..self.attempts {
            for server in &self.nameservers {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(format!("{last} (the deadline passed)"));
                }
                let until = Instant::now() + self.timeout.min(left);
                match query_pair(*server, name, until) {
                    Ok(ips) => return Ok(ips),
                    Err(e) => last = format!("{server}: {e}"),
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

/// The A and AAAA questions for `name` to one server, together on one socket; TCP for a
/// truncated answer. An A answer is enough: a server that never answers AAAA questions (some do
/// not) must not make an IPv4 name unresolvable, so once one family has addresses the other
/// gets at most [`SECOND_ANSWER_GRACE`] more. A name that does not exist is an empty answer,
/// not an error.
fn query_pair(server: SocketAddr, name: &str, until: Instant) -> Result<Vec<IpAddr>, String> {
    let qname = Name::new(name).map_err(|e| format!("bad name {name:?}: {e}"))?;
    let id_a = random_id();
    // Distinct ids, so each answer is matched to its question.
    let id_aaaa = id_a.wrapping_add(1);
    let build = |id: u16, qtype: TYPE| -> Result<Vec<u8>, String> {
        let mut packet = Packet::new_query(id);
        packet.set_flags(simple_dns::PacketFlag::RECURSION_DESIRED);
        packet.questions.push(Question::new(
            qname.clone(),
            QTYPE::TYPE(qtype),
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
        packet.build_bytes_vec().map_err(|e| e.to_string())
    };
    let questions = [
        (id_a, TYPE::A, build(id_a, TYPE::A)?),
        (id_aaaa, TYPE::AAAA, build(id_aaaa, TYPE::AAAA)?),
    ];

    let bind: SocketAddr = if server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = UdpSocket::bind(bind).map_err(|e| e.to_string())?;
    socket.connect(server).map_err(|e| e.to_string())?;
    for (_, _, request) in &questions {
        socket.send(request).map_err(|e| e.to_string())?;
    }
    let mut results: [Option<Result<Vec<IpAddr>, String>>; 2] = [None, None];
    let mut until = until;
    let mut buf = vec![0u8; 4096];
    while results.iter().any(Option::is_none) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            // An ICMP "port unreachable": nobody listens there. What did arrive still counts.
            Err(e) => {
                for slot in results.iter_mut().filter(|r| r.is_none()) {
                    *slot = Some(Err(e.to_string()));
                }
                break;
            }
        };
        let Ok(reply) = Packet::parse(buf.get(..n).unwrap_or_default()) else {
            continue;
        };
        let Some(slot) = questions
            .iter()
            .position(|(id, qtype, _)| reply.id() == *id && answers_question(&reply, name, *qtype))
        else {
            continue; // a late answer to an earlier question, or not an answer to ours
        };
        if results[slot].is_some() {
            continue;
        }
        let result = if reply.has_flags(simple_dns::PacketFlag::TRUNCATION) {
            query_tcp(server, &questions[slot].2, questions[slot].0, until)
        } else {
            answers(&reply)
        };
        if result.as_ref().is_ok_and(|ips| !ips.is_empty()) {
            until = until.min(Instant::now() + SECOND_ANSWER_GRACE);
        }
        results[slot] = Some(result);
    }
    match results {
        [None | Some(Err(_)), None | Some(Err(_))] => {
            let errors: Vec<String> = results
                .into_iter()
                .flatten()
                .filter_map(Result::err)
                .collect();
            Err(if errors.is_empty() {
                "timed out".into()
            } else {
                errors.join("; ")
            })
        }
        [a, aaaa] => {
            let mut ips = a.and_then(Result::ok).unwrap_or_default();
            ips.extend(aaaa.and_then(Result::ok).unwrap_or_default());
            Ok(ips)
        }
    }
}

/// How long the second family's answer is waited for once the first brought addresses.
const SECOND_ANSWER_GRACE: Duration = Duration::from_millis(500);

fn query_tcp(
    server: SocketAddr,
    request: &[u8],
    id: u16,
    until: Instant,
) -> Result<Vec<IpAddr>, String> {
    let left = || {
        let d = until.saturating_duration_since(Instant::now());
        if d.is_zero() {
            Err("timed out".to_owned())
        } else {
            Ok(d)
        }
    };
    let mut stream = TcpStream::connect_timeout(&server, left()?).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(left()?))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(left()?))
        .map_err(|e| e.to_string())?;
    let len = u16::try_from(request.len()).map_err(|_| "question too long".to_owned())?;
    let mut framed = len.to_be_bytes().to_vec();
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
    let [question] = reply.questions.as_slice() else {
        return false;
    };
    reply.has_flags(simple_dns::PacketFlag::RESPONSE)
        && question.qtype == QTYPE::TYPE(qtype)
        && question
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
    use simple_dns::rdata::{A, AAAA};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    /// A DNS server on loopback that answers A (and, with `v6`, AAAA) questions for one name,
    /// counting the questions it gets. With `both_first`, it answers nothing until it holds an
    /// A and an AAAA question for the same name: a client that asks one after the other never
    /// gets an answer.
    fn fake_server(
        name: &'static str,
        ip: [u8; 4],
        v6: Option<[u8; 16]>,
        both_first: bool,
    ) -> (SocketAddr, Arc<AtomicUsize>) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let mut held: Vec<(Vec<u8>, SocketAddr)> = Vec::new();
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                counter.fetch_add(1, Ordering::SeqCst);
                held.push((buf[..n].to_vec(), from));
                if both_first && held.len() < 2 {
                    continue;
                }
                for (bytes, from) in held.drain(..) {
                    let q = Packet::parse(&bytes).unwrap();
                    let mut reply = Packet::new_reply(q.id());
                    let question = q.questions[0].clone();
                    let asked = question.qname.to_string();
                    let qtype = question.qtype;
                    reply.questions.push(question);
                    let rdata = match (asked == name, qtype) {
                        (true, QTYPE::TYPE(TYPE::A)) => Some(RData::A(A {
                            address: u32::from_be_bytes(ip),
                        })),
                        (true, QTYPE::TYPE(TYPE::AAAA)) => v6.map(|v6| {
                            RData::AAAA(AAAA {
                                address: u128::from_be_bytes(v6),
                            })
                        }),
                        (true, _) => None,
                        (false, _) => {
                            *reply.rcode_mut() = simple_dns::RCODE::NameError;
                            None
                        }
                    };
                    if let Some(rdata) = rdata {
                        reply.answers.push(ResourceRecord::new(
                            Name::new_unchecked(name),
                            CLASS::IN,
                            60,
                            rdata,
                        ));
                    }
                    socket
                        .send_to(&reply.build_bytes_vec().unwrap(), from)
                        .unwrap();
                }
            }
        });
        (addr, asked)
    }

    #[test]
    fn ip_literals_and_hosts_need_no_server() {
        let r = Resolver::from_parts(b"", "127.0.0.1 localhost\n::1 localhost\n");
        assert_eq!(
            r.resolve("10.1.2.3", far()).unwrap(),
            ["10.1.2.3".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            r.resolve("[::1]", far()).unwrap(),
            ["::1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            r.resolve("LocalHost", far()).unwrap()[0],
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn search_domains_come_first_below_ndots_like_in_a_pod() {
        let (server, _) = fake_server("registry.ci.svc.cluster.local", [10, 0, 0, 7], None, false);
        let conf =
            b"search ci.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n";
        let r = Resolver::from_parts(conf, "").with_nameserver(server);
        assert_eq!(
            r.resolve("registry", far()).unwrap(),
            ["10.0.0.7".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            r.resolve("registry.ci.svc.cluster.local.", far()).unwrap(),
            ["10.0.0.7".parse::<IpAddr>().unwrap()]
        );
        let e = r.resolve("nothing.example", far()).unwrap_err().to_string();
        assert!(
            e.contains("nothing.example") && e.contains("no address"),
            "{e}"
        );
    }

    #[test]
    fn a_dead_nameserver_costs_no_more_than_the_time_left() {
        // It reads questions and never answers: resolv.conf's own limits (5 s, 2 attempts, four
        // names to try) would add up to 40 s.
        let dead = UdpSocket::bind("127.0.0.1:0").unwrap();
        let conf = b"search ci.svc.cluster.local svc.cluster.local cluster.local\n\
                     options ndots:5 timeout:5 attempts:2\n";
        let r = Resolver::from_parts(conf, "").with_nameserver(dead.local_addr().unwrap());
        let start = Instant::now();
        let e = r
            .resolve("registry", start + Duration::from_millis(400))
            .unwrap_err();
        let took = start.elapsed();
        assert!(took < Duration::from_millis(1500), "took {took:?}");
        assert!(matches!(e, DnsError::NoAnswer { .. }), "{e}");
        assert!(e.to_string().contains("registry"), "{e}");
    }

    #[test]
    fn a_and_aaaa_are_asked_together() {
        let (server, asked) = fake_server(
            "dual.example",
            [10, 0, 0, 8],
            Some([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8]),
            true,
        );
        let r = Resolver::from_parts(b"options timeout:3\n", "").with_nameserver(server);
        let start = Instant::now();
        let ips = r.resolve("dual.example.", far()).unwrap();
        assert_eq!(
            ips,
            [
                "10.0.0.8".parse::<IpAddr>().unwrap(),
                "fd00::8".parse::<IpAddr>().unwrap()
            ]
        );
        // One after the other, the first question would have waited out its 3 s timeout.
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(asked.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn answers_are_cached_for_the_run() {
        let (server, asked) = fake_server("cached.example", [10, 0, 0, 9], None, false);
        let r = Resolver::from_parts(b"", "").with_nameserver(server);
        let want = ["10.0.0.9".parse::<IpAddr>().unwrap()];
        assert_eq!(r.resolve("cached.example.", far()).unwrap(), want);
        let after_first = asked.load(Ordering::SeqCst);
        assert_eq!(after_first, 2, "A and AAAA");
        assert_eq!(r.resolve("Cached.Example.", far()).unwrap(), want);
        assert_eq!(
            asked.load(Ordering::SeqCst),
            after_first,
            "no second lookup"
        );
        // A new resolver (another run) asks again.
        let again = Resolver::from_parts(b"", "").with_nameserver(server);
        again.resolve("cached.example.", far()).unwrap();
        assert_eq!(asked.load(Ordering::SeqCst), after_first + 2);
    }
}
