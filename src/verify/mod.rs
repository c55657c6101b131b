//! `chainlet verify`: checking what was stored: image signatures, attestations, Sigstore
//! bundles, and a policy over the attested provenance.
//!
//! ```text
//! find (registry: .att/.sig tags, referrers; local: --bundle, --dir)  → found::Found
//! judge each: evidence::check (key, identity, log, timestamp)
//!           → statement::parse, the subject names the digest, policy::Policy::check
//! report (human or JSON)
//! ```
//!
//! [`evidence`] judges one signature; this module finds the evidence and checks the
//! statements against the policy. An image verifies when at least one attestation counts
//! (trusted, about the image, of the wanted predicate type, passing every check), and with
//! `--require-signature` at least one image signature verifies too.

pub mod evidence;
pub mod found;
pub mod local;
pub mod policy;
pub mod registry;
pub mod statement;
pub mod yaml;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::Failure;
use crate::cli::{VerifyArgs, VerifyOutput};
use crate::subjects::ImageRef;
use evidence::{Identity, Matcher, PublicKey, Requirement, Trust};
use found::{Found, Kind};
use policy::Policy;

/// Key, trusted root and policy files are small.
const MAX_FILE: u64 = 4 * 1024 * 1024;

/// Everything judging needs.
pub struct Setup {
    pub trust: Trust,
    /// The flags' policy, and the policy file's when given: both must pass.
    pub policies: Vec<Policy>,
    pub require_signature: bool,
    pub now: SystemTime,
}

/// What verified, with what it told.
#[derive(Debug, Clone, PartialEq)]
pub struct Passed {
    pub place: String,
    pub predicate_type: Option<String>,
    pub signer: String,
    pub issuer: Option<String>,
    pub log_index: Option<u64>,
    pub signed_at: Option<i64>,
}

/// The verdict on one image or artifact.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub name: String,
    pub digest: Option<String>,
    pub verified: bool,
    pub attestations: Vec<Passed>,
    pub signatures: Vec<Passed>,
    /// Why it did not verify (empty when it did).
    pub failures: Vec<String>,
    /// When it verified: what was found but did not count, and why.
    pub ignored: Vec<String>,
}

pub fn run(args: &VerifyArgs) -> Result<(), Failure> {
    let setup = setup(args)?;
    let images = args
        .images
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            ImageRef::parse(s).map(|r| (s.to_owned(), r)).map_err(|e| {
                Failure::usage(format!(
                    "verify: image {s:?}: {e} (the digest is required: IMAGE@sha256:<hex>)"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !args.bundle.len().is_multiple_of(2) {
        return Err(Failure::usage(
            "verify: --bundle takes two values: the bundle FILE and the ARTIFACT it is for",
        ));
    }
    if images.is_empty() && args.bundle.is_empty() && args.dir.is_none() {
        return Err(Failure::usage(
            "verify: nothing to verify: give IMAGE@sha256:<hex>, --bundle FILE ARTIFACT or --dir DIR",
        ));
    }
    let mut reports = Vec::new();
    for pair in args.bundle.chunks(2) {
        reports.push(local::bundle(&pair[0], &pair[1], &setup)?);
    }
    match &args.dir {
        Some(dir) => {
            if images.is_empty() {
                if setup.require_signature {
                    return Err(Failure::usage(
                        "verify: --require-signature with --dir needs the images to look for",
                    ));
                }
                reports.extend(local::whole_dir(dir, &setup)?);
            } else {
                for (name, image) in &images {
                    reports.push(local::image_in_dir(dir, name, image, &setup)?);
                }
            }
        }
        None if !images.is_empty() => reports.extend(registry_reports(args, &images, &setup)?),
        None => {}
    }
    report(args.output, &reports)
}

/// Reads the flags and files into a [`Setup`]; every problem is a usage error (exit 2).
pub fn setup(args: &VerifyArgs) -> Result<Setup, Failure> {
    let usage = |e: String| Failure::usage(format!("verify: {e}"));
    let key = match &args.key {
        None => None,
        Some(path) => {
            let bytes = crate::fsread::read_limited(path, MAX_FILE)
                .map_err(|e| usage(format!("--key {}: {e}", path.display())))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| usage(format!("--key {}: not a PEM file", path.display())))?;
            Some(
                PublicKey::from_pem(&text)
                    .map_err(|e| usage(format!("--key {}: {e}", path.display())))?,
            )
        }
    };
    let subject = matcher(
        &args.certificate_identity,
        &args.certificate_identity_regexp,
    );
    let issuer = matcher(
        &args.certificate_oidc_issuer,
        &args.certificate_oidc_issuer_regexp,
    );
    let identity = match (subject, issuer) {
        (None, None) => None,
        (Some(subject), Some(issuer)) => Some(Identity { subject, issuer }),
        (Some(_), None) => {
            return Err(usage(
                "--certificate-identity needs --certificate-oidc-issuer (or its -regexp form)"
                    .into(),
            ));
        }
        (None, Some(_)) => {
            return Err(usage(
                "--certificate-oidc-issuer needs --certificate-identity (or its -regexp form)"
                    .into(),
            ));
        }
    };
    if key.is_none() && identity.is_none() {
        return Err(usage(
            "no --key and no --certificate-identity: say whose signatures to trust".into(),
        ));
    }
    let root = match &args.trusted_root {
        Some(path) => Some(
            crate::transparency::trust::TrustedRoot::read(path)
                .map_err(|e| usage(format!("--trusted-root: {e}")))?,
        ),
        None => None,
    };
    if identity.is_some() && root.is_none() {
        return Err(usage(
            "a certificate identity needs --trusted-root (the Fulcio CAs to check it against)"
                .into(),
        ));
    }
    let tlog = if args.insecure_ignore_tlog {
        Requirement::Ignored
    } else if args.require_tlog || identity.is_some() {
        // A certificate is short-lived: without a log entry nothing shows it was used while
        // valid, so keyless needs one, as in cosign (--insecure-ignore-tlog is the way out).
        Requirement::Required
    } else {
        Requirement::IfPresent
    };
    // Timestamps are an extra source of the signing time: without a trusted root there is no
    // authority to check them against, and they are left out (as cosign 2 does without a
    // timestamp chain) unless required.
    let timestamp = if args.require_timestamp {
        Requirement::Required
    } else if root.is_none() {
        Requirement::Ignored
    } else {
        Requirement::IfPresent
    };
    let mut flags = Policy {
        require_signature: args.require_signature,
        builder_ids: nonempty(&args.builder_ids),
        build_types: nonempty(&args.build_types),
        allow_materials: nonempty(&args.allow_materials),
        require_materials: nonempty(&args.require_materials),
        ..Policy::default()
    };
    if let Some(t) = &args.predicate_type {
        flags.predicate_type =
            Some(policy::predicate_type(t).map_err(|e| usage(format!("--predicate-type: {e}")))?);
    }
    if let Some(d) = &args.max_age {
        flags.max_age =
            Some(policy::parse_duration(d).map_err(|e| usage(format!("--max-age: {e}")))?);
    }
    for p in nonempty(&args.params) {
        flags
            .params
            .push(policy::parse_param(&p).map_err(|e| usage(format!("--param: {e}")))?);
    }
    let mut policies = vec![flags];
    if let Some(path) = &args.policy {
        let bytes = crate::fsread::read_limited(path, MAX_FILE)
            .map_err(|e| usage(format!("--policy {}: {e}", path.display())))?;
        policies.push(Policy::from_file(&bytes, &path.display().to_string()).map_err(usage)?);
    }
    let require_signature = policies.iter().any(|p| p.require_signature);
    Ok(Setup {
        trust: Trust {
            key,
            identity,
            root,
            tlog,
            timestamp,
        },
        policies,
        require_signature,
        now: SystemTime::now(),
    })
}

fn matcher(exact: &Option<String>, regexp: &Option<String>) -> Option<Matcher> {
    match (exact, regexp) {
        (Some(e), _) => Some(Matcher::Exact(e.clone())),
        (None, Some(r)) => Some(Matcher::Regexp(r.clone())),
        (None, None) => None,
    }
}

fn nonempty(v: &[String]) -> Vec<String> {
    v.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Images in their registries: discovery for all at once (a few at a time), then judging.
fn registry_reports(
    args: &VerifyArgs,
    images: &[(String, ImageRef)],
    setup: &Setup,
) -> Result<Vec<Report>, Failure> {
    let client = crate::registry::Client::new(crate::registry::Options {
        insecure_registries: nonempty(&args.insecure_registries),
        extra_ca: args.registry_ca.clone(),
        docker_config: args.docker_config.clone(),
        // A day is already more than any gate waits; larger values are capped.
        deadline: Instant::now() + Duration::from_secs(args.registry_timeout.min(86_400)),
        read_only: true,
    })
    .map_err(|e| Failure::usage(format!("verify: {e}")))?;
    let discovered: Vec<Result<registry::Discovery, String>> = std::thread::scope(|s| {
        let mut out = Vec::new();
        for chunk in images.chunks(8) {
            let handles: Vec<_> = chunk
                .iter()
                .map(|(_, image)| {
                    let client = &client;
                    s.spawn(move || {
                        let repo = crate::registry::Repo {
                            registry: image.registry.clone(),
                            repository: image.repository.clone(),
                        };
                        registry::discover(
                            client,
                            &repo,
                            &image.digest_hex,
                            setup.require_signature,
                        )
                    })
                })
                .collect();
            for h in handles {
                out.push(h.join().unwrap_or_else(|_| Err("discovery failed".into())));
            }
        }
        out
    });
    Ok(images
        .iter()
        .zip(discovered)
        .map(|((name, image), d)| match d {
            Ok(d) => judge(name, Some(&image.digest_hex), &d.found, &d.looked, setup),
            Err(e) => Report {
                name: name.clone(),
                digest: Some(format!("sha256:{}", image.digest_hex)),
                verified: false,
                attestations: vec![],
                signatures: vec![],
                failures: vec![format!("reading the registry: {e}")],
                ignored: vec![],
            },
        })
        .collect())
}

/// Whether a place is an image signature's (the `.sig` tag): for "nothing found" reasons.
fn is_signature_place(place: &str) -> bool {
    place.contains(".sig layer") || place.ends_with(".sig")
}

/// Judges what was found for one target. `digest_hex` is what a statement must name (`None`:
/// a statement judged on its own, as `--dir` without images does).
pub fn judge(
    name: &str,
    digest_hex: Option<&str>,
    found: &[Found],
    looked: &[String],
    setup: &Setup,
) -> Report {
    let mut rejected: Vec<String> = Vec::new();
    let mut attestations = Vec::new();
    let mut signatures = Vec::new();
    let mut blob_ok = false;
    let mut other_types: Vec<String> = Vec::new();
    let mut any_attestation = false;
    let mut any_signature = false;
    for f in found {
        let place = &f.place;
        match &f.kind {
            Kind::Broken(why) => {
                if is_signature_place(place) {
                    any_signature = true;
                } else {
                    any_attestation = true;
                }
                rejected.push(format!("{place}: {why}"));
            }
            Kind::Signature { payload, evidence } => {
                any_signature = true;
                let checked = match evidence::check(evidence, &setup.trust, setup.now) {
                    Ok(c) => c,
                    Err(e) => {
                        rejected.push(with_place(&e, place));
                        continue;
                    }
                };
                match statement::simple_signing_digest(payload) {
                    Err(e) => rejected.push(format!("{place}: {e}")),
                    Ok(d) if digest_hex.is_some_and(|h| d != format!("sha256:{h}")) => {
                        rejected.push(format!("{place}: the signature is for {d}, not this image"))
                    }
                    Ok(_) => signatures.push(passed(place, None, checked)),
                }
            }
            Kind::Blob { evidence } => {
                any_attestation = true;
                match evidence::check(evidence, &setup.trust, setup.now) {
                    Err(e) => rejected.push(with_place(&e, place)),
                    Ok(checked) => {
                        let needs_statement = setup.policies.iter().any(|p| {
                            p.predicate_type.is_some()
                                || p.checks_provenance()
                                || p.max_age.is_some()
                        });
                        if needs_statement {
                            rejected.push(format!(
                                "{place}: a message signature carries no statement: the policy's \
                                 predicate and provenance checks cannot be met"
                            ));
                        } else {
                            blob_ok = true;
                            signatures.push(passed(place, None, checked));
                        }
                    }
                }
            }
            Kind::Attestation {
                payload_type,
                payload,
                evidence,
            } => {
                let mut errors = Vec::new();
                let mut checked = None;
                for e in evidence {
                    match evidence::check(e, &setup.trust, setup.now) {
                        Ok(c) => {
                            checked = Some(c);
                            break;
                        }
                        Err(r) => errors.push(r),
                    }
                }
                let st = statement::parse(payload_type, payload);
                let is_sign = st
                    .as_ref()
                    .is_ok_and(|s| s.predicate_type == statement::COSIGN_SIGN_V1);
                if is_sign {
                    any_signature = true;
                } else {
                    any_attestation = true;
                }
                let Some(checked) = checked else {
                    rejected.push(with_place(
                        errors.first().map(String::as_str).unwrap_or("no signature"),
                        place,
                    ));
                    continue;
                };
                let st = match st {
                    Ok(s) => s,
                    Err(e) => {
                        rejected.push(format!("{place}: {e}"));
                        continue;
                    }
                };
                if let Some(hex) = digest_hex
                    && !st.names_sha256(hex)
                {
                    rejected.push(format!(
                        "{place}: the statement is about {}, not sha256:{} (signed, but for \
                         another artifact)",
                        st.subject_digests(),
                        statement::short(hex)
                    ));
                    continue;
                }
                if is_sign {
                    signatures.push(passed(place, Some(st.predicate_type.clone()), checked));
                    continue;
                }
                if !setup.policies.iter().all(|p| p.counts(&st.predicate_type)) {
                    other_types.push(st.predicate_type.clone());
                    continue;
                }
                let signed_at = checked
                    .signed_at
                    .and_then(|s| u64::try_from(s).ok())
                    .map(|s| UNIX_EPOCH + Duration::from_secs(s));
                let reasons: Vec<String> = setup
                    .policies
                    .iter()
                    .flat_map(|p| p.check(&st, signed_at, setup.now))
                    .collect();
                if reasons.is_empty() {
                    attestations.push(passed(place, Some(st.predicate_type.clone()), checked));
                } else {
                    rejected.extend(reasons.into_iter().map(|r| format!("{place}: {r}")));
                }
            }
        }
    }
    let verified = (!attestations.is_empty() || blob_ok)
        && (!setup.require_signature || !signatures.is_empty());
    let mut failures = Vec::new();
    if !verified {
        let looked_in = if looked.is_empty() {
            String::new()
        } else {
            format!(" (looked in {})", looked.join(", "))
        };
        if attestations.is_empty() && !blob_ok {
            if !any_attestation {
                failures.push(format!("no attestation found{looked_in}"));
            } else if !other_types.is_empty() && rejected.is_empty() {
                let wanted = setup
                    .policies
                    .iter()
                    .filter_map(|p| p.predicate_type.clone())
                    .collect::<Vec<_>>()
                    .join(" and ");
                other_types.sort();
                other_types.dedup();
                failures.push(format!(
                    "no attestation of predicate type {wanted} (found {})",
                    other_types.join(", ")
                ));
            }
        }
        if setup.require_signature && signatures.is_empty() && !any_signature {
            failures.push(format!("no image signature found{looked_in}"));
        }
        failures.append(&mut rejected);
        if failures.is_empty() {
            failures.push("nothing verified".into());
        }
    }
    Report {
        name: name.to_owned(),
        digest: digest_hex.map(|h| format!("sha256:{h}")),
        verified,
        attestations,
        signatures,
        failures,
        ignored: if verified { rejected } else { Vec::new() },
    }
}

fn with_place(reason: &str, place: &str) -> String {
    if reason.starts_with(place) {
        reason.to_owned()
    } else {
        format!("{place}: {reason}")
    }
}

fn passed(place: &str, predicate_type: Option<String>, c: evidence::Checked) -> Passed {
    Passed {
        place: place.to_owned(),
        predicate_type,
        signer: c.signer,
        issuer: c.issuer,
        log_index: c.log_index,
        signed_at: c.signed_at,
    }
}

fn time_text(t: Option<i64>) -> Option<String> {
    let t = t?;
    let t = if t >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(t as u64))?
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(t.unsigned_abs()))?
    };
    Some(crate::time::format_rfc3339_seconds(t))
}

fn passed_json(p: &Passed) -> Value {
    json!({
        "place": p.place,
        "predicateType": p.predicate_type,
        "signer": p.signer,
        "issuer": p.issuer,
        "logIndex": p.log_index,
        "signedTime": time_text(p.signed_at),
    })
}

/// The JSON report: `{"verified": all, "images": [{…}]}`.
pub fn report_json(reports: &[Report]) -> Value {
    json!({
        "verified": reports.iter().all(|r| r.verified),
        "images": reports.iter().map(|r| json!({
            "image": r.name,
            "digest": r.digest,
            "verified": r.verified,
            "attestations": r.attestations.iter().map(passed_json).collect::<Vec<_>>(),
            "signatures": r.signatures.iter().map(passed_json).collect::<Vec<_>>(),
            "failures": r.failures,
            "ignored": r.ignored,
        })).collect::<Vec<_>>(),
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn report(output: VerifyOutput, reports: &[Report]) -> Result<(), Failure> {
    let mut stdout = String::new();
    for r in reports {
        if r.verified {
            for why in &r.ignored {
                tracing::info!("{}: not counted: {}", r.name, one_line(why));
            }
            let what: Vec<String> = r
                .attestations
                .iter()
                .map(|a| {
                    format!(
                        "attestation {} signed by {}{}",
                        a.predicate_type.as_deref().unwrap_or("?"),
                        a.signer,
                        time_text(a.signed_at)
                            .map(|t| format!(" at {t}"))
                            .unwrap_or_default()
                    )
                })
                .chain(
                    r.signatures
                        .iter()
                        .map(|s| format!("signature by {}", s.signer)),
                )
                .collect();
            stdout.push_str(&format!("{}: verified ({})\n", r.name, what.join("; ")));
        } else {
            for why in &r.failures {
                eprintln!("chainlet: verify: {}: {}", r.name, one_line(why));
            }
        }
    }
    match output {
        VerifyOutput::Human => crate::print(&stdout)?,
        VerifyOutput::Json => crate::print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report_json(reports)).expect("JSON serialises")
        ))?,
    }
    let failed = reports.iter().filter(|r| !r.verified).count();
    if failed > 0 {
        return Err(Failure::run(format!(
            "verify: {failed} of {} not verified",
            reports.len()
        )));
    }
    Ok(())
}

/// A path for messages.
pub fn shown(p: &Path) -> String {
    p.display().to_string()
}
