//! The `verify-*` judgements: what the registry holds after a release (packages, tags,
//! `latest`, visibility, public metadata, the digests deployment manifests pin) and, with
//! `--deep`, what the images run and contain; each a pure function over what `crate::verify`
//! read, beside its id's metadata.
//!
//! `crate::verify` is the command: it resolves the tags, lists tags, probes anonymous pulls,
//! reads the Packages API, image metadata and the manifest files, pulls and smoke-runs each
//! image (`verify/runs.rs`) and streams its layers (`verify/contents.rs`), then calls these.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{CheckId, Evidence, Kind, Meta, Outcome, Phase, Section, Severity};
use crate::config::{Config, ImageSpec, Visibility};
use crate::effects::registry::{AnonymousProbe, Resolved};
use crate::images::stage;
use crate::tags::TagPlan;

/// One package's tags as the registry reports them.
#[derive(Debug, Clone, Serialize)]
pub struct PackageState {
    pub image: ImageSpec,
    /// `host/org/package`.
    pub repository: String,
    pub semver: Option<Resolved>,
    pub sha: Option<Resolved>,
    pub latest: Option<Resolved>,
}

/// Tags the registry answered for with a digest that did not verify (a registry that lies
/// about digests): `(org/package, tag)` → the refusal. The tag counts as missing, with this as
/// evidence.
pub(crate) type ResolveFailures = BTreeMap<(String, String), String>;

/// `org/package`: the registry's name of a package.
fn repo_of(org: &str, p: &PackageState) -> String {
    format!("{org}/{}", p.image.package)
}

fn failure_note(failures: &ResolveFailures, repo: &str, tag: &str) -> Vec<Evidence> {
    failures
        .get(&(repo.to_string(), tag.to_string()))
        .map(|m| vec![Evidence::note(m.clone())])
        .unwrap_or_default()
}

fn digest_evidence(reference: &str, r: &Resolved) -> Vec<Evidence> {
    let mut ev = vec![Evidence::digest(reference.to_string(), r.digest.clone())];
    for e in &r.entries {
        ev.push(Evidence::note(match &e.attests {
            Some(of) => format!("attestation {} ({}) for {of}", e.digest, e.platform),
            None => format!("platform {} {}", e.platform, e.digest),
        }));
    }
    ev
}

pub(crate) const VERIFY_PACKAGES_EXIST: Meta = Meta {
    id: "verify-packages-exist",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "both expected GHCR packages exist",
    summary: "Both editions of every component in scope exist in the registry.",
    why: "A half-published release gives customers one edition and not the other.",
    fix: "Open the publish workflow run named in the notes; rerun it for the tag (`cargo xtask release VERSION` resumes).",
};

/// The first of this release's tags (semver, sha, `latest`) that resolved, if any: only a
/// package without one needs its tag list read.
pub(crate) fn found_release_tag(p: &PackageState) -> Option<&Resolved> {
    [&p.semver, &p.sha, &p.latest].into_iter().flatten().next()
}

/// The tag list of a package none of whose release tags resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TagList {
    /// The package does not exist; the registry's answer.
    Absent(String),
    /// It exists, with these tags.
    Tags(Vec<String>),
}

/// `verify-packages-exist` for one package: a release tag resolved, or else the tag list
/// (`listed`, read by the command exactly when [`found_release_tag`] is `None`) shows it.
pub(crate) fn package_exists(p: &PackageState, version: &str, listed: Option<&TagList>) -> Outcome {
    let id = CheckId::VerifyPackagesExist;
    if let Some(r) = found_release_tag(p) {
        return Outcome::pass(
            id,
            format!("{} exists ({} edition)", p.repository, p.image.edition),
            vec![Evidence::digest(
                format!("{}:{}", p.repository, r.reference),
                r.digest.clone(),
            )],
        );
    }
    match listed {
        // ghcr.io refuses the token for a package that does not exist (403 DENIED); a
        // registry that gets that far answers NAME_UNKNOWN.
        Some(TagList::Absent(answer)) => Outcome::fail(
            id,
            format!(
                "{} is not published: the package does not exist ({} edition of {}); publish the release (`cargo xtask release {version}`), which creates it",
                p.repository, p.image.edition, p.image.component
            ),
            vec![Evidence::note(answer.clone())],
        ),
        Some(TagList::Tags(tags)) => Outcome::pass(
            id,
            format!(
                "{} exists, but has none of this release's tags",
                p.repository
            ),
            vec![Evidence::note(format!("tags: {}", tags.join(", ")))],
        ),
        None => Outcome::not_run(
            id,
            format!(
                "no release tag of {} resolved and its tag list was not read",
                p.repository
            ),
            "run `cargo xtask verify VERSION` again",
        ),
    }
}

pub(crate) const VERIFY_SEMVER_TAG: Meta = Meta {
    id: "verify-semver-tag",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "expected semver tag is present",
    summary: "Each package has the release's semver tag.",
    why: "Customers and the notes refer to the semver tag.",
    fix: "Rerun the publish workflow for the tag; check its logs for a failed push.",
};

/// `verify-semver-tag` for one package: the release's semver tag resolves.
pub(crate) fn semver_tag(
    p: &PackageState,
    org: &str,
    semver_tag: &str,
    failures: &ResolveFailures,
) -> Outcome {
    let reference = format!("{}:{semver_tag}", p.repository);
    match &p.semver {
        Some(r) => Outcome::pass(
            CheckId::VerifySemverTag,
            format!("{reference} is present"),
            digest_evidence(&reference, r),
        ),
        None => {
            let repo = repo_of(org, p);
            let mut ev = failure_note(failures, &repo, semver_tag);
            ev.push(Evidence::note(format!(
                "HEAD /v2/{repo}/manifests/{semver_tag} -> 404"
            )));
            Outcome::fail(
                CheckId::VerifySemverTag,
                format!("{reference} is missing"),
                ev,
            )
        }
    }
}

/// `verify-semver-tag` against a release record: the semver tag still holds the digest the
/// record says was released.
pub(crate) fn recorded_digests(
    digests: &BTreeMap<String, String>,
    source: &str,
    packages: &[PackageState],
    semver_tag: &str,
) -> Vec<Outcome> {
    let id = CheckId::VerifySemverTag;
    let mut out = Vec::new();
    for p in packages {
        let reference = format!("{}:{semver_tag}", p.repository);
        let Some(want) = digests.get(&p.image.package) else {
            out.push(Outcome::fail(
                id,
                format!(
                    "{} is in scope, but {} records no digest for it",
                    p.image.package, source
                ),
                vec![Evidence::note(format!("record: {}", source))],
            ));
            continue;
        };
        match &p.semver {
            Some(r) if r.digest == *want => out.push(Outcome::pass(
                id,
                format!("{reference} still holds the digest {} records", source),
                vec![Evidence::digest(reference.clone(), r.digest.clone())],
            )),
            Some(r) => out.push(Outcome::fail(
                id,
                format!(
                    "{reference} now holds {}, but {} records {want}: the tag was moved after the release",
                    r.digest, source
                ),
                vec![
                    Evidence::digest(reference.clone(), r.digest.clone()),
                    Evidence::note(format!("recorded: {want}")),
                ],
            )),
            // The missing tag is already a failure of this check.
            None => {}
        }
    }
    out
}

pub(crate) const VERIFY_SHA_TAG: Meta = Meta {
    id: "verify-sha-tag",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "expected git sha tag is present",
    summary: "Each package has the sha-<7 hex> tag, with the same digest as the semver tag.",
    why: "The sha tag ties an image to its commit; differing digests mean two different builds were published.",
    fix: "Rerun the publish workflow for the tag; if digests differ, find which run pushed which tag.",
};

/// `verify-sha-tag`: each package's `sha-<commit>` tag resolves to the semver tag's digest (one
/// skip when `tags.image_tags` has no `{sha7}` tag).
pub(crate) fn sha_tags(
    packages: &[PackageState],
    org: &str,
    sha_tag: Option<&str>,
    semver_tag: &str,
    commit: &str,
    failures: &ResolveFailures,
) -> Vec<Outcome> {
    let id = CheckId::VerifyShaTag;
    let Some(t) = sha_tag else {
        return packages
            .iter()
            .take(1)
            .map(|_| {
                Outcome::skip(
                    id,
                    "tags.image_tags in release.toml has no {sha7} tag",
                    "add \"sha-{sha7}\" to tags.image_tags",
                )
            })
            .collect();
    };
    packages
        .iter()
        .map(|p| {
            let reference = format!("{}:{t}", p.repository);
            match (&p.sha, &p.semver) {
                (None, _) => {
                    let repo = repo_of(org, p);
                    let mut ev = failure_note(failures, &repo, t);
                    ev.push(Evidence::note(format!(
                        "HEAD /v2/{repo}/manifests/{t} -> 404 (commit {commit})"
                    )));
                    Outcome::fail(id, format!("{reference} is missing"), ev)
                }
                (Some(s), Some(v)) if s.digest != v.digest => Outcome::fail(
                    id,
                    format!("{reference} and :{semver_tag} point at different images: two different builds were published"),
                    vec![
                        Evidence::digest(reference.clone(), s.digest.clone()),
                        Evidence::digest(format!("{}:{semver_tag}", p.repository), v.digest.clone()),
                    ],
                ),
                (Some(s), _) => Outcome::pass(
                    id,
                    format!("{reference} is present with the semver tag's digest"),
                    digest_evidence(&reference, s),
                ),
            }
        })
        .collect()
}

pub(crate) const VERIFY_LATEST_POLICY: Meta = Meta {
    id: "verify-latest-policy",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "`latest` moved only for `release-v*` or an explicit manual dispatch with `publish_latest=true`",
    summary: "`latest` equals this release's digest exactly when the policy says it moves, and is unchanged otherwise.",
    why: "Customers who follow `latest` must only get releases that were meant for them.",
    fix: "Move `latest` back to the digest recorded as 'before' in the notes (`cargo xtask promote PREVIOUS`), then find what moved it.",
};

/// Per package: `Some(Some(digest))` known before, `Some(None)` known to have had no `latest`.
pub type LatestBefore = BTreeMap<String, Option<String>>;

/// Where "before" came from, per package, for evidence.
#[derive(Debug, Clone, Default)]
pub struct Before {
    pub digests: LatestBefore,
    pub source: BTreeMap<String, String>,
}

/// `verify-latest-policy` for one package: `latest` points at this release when the plan moves
/// it, and otherwise is what it was before (`before`: `--latest-before` or the notes' markers).
pub(crate) fn latest_policy(
    p: &PackageState,
    plan: &TagPlan,
    latest_tag: &str,
    before: &Before,
) -> Outcome {
    let id = CheckId::VerifyLatestPolicy;
    let reference = format!("{}:{latest_tag}", p.repository);
    let mut ev = vec![Evidence::note(plan.latest_reason.clone())];
    if let Some(l) = &p.latest {
        ev.push(Evidence::digest(reference.clone(), l.digest.clone()));
    } else {
        ev.push(Evidence::note(format!("{reference} does not exist")));
    }
    let Some(release) = &p.semver else {
        return Outcome::warn(
            id,
            format!("cannot judge {reference}: this release's semver tag is missing"),
            ev,
        );
    };
    ev.push(Evidence::digest(
        format!("{}:{}", p.repository, release.reference),
        release.digest.clone(),
    ));
    let latest = p.latest.as_ref().map(|l| l.digest.clone());
    if plan.moves_latest {
        return if latest.as_deref() == Some(release.digest.as_str()) {
            Outcome::pass(
                id,
                format!(
                    "{reference} points at this release, as {} requires",
                    plan.git_tag
                ),
                ev,
            )
        } else {
            Outcome::fail(
                id,
                format!(
                    "{reference} should point at this release ({}) but does not",
                    release.digest
                ),
                ev,
            )
        };
    }
    let pkg = &p.image.package;
    match before.digests.get(pkg) {
        Some(expected) => {
            let source = before.source.get(pkg).cloned().unwrap_or_default();
            ev.push(Evidence::note(format!(
                "before this release {reference} was {} (from {source})",
                expected.as_deref().unwrap_or("absent")
            )));
            if latest == *expected {
                Outcome::pass(
                    id,
                    format!("{reference} did not move ({} never moves it)", plan.git_tag),
                    ev,
                )
            } else {
                Outcome::fail(
                    id,
                    format!(
                        "{reference} moved although {} must not move it: it is {}, it was {}",
                        plan.git_tag,
                        latest.as_deref().unwrap_or("absent"),
                        expected.as_deref().unwrap_or("absent")
                    ),
                    ev,
                )
            }
        }
        None if latest.as_deref() == Some(release.digest.as_str()) => Outcome::fail(
            id,
            format!(
                "{reference} points at this release, but {} must not move it",
                plan.git_tag
            ),
            ev,
        ),
        None => Outcome::warn(
            id,
            format!(
                "cannot tell whether {reference} moved: no record of its digest before this release; pass --latest-before or record `<!-- aisopsflow:latest-after {pkg} sha256:... -->` in the previous release's notes"
            ),
            ev,
        ),
    }
}

pub(crate) const VERIFY_VISIBILITY: Meta = Meta {
    id: "verify-visibility",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "package visibility is still private",
    summary: "Commercial packages are private and public ones public, per the Packages API and an anonymous pull attempt.",
    why: "A publish can create a package with the wrong visibility; an anonymous pull is the proof.",
    fix: "A public edition the first release created is private (a package a workflow creates inherits the private repository's visibility): an org admin makes it public once, Package settings > Danger Zone > Change visibility > Public (docs/runbook.md, First release). A commercial package that became public cannot be made private again: rotate it.",
};

/// Why the Packages API half of `verify-visibility` is missing.
#[derive(Debug, Clone)]
pub enum ApiMissing {
    /// No token was given: the half is skipped, as documented.
    NoToken(String),
    /// A token was given but the API could not be read (unreachable, no `read:packages`).
    Failed(String),
}

/// `verify-visibility`: the anonymous pull of each package (the proof) and, when it was
/// read, the Packages API (the cross-check). A token that was given but could not read the
/// API is said plainly, as a warning.
pub fn visibility(
    api: &Result<BTreeMap<String, Visibility>, ApiMissing>,
    empirical: &[(ImageSpec, AnonymousProbe)],
) -> Vec<Outcome> {
    match api {
        Ok(api) => visibility_outcomes(Some(api), empirical, ""),
        Err(ApiMissing::NoToken(why)) => visibility_outcomes(None, empirical, why),
        Err(ApiMissing::Failed(why)) => {
            // The anonymous pull still proves visibility, but an operator who gave a token
            // expects the API cross-check: say plainly that it did not happen.
            let mut out = visibility_outcomes(None, empirical, why);
            out.push(Outcome::warn(
                CheckId::VerifyVisibility,
                "the Packages API half of this check could not run; visibility rests on the anonymous pull alone",
                vec![Evidence::note(why.clone())],
            ));
            out
        }
    }
}

/// Public-edition packages that exist but are private (anonymous pulls answered 401
/// UNAUTHORIZED): the one-way flip an org admin must make after a first release.
pub(crate) fn visibility_flips(empirical: &[(ImageSpec, AnonymousProbe)]) -> Vec<String> {
    empirical
        .iter()
        .filter(|(img, probe)| {
            img.visibility == Visibility::Public
                && !probe.allowed
                && !probe.tag_missing
                && !probe.denied_not_unauthorized
        })
        .map(|(img, _)| img.package.clone())
        .collect()
}

/// Package visibility from an anonymous pull attempt (the proof) and, when available, the
/// Packages API (`api`: package → visibility). `api_missing` says why the API half is absent.
fn visibility_outcomes(
    api: Option<&BTreeMap<String, Visibility>>,
    empirical: &[(ImageSpec, AnonymousProbe)],
    api_missing: &str,
) -> Vec<Outcome> {
    let id = CheckId::VerifyVisibility;
    empirical
        .iter()
        .map(|(img, probe)| {
            let mut ev = vec![Evidence::note(format!(
                "anonymous pull: {}",
                probe.evidence
            ))];
            let api_vis = api.and_then(|a| a.get(&img.package).copied());
            match (api, api_vis) {
                (Some(_), Some(v)) => ev.push(Evidence::api(
                    format!("packages/container/{}", img.package),
                    "visibility",
                    v,
                )),
                (Some(_), None) => ev.push(Evidence::note(
                    "the Packages API does not list this package",
                )),
                (None, _) => ev.push(Evidence::note(format!(
                    "Packages API not consulted: {api_missing}"
                ))),
            }
            let expected_public = img.visibility == Visibility::Public;
            let empirical_ok = probe.allowed == expected_public && !probe.tag_missing;
            let api_ok = api_vis.is_none_or(|v| v == img.visibility);
            // 403 DENIED is ghcr.io's answer for a package that does not exist (and for one
            // the caller may not see); the Packages API, when it answered, tells which.
            let absent = probe.denied_not_unauthorized && api.is_some() && api_vis.is_none();
            let org_repo = probe.repository.clone();
            if probe.tag_missing {
                Outcome::fail(
                    id,
                    format!(
                        "{}: cannot prove its visibility: an anonymous token was issued, but the tag is missing (the tag checks report it); anonymous pulls are proven only by a 2xx manifest answer",
                        img.package
                    ),
                    ev,
                )
            } else if absent {
                Outcome::fail(
                    id,
                    format!(
                        "{} is not published: the registry answers DENIED and the Packages API does not list it; publish the release, which creates it",
                        img.package
                    ),
                    ev,
                )
            } else if empirical_ok && api_ok {
                Outcome::pass(
                    id,
                    format!(
                        "{} is {} (anonymous pull {})",
                        img.package,
                        img.visibility,
                        if probe.allowed { "allowed" } else { "denied" }
                    ),
                    ev,
                )
            } else if !empirical_ok && !expected_public {
                Outcome::fail(
                    id,
                    format!(
                        "{} is commercial but anonymous pulls succeed: it is public",
                        img.package
                    ),
                    ev,
                )
            } else if !empirical_ok && probe.denied_not_unauthorized && api.is_none() {
                Outcome::fail(
                    id,
                    format!(
                        "{} is the public edition but anonymous pulls are denied (403 DENIED: it does not exist yet, or it is private; a GitHub token with read:packages lets verify tell which)",
                        img.package
                    ),
                    ev,
                )
            } else if !empirical_ok {
                Outcome::fail(
                    id,
                    format!(
                        "{} is the public edition but anonymous pulls are denied: it is private. A package first published by a workflow starts private (it inherits the private repository's visibility); an org admin must make it public once: open {}, Danger Zone → Change visibility → Public (it cannot be made private again)",
                        img.package,
                        crate::effects::registry::package_settings_url(&org_repo)
                    ),
                    ev,
                )
            } else {
                Outcome::fail(
                    id,
                    format!(
                        "{}: the Packages API reports a visibility other than {}",
                        img.package, img.visibility
                    ),
                    ev,
                )
            }
        })
        .collect()
}

pub(crate) const VERIFY_PUBLIC_METADATA_CLEAN: Meta = Meta {
    id: "verify-public-metadata-clean",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "do not expose commercial-only defaults in public package metadata",
    summary: "Published public images' config, labels, annotations and attestations carry no enterprise URL or commercial default.",
    why: "What is in the registry is what customers see, whatever the build said.",
    fix: "Rebuild without the named label or env and publish a new patch release.",
};

/// What reading a public package's metadata gave.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MetadataRead<'a> {
    /// The semver tag is missing: there is nothing to read.
    TagMissing,
    /// The registry's bytes did not match their digest; the refusal.
    Untrusted(&'a str),
    /// `(where, text)` of config, labels, annotations and attestations.
    Documents(&'a [(String, String)]),
}

/// `verify-public-metadata-clean` for one public package: no document of its metadata names
/// an enterprise marker or a commercial-only default (`markers`, compared without case).
pub(crate) fn public_metadata(
    p: &PackageState,
    org: &str,
    semver_tag: &str,
    failures: &ResolveFailures,
    read: MetadataRead,
    markers: &[String],
) -> Outcome {
    let id = CheckId::VerifyPublicMetadataClean;
    let digest = p.semver.as_ref().map(|r| r.digest.as_str()).unwrap_or("");
    let documents = match read {
        MetadataRead::TagMissing => {
            return Outcome::fail(
                id,
                format!(
                    "cannot read the metadata of {}:{semver_tag}: the tag is missing",
                    p.repository
                ),
                failure_note(failures, &repo_of(org, p), semver_tag),
            );
        }
        MetadataRead::Untrusted(why) => {
            return Outcome::fail(
                id,
                format!("cannot trust the metadata of {}@{digest}", p.repository),
                vec![Evidence::note(why.to_string())],
            );
        }
        MetadataRead::Documents(d) => d,
    };
    let mut hits = Vec::new();
    for (place, text) in documents {
        let lower = text.to_lowercase();
        for m in markers {
            if let Some(at) = lower.find(&m.to_lowercase()) {
                hits.push(Evidence::note(format!(
                    "{place} contains `{m}`: …{}…",
                    excerpt(text, at, m.len())
                )));
            }
        }
    }
    let reference = format!("{}@{digest}", p.repository);
    if hits.is_empty() {
        Outcome::pass(
            id,
            format!(
                "{reference}: {} documents (config, labels, annotations, attestations) carry no enterprise URL or commercial default",
                documents.len()
            ),
            documents
                .iter()
                .map(|(place, _)| Evidence::note(format!("read {place}")))
                .collect(),
        )
    } else {
        Outcome::fail(
            id,
            format!("{reference} exposes enterprise or commercial-only strings"),
            hits,
        )
    }
}

/// A short, single-line excerpt of `text` around `at`.
fn excerpt(text: &str, at: usize, len: usize) -> String {
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(40)
        .map(|(i, _)| i)
        .unwrap_or(0);
    let end = text[at + len..]
        .char_indices()
        .nth(40)
        .map(|(i, _)| at + len + i)
        .unwrap_or(text.len());
    text[start..end].replace(['\n', '\r'], " ")
}

pub(crate) const VERIFY_MANIFEST_DIGESTS_RECORDED: Meta = Meta {
    id: "verify-manifest-digests-recorded",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "package digest used by deployment manifests is recorded in the release notes",
    summary: "Digests in deployment manifests equal the released digests and appear in the release notes.",
    why: "The notes are the audit trail from a running deployment back to a release.",
    fix: "Update the manifests with the digests from `cargo xtask verify VERSION --delivery` and rerun `cargo xtask release VERSION` to rewrite the notes.",
};

/// One image reference found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRef {
    pub path: PathBuf,
    pub line: u32,
    pub package: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub text: String,
}

/// References to `org/<package>` (any host) in `text`, with their tag and digest.
pub fn find_refs(path: &Path, text: &str, org: &str, packages: &[String]) -> Vec<FoundRef> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for pkg in packages {
            let needle = format!("/{org}/{pkg}");
            let mut from = 0;
            while let Some(at) = line[from..].find(&needle) {
                let start = from + at;
                let mut rest = &line[start + needle.len()..];
                from = start + needle.len();
                // `aisopsflow-core` must not match inside `aisopsflow-core-commercial`.
                if !(rest.is_empty()
                    || rest.starts_with(':')
                    || rest.starts_with('@')
                    || rest.starts_with(|c: char| c.is_whitespace() || c == '"' || c == '\''))
                {
                    continue;
                }
                let mut tag = None;
                if let Some(r) = rest.strip_prefix(':') {
                    let t: String = r
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                        .collect();
                    rest = &r[t.len()..];
                    tag = Some(t);
                }
                let mut digest = None;
                if let Some(r) = rest.strip_prefix("@sha256:") {
                    let hex: String = r.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
                    digest = Some(format!("sha256:{hex}"));
                }
                let token_start = line[..start]
                    .rfind(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '=')
                    .map(|i| i + 1)
                    .unwrap_or(0);
                out.push(FoundRef {
                    path: path.to_path_buf(),
                    line: i as u32 + 1,
                    package: pkg.clone(),
                    tag,
                    digest,
                    text: line[token_start..].trim().to_string(),
                });
            }
        }
    }
    out
}

/// What `verify-manifest-digests-recorded` reads: the deployment manifests and this
/// version's release notes, paths relative to the workspace root.
#[derive(Debug, Clone, Default)]
pub(crate) struct ManifestFacts {
    /// The files `customer.manifests` matched, with their text (empty when unreadable).
    pub files: Vec<(PathBuf, String)>,
    /// `<notes dir>/<version>.md`, and its text when it exists.
    pub notes_path: PathBuf,
    pub notes: Option<String>,
}

/// `verify-manifest-digests-recorded`: every manifest reference to this version pins the
/// released digest, which the release notes record; with none yet, a warning listing the
/// digests to use. References to other versions are ignored, with a note.
pub(crate) fn manifest_digests(
    config: &Config,
    version: &str,
    packages: &[PackageState],
    facts: &ManifestFacts,
) -> Vec<Outcome> {
    let id = CheckId::VerifyManifestDigestsRecorded;
    let released: BTreeMap<String, String> = packages
        .iter()
        .filter_map(|p| {
            p.semver
                .as_ref()
                .map(|r| (p.image.package.clone(), r.digest.clone()))
        })
        .collect();
    let names: Vec<String> = config.all_images().into_iter().map(|i| i.package).collect();
    let notes_path = &facts.notes_path;
    let notes = &facts.notes;

    let mut ours = Vec::new();
    let mut ignored = Vec::new();
    for (f, text) in &facts.files {
        for r in find_refs(f, text, config.org(), &names) {
            let this_version = r.tag.as_deref() == Some(version)
                || (r.tag.is_none()
                    && r.digest.is_some()
                    && r.digest.as_ref() == released.get(&r.package));
            if this_version {
                ours.push(r);
            } else {
                ignored.push(Evidence::file_excerpt(
                    &r.path,
                    Some(r.line),
                    format!("ignored, not {version}: {}", r.text),
                ));
            }
        }
    }

    let mut out = Vec::new();
    if ours.is_empty() {
        let mut ev: Vec<Evidence> = released
            .iter()
            .map(|(p, d)| {
                Evidence::digest(
                    format!("{}:{version}", config.image_repository(p)),
                    d.clone(),
                )
            })
            .collect();
        ev.push(Evidence::note(format!(
            "{} manifest file(s) matched {}",
            facts.files.len(),
            config.raw.customer.manifests.join(", ")
        )));
        ev.extend(ignored);
        out.push(Outcome::warn(
            id,
            format!("manifests not yet updated to {version}; use the digests below"),
            ev,
        ));
        return out;
    }
    for r in &ours {
        let mut ev = vec![Evidence::file_excerpt(
            &r.path,
            Some(r.line),
            r.text.clone(),
        )];
        let Some(expected) = released.get(&r.package) else {
            out.push(Outcome::fail(
                id,
                format!("{} is referenced for {version}, but its {version} tag is missing from the registry", r.package),
                ev,
            ));
            continue;
        };
        ev.push(Evidence::digest(
            format!("{}:{version}", config.image_repository(&r.package)),
            expected.clone(),
        ));
        match &r.digest {
            None => out.push(Outcome::fail(
                id,
                format!("{} references {}:{version} by tag only; pin it by digest", &r.path.display(), r.package),
                ev,
            )),
            Some(d) if d != expected => out.push(Outcome::fail(
                id,
                format!(
                    "{} pins {} to {d}, but {version} was released as {expected}",
                    &r.path.display(),
                    r.package
                ),
                ev,
            )),
            Some(d) => match &notes {
                Some(text) if text.contains(d.as_str()) => out.push(Outcome::pass(
                    id,
                    format!("{} pins {} to the released digest, recorded in {}", &r.path.display(), r.package, notes_path.display()),
                    {
                        ev.push(Evidence::file(notes_path, None));
                        ev
                    },
                )),
                Some(_) => out.push(Outcome::fail(
                    id,
                    format!(
                        "{} pins {} to {d}, which the release notes {} do not record",
                        &r.path.display(),
                        r.package,
                        notes_path.display()
                    ),
                    ev,
                )),
                None => out.push(Outcome::pass(
                    id,
                    format!(
                        "{} pins {} to the released digest (no release notes at {} yet to record it)",
                        &r.path.display(),
                        r.package,
                        notes_path.display()
                    ),
                    ev,
                )),
            },
        }
    }
    if let Some(first) = out.first_mut() {
        first.evidence.extend(ignored);
    }
    out
}

pub(crate) const VERIFY_RUNS: Meta = Meta {
    id: "verify-runs",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "image changes match the intended component release",
    summary: "Each released image, pulled by digest from the registry through the Docker engine, runs and reports this release's version, the tag's commit and its edition; core answers its health probe.",
    why: "Tags and digests prove where an image is, not what it is: an image built from another commit under this release's tags would pass every other check.",
    fix: "Read what the image printed in the evidence; if it names another version or commit, find which run pushed that digest under this release's tags, then republish the tag (`cargo xtask release VERSION` resumes) or cut a patch release.",
};

/// What pulling and running one released image showed (`verify/runs.rs` gathers it).
#[derive(Debug, Clone)]
pub(crate) enum RunFacts {
    /// The semver tag is missing: nothing to pull.
    TagMissing,
    /// The engine could not pull the digest; its error.
    PullFailed(String),
    /// Pulled: the engine's image id, the config digest the registry's manifest names, and the
    /// smoke run's report or error (`None` when the engine's copy is not the registry's bytes,
    /// so it was not run).
    Pulled {
        engine_id: String,
        config_digest: Option<String>,
        smoke: Option<Result<crate::images::smoke::SmokeReport, String>>,
    },
}

/// Whether the engine's copy is the registry's bytes: its image id is the digest pulled, or
/// the config digest that digest's manifest names.
pub(crate) fn same_bytes(engine_id: &str, digest: &str, config_digest: Option<&str>) -> bool {
    engine_id == digest || config_digest == Some(engine_id)
}

/// `verify-runs` for one package: the image the registry serves runs and reports this
/// release's version, commit and edition (the line `images::smoke` expects).
pub(crate) fn run_outcome(
    p: &PackageState,
    version: &str,
    commit: &str,
    facts: &RunFacts,
) -> Outcome {
    let id = CheckId::VerifyRuns;
    let digest = p.semver.as_ref().map(|r| r.digest.as_str()).unwrap_or("");
    let reference = format!("{}@{digest}", p.repository);
    let (engine_id, config_digest, smoke) = match facts {
        RunFacts::TagMissing => {
            return Outcome::fail(
                id,
                format!(
                    "{}: cannot run {}:{version}: the tag is missing",
                    p.image.package, p.repository
                ),
                vec![Evidence::note("verify-semver-tag reports the missing tag")],
            );
        }
        RunFacts::PullFailed(e) => {
            return Outcome::fail(
                id,
                format!("{}: the engine could not pull {reference}", p.image.package),
                vec![
                    Evidence::digest(reference.clone(), digest),
                    Evidence::note(e.clone()),
                ],
            );
        }
        RunFacts::Pulled {
            engine_id,
            config_digest,
            smoke,
        } => (engine_id, config_digest, smoke),
    };
    let smoke = match smoke {
        Some(s) if same_bytes(engine_id, digest, config_digest.as_deref()) => s,
        _ => {
            return Outcome::fail(
                id,
                format!(
                    "{}: the engine's copy of {reference} is not what the registry serves",
                    p.image.package
                ),
                vec![
                    Evidence::digest(reference.clone(), digest),
                    Evidence::note(format!(
                        "engine image id {}, registry config digest {}",
                        if engine_id.is_empty() {
                            "(none)"
                        } else {
                            engine_id
                        },
                        config_digest.as_deref().unwrap_or("(unreadable)")
                    )),
                ],
            );
        }
    };
    match smoke {
        Ok(report) => {
            let mut ev = vec![
                Evidence::digest(reference.clone(), digest),
                Evidence::note(format!(
                    "engine image id {engine_id} = the config digest the registry's manifest names"
                )),
                Evidence::note(format!("--version printed `{}`", report.version_line)),
            ];
            if let Some(h) = &report.health {
                ev.push(Evidence::note(h.clone()));
            }
            Outcome::pass(
                id,
                format!(
                    "{}@{} runs and reports {version}, commit {}, edition {}",
                    p.image.package,
                    &digest[..digest.len().min(19)],
                    &commit[..commit.len().min(12)],
                    p.image.edition
                ),
                ev,
            )
        }
        Err(e) => Outcome::fail(
            id,
            format!(
                "{}@{digest} does not run as this release: {}",
                p.image.package,
                e.lines().next().unwrap_or(e)
            ),
            vec![
                Evidence::digest(reference.clone(), digest),
                Evidence::note(e.clone()),
                Evidence::note(format!(
                    "expected `{}`",
                    crate::images::smoke::version_line(&p.image, version, commit)
                )),
            ],
        ),
    }
}

pub(crate) const VERIFY_CONTENTS: Meta = Meta {
    id: "verify-contents",
    section: Section::PostRelease,
    phase: Phase::PostRelease,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "do not expose commercial-only defaults in public package metadata",
    summary: "Each released image's layers, read from the registry, hold exactly the binary, the CA bundle and the user database with owner 0:0 and the expected modes, the binary carrying the tag's commit; nothing in a public image names the enterprise repository or a commercial-only default.",
    why: "A stray file or a string in the binary ships to every customer who pulls; public images are world-readable.",
    fix: "Remove the stray file or string named in the evidence from the build (Dockerfile, staged context, binary), and publish a new patch release; a leaked commercial default must also be rotated.",
};

/// What reading one released image's layers gave (`verify/contents.rs` gathers it).
#[derive(Debug, Clone)]
pub(crate) enum ContentsRead {
    /// The semver tag is missing: nothing to read.
    TagMissing,
    /// The registry's bytes did not match their digests; the refusal.
    Untrusted(String),
    Scanned(ImageScan),
}

/// The strings the binary of `p` must carry: this release's commit.
pub(crate) fn required_for(p: &PackageState, commit: &str) -> Required {
    Required {
        path: format!("usr/local/bin/{}", p.image.krate),
        strings: vec![commit.to_string()],
    }
}

/// One entry of the image's file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub kind: EntryKind,
    pub uid: u64,
    pub gid: u64,
    pub mode: u32,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Other,
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EntryKind::File => "file",
            EntryKind::Dir => "directory",
            EntryKind::Symlink => "symlink",
            EntryKind::Hardlink => "hard link",
            EntryKind::Other => "special file",
        })
    }
}

/// What reading one layer showed.
#[derive(Debug, Clone, Default)]
pub struct LayerScan {
    pub digest: String,
    pub media_type: String,
    pub compressed: u64,
    pub uncompressed: u64,
    /// sha256 of the bytes as served.
    pub blob_digest: String,
    /// sha256 of the uncompressed tar.
    pub diff_id: String,
    /// `(path, entry)` in archive order; `None` marks a whiteout of that path.
    pub entries: Vec<(String, Option<FileEntry>)>,
    /// Contents of the small files whose exact text matters.
    pub texts: BTreeMap<String, String>,
    /// Marker hits: `where: marker`.
    pub hits: Vec<String>,
    /// The first bytes of each file.
    pub heads: BTreeMap<String, Vec<u8>>,
    /// Per file named in `Required`, the required strings its bytes contain.
    pub required_found: BTreeMap<String, Vec<String>>,
}

/// Strings a file must contain: the binary embeds its build's commit (`core::build_info`), so
/// a binary without this release's commit was built from another one.
#[derive(Debug, Clone, Default)]
pub struct Required {
    pub path: String,
    pub strings: Vec<String>,
}

/// The expected file system of a FROM-scratch image of `krate`.
pub fn expected(krate: &str) -> BTreeMap<String, FileEntry> {
    let dir = FileEntry {
        kind: EntryKind::Dir,
        uid: 0,
        gid: 0,
        mode: 0o755,
        size: 0,
    };
    let file = |mode| FileEntry {
        kind: EntryKind::File,
        uid: 0,
        gid: 0,
        mode,
        size: 0,
    };
    let mut m = BTreeMap::new();
    for d in [
        "etc",
        "etc/ssl",
        "etc/ssl/certs",
        "usr",
        "usr/local",
        "usr/local/bin",
    ] {
        m.insert(d.to_string(), dir.clone());
    }
    m.insert("etc/passwd".into(), file(0o644));
    m.insert("etc/group".into(), file(0o644));
    m.insert(
        stage::CA_BUNDLE.trim_start_matches('/').to_string(),
        file(0o644),
    );
    m.insert(format!("usr/local/bin/{krate}"), file(0o755));
    m
}

/// One image's file system after applying its layers, and what reading it showed.
#[derive(Debug, Clone, Default)]
pub struct ImageScan {
    pub files: BTreeMap<String, FileEntry>,
    pub layers: Vec<LayerScan>,
    pub texts: BTreeMap<String, String>,
    /// Marker hits and unreadable parts, as sentences.
    pub hits: Vec<String>,
    pub problems: Vec<String>,
    /// Per file, the required strings found (of the last layer that wrote it).
    pub required_found: BTreeMap<String, Vec<String>>,
}

/// The differences between an image's files and the expected set, as sentences.
pub fn file_problems(krate: &str, scan: &ImageScan) -> Vec<String> {
    let want = expected(krate);
    let mut out = Vec::new();
    for (path, e) in &scan.files {
        match want.get(path) {
            None => out.push(format!(
                "stray {} `/{path}` ({}:{}, mode {:04o}, {} bytes): the Dockerfile puts no such file there",
                e.kind, e.uid, e.gid, e.mode, e.size
            )),
            Some(w) => {
                if w.kind != e.kind {
                    out.push(format!("`/{path}` is a {}, expected a {}", e.kind, w.kind));
                }
                if (e.uid, e.gid) != (w.uid, w.gid) {
                    out.push(format!(
                        "`/{path}` is owned by {}:{}, expected {}:{}",
                        e.uid, e.gid, w.uid, w.gid
                    ));
                }
                if e.mode != w.mode {
                    out.push(format!(
                        "`/{path}` has mode {:04o}, expected {:04o}",
                        e.mode, w.mode
                    ));
                }
                if e.kind == EntryKind::File && e.size == 0 {
                    out.push(format!("`/{path}` is empty"));
                }
            }
        }
    }
    for path in want.keys().filter(|p| !scan.files.contains_key(*p)) {
        out.push(format!("`/{path}` is missing"));
    }
    for (path, expected) in [("etc/passwd", stage::PASSWD), ("etc/group", stage::GROUP)] {
        if let Some(t) = scan.texts.get(path)
            && t != expected
        {
            out.push(format!(
                "`/{path}` is `{}`, expected `{}`",
                t.escape_debug(),
                expected.escape_debug()
            ));
        }
    }
    out
}

/// `verify-contents`, per package in the order read: the image's file system is exactly the
/// expected one, its binary carries this release's commit, and a public image names no
/// marker; the last outcome adds the totals of all images read.
pub(crate) fn contents_outcomes(
    reads: &[(&PackageState, ContentsRead)],
    markers: &[String],
    commit: &str,
) -> Vec<Outcome> {
    let id = CheckId::VerifyContents;
    let mut out = Vec::new();
    let (mut all_c, mut all_u, mut n) = (0u64, 0u64, 0usize);
    for (p, read) in reads {
        let Some(r) = &p.semver else {
            out.push(Outcome::fail(
                id,
                format!(
                    "{}: cannot read the contents of {}: its semver tag is missing",
                    p.image.package, p.repository
                ),
                vec![Evidence::note("verify-semver-tag reports the missing tag")],
            ));
            continue;
        };
        let public = p.image.visibility == Visibility::Public;
        let reference = format!("{}@{}", p.repository, r.digest);
        let required = required_for(p, commit);
        let scan = match read {
            ContentsRead::Scanned(s) => s,
            ContentsRead::Untrusted(why) => {
                out.push(Outcome::fail(
                    id,
                    format!(
                        "{}: cannot trust the contents of {reference}",
                        p.image.package
                    ),
                    vec![Evidence::note(why.clone())],
                ));
                continue;
            }
            ContentsRead::TagMissing => {
                out.push(Outcome::fail(
                    id,
                    format!(
                        "{}: cannot read the contents of {}: its semver tag is missing",
                        p.image.package, p.repository
                    ),
                    vec![Evidence::note("verify-semver-tag reports the missing tag")],
                ));
                continue;
            }
        };
        let (c, u): (u64, u64) = scan
            .layers
            .iter()
            .fold((0, 0), |(c, u), l| (c + l.compressed, u + l.uncompressed));
        all_c += c;
        all_u += u;
        n += 1;
        let mut ev = vec![Evidence::digest(reference.clone(), r.digest.clone())];
        for (i, l) in scan.layers.iter().enumerate() {
            ev.push(Evidence::note(format!(
                "layer {} {} ({}): {} bytes compressed, {} bytes uncompressed, {} entries",
                i + 1,
                l.digest,
                l.media_type,
                l.compressed,
                l.uncompressed,
                l.entries.len()
            )));
        }
        ev.push(Evidence::note(format!(
            "total: {} layers, {c} bytes compressed, {u} bytes uncompressed",
            scan.layers.len()
        )));
        let mut problems = scan.problems.clone();
        problems.extend(file_problems(&p.image.krate, scan));
        if scan.files.contains_key(&required.path)
            && scan
                .required_found
                .get(&required.path)
                .is_none_or(|f| f.is_empty())
        {
            problems.push(format!(
                "`/{}` does not contain this release's commit {commit}: it was built from another commit",
                required.path
            ));
        }
        let hits = scan.hits.clone();
        if problems.is_empty() && hits.is_empty() {
            ev.push(Evidence::note(format!(
                "files: {}",
                scan.files
                    .iter()
                    .map(|(p, e)| format!("/{p} {}:{} {:04o}", e.uid, e.gid, e.mode))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
            if public {
                ev.push(Evidence::note(format!(
                    "searched file names, file contents (the binary's strings included), manifests and config for: {}",
                    markers.join(", ")
                )));
            }
            out.push(Outcome::pass(
                id,
                format!(
                    "{}@{}: exactly the {} expected entries (the binary, the CA bundle, the user database), owned 0:0 with the expected modes, the binary carrying this release's commit{}; {} layers, {c} bytes compressed",
                    p.image.package,
                    &r.digest[..r.digest.len().min(19)],
                    scan.files.len(),
                    if public {
                        ", naming no enterprise repository or commercial-only default"
                    } else {
                        ""
                    },
                    scan.layers.len()
                ),
                ev,
            ));
        } else {
            let mut what = Vec::new();
            if !hits.is_empty() {
                what.push(format!(
                    "names {}",
                    hits.iter()
                        .filter_map(|h| h.rsplit('`').nth(1))
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !problems.is_empty() {
                what.push(format!("{} unexpected file-system facts", problems.len()));
            }
            let mut fail_ev: Vec<Evidence> = hits
                .iter()
                .chain(problems.iter())
                .map(|h| Evidence::note(h.clone()))
                .collect();
            fail_ev.extend(ev);
            out.push(Outcome::fail(
                id,
                format!(
                    "{} ({reference}) {}: {}",
                    p.image.package,
                    what.join(" and "),
                    hits.iter()
                        .chain(problems.iter())
                        .next()
                        .cloned()
                        .unwrap_or_default()
                ),
                fail_ev,
            ));
        }
    }
    if let Some(last) = out.last_mut() {
        last.evidence.push(Evidence::note(format!(
            "all {n} images read: {all_c} bytes compressed, {all_u} bytes uncompressed"
        )));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Status;
    use crate::tags::{Event, plan_tags};

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn config() -> Config {
        crate::config::for_tests()
    }

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn resolved(repo: &str, reference: &str, d: &str) -> Resolved {
        Resolved {
            repository: repo.into(),
            reference: reference.into(),
            digest: d.into(),
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            entries: Vec::new(),
        }
    }

    /// The package of `visibility` (core's), with the given tags resolved to digests.
    fn package(
        cfg: &Config,
        visibility: Visibility,
        semver: Option<char>,
        sha: Option<char>,
        latest: Option<char>,
    ) -> PackageState {
        let image = cfg
            .all_images()
            .into_iter()
            .find(|i| i.component == "core" && i.visibility == visibility)
            .unwrap();
        let repository = cfg.image_repository(&image.package);
        let r = |t: &str, c: Option<char>| c.map(|c| resolved(&repository, t, &digest(c)));
        PackageState {
            semver: r("1.2.0", semver),
            sha: r("sha-0123456", sha),
            latest: r("latest", latest),
            repository: repository.clone(),
            image,
        }
    }

    fn plan(cfg: &Config, tag: &str) -> TagPlan {
        plan_tags(
            &cfg.raw.tags,
            Event::Push,
            &format!("refs/tags/{tag}"),
            SHA,
            None,
        )
        .unwrap()
    }

    #[test]
    fn tag_presence_is_judged_on_the_resolved_tags() {
        let cfg = config();
        let org = cfg.org().to_string();
        let none = ResolveFailures::new();
        let full = package(&cfg, Visibility::Public, Some('a'), Some('a'), None);
        assert_eq!(package_exists(&full, "1.2.0", None).status, Status::Pass);
        let bare = package(&cfg, Visibility::Public, None, None, None);
        let absent = package_exists(
            &bare,
            "1.2.0",
            Some(&TagList::Absent("GET /token -> 403 DENIED".into())),
        );
        assert_eq!(absent.status, Status::Fail);
        assert!(
            absent.message.contains("`cargo xtask release 1.2.0`"),
            "{}",
            absent.message
        );
        assert_eq!(
            absent.evidence,
            vec![Evidence::note("GET /token -> 403 DENIED")]
        );
        let other = package_exists(&bare, "1.2.0", Some(&TagList::Tags(vec!["1.1.0".into()])));
        assert_eq!(other.status, Status::Pass);
        assert!(
            other.message.ends_with("has none of this release's tags"),
            "{}",
            other.message
        );
        assert_eq!(package_exists(&bare, "1.2.0", None).status, Status::NotRun);

        assert_eq!(semver_tag(&full, &org, "1.2.0", &none).status, Status::Pass);
        // A digest the registry lied about counts as missing, with the refusal as evidence.
        let repo = format!("{org}/{}", bare.image.package);
        let lied = ResolveFailures::from([(
            (repo.clone(), "1.2.0".to_string()),
            "digest mismatch".to_string(),
        )]);
        let missing = semver_tag(&bare, &org, "1.2.0", &lied);
        assert_eq!(missing.status, Status::Fail);
        assert_eq!(
            missing.evidence,
            vec![
                Evidence::note("digest mismatch"),
                Evidence::note(format!("HEAD /v2/{repo}/manifests/1.2.0 -> 404")),
            ]
        );

        let split = package(&cfg, Visibility::Public, Some('a'), Some('b'), None);
        let sha = |ps: &[PackageState], t: Option<&str>| sha_tags(ps, &org, t, "1.2.0", SHA, &none);
        assert_eq!(
            sha(std::slice::from_ref(&full), Some("sha-0123456"))[0].status,
            Status::Pass
        );
        let two = sha(std::slice::from_ref(&split), Some("sha-0123456"));
        assert_eq!(two[0].status, Status::Fail);
        assert!(
            two[0].message.contains("two different builds"),
            "{}",
            two[0].message
        );
        let gone = sha(std::slice::from_ref(&bare), Some("sha-0123456"));
        assert!(
            gone[0].message.ends_with("is missing")
                && gone[0].evidence[0]
                    == Evidence::note(format!(
                        "HEAD /v2/{repo}/manifests/sha-0123456 -> 404 (commit {SHA})"
                    )),
            "{gone:?}"
        );
        // No {sha7} tag configured: one skip, not one per package.
        let skips = sha(&[full.clone(), split.clone()], None);
        assert_eq!(skips.len(), 1);
        assert_eq!(skips[0].status, Status::Skip);

        let recorded = BTreeMap::from([(full.image.package.clone(), digest('a'))]);
        let ok = recorded_digests(
            &recorded,
            "docs/releases/1.2.0.json",
            std::slice::from_ref(&full),
            "1.2.0",
        );
        assert_eq!(ok[0].status, Status::Pass);
        let moved = recorded_digests(
            &recorded,
            "docs/releases/1.2.0.json",
            std::slice::from_ref(&split),
            "1.2.0",
        );
        assert_eq!(moved[0].status, Status::Pass, "the semver tag is still a");
        let moved = BTreeMap::from([(full.image.package.clone(), digest('c'))]);
        let o = recorded_digests(&moved, "the record", std::slice::from_ref(&full), "1.2.0");
        assert_eq!(o[0].status, Status::Fail);
        assert!(
            o[0].message.contains("the tag was moved after the release"),
            "{}",
            o[0].message
        );
        let o = recorded_digests(
            &BTreeMap::new(),
            "the record",
            std::slice::from_ref(&full),
            "1.2.0",
        );
        assert!(
            o[0].message.contains("records no digest for it"),
            "{}",
            o[0].message
        );
    }

    #[test]
    fn latest_policy_is_judged_on_the_plan_and_what_was_before() {
        let cfg = config();
        let moving = plan(&cfg, "release-v1.2.0");
        let staying = plan(&cfg, "v1.2.0");
        assert!(moving.moves_latest && !staying.moves_latest);
        let pkg = |latest| package(&cfg, Visibility::Public, Some('a'), None, latest);
        let name = pkg(None).image.package;
        let before = |d: Option<Option<char>>| Before {
            digests: d
                .map(|d| BTreeMap::from([(name.clone(), d.map(digest))]))
                .unwrap_or_default(),
            source: BTreeMap::from([(name.clone(), "docs/releases/1.1.0.md".to_string())]),
        };
        let judge = |plan: &TagPlan, latest, b: Option<Option<char>>| {
            latest_policy(&pkg(latest), plan, "latest", &before(b))
        };
        assert_eq!(judge(&moving, Some('a'), None).status, Status::Pass);
        let stale = judge(&moving, Some('b'), None);
        assert_eq!(stale.status, Status::Fail);
        assert!(
            stale.message.contains("should point at this release"),
            "{}",
            stale.message
        );
        assert_eq!(
            judge(&staying, Some('b'), Some(Some('b'))).status,
            Status::Pass
        );
        assert_eq!(judge(&staying, None, Some(None)).status, Status::Pass);
        let moved = judge(&staying, Some('a'), Some(Some('b')));
        assert_eq!(moved.status, Status::Fail);
        assert!(
            moved
                .message
                .contains(&format!("it is {}, it was {}", digest('a'), digest('b'))),
            "{}",
            moved.message
        );
        assert!(
            moved.evidence.iter().any(|e| *e
                == Evidence::note(format!(
                    "before this release {}:latest was {} (from docs/releases/1.1.0.md)",
                    pkg(None).repository,
                    digest('b')
                ))),
            "{:?}",
            moved.evidence
        );
        assert_eq!(
            judge(&staying, Some('a'), None).status,
            Status::Fail,
            "no record, but latest is this release"
        );
        let unknown = judge(&staying, Some('b'), None);
        assert_eq!(unknown.status, Status::Warn);
        assert!(
            unknown.message.contains("pass --latest-before"),
            "{}",
            unknown.message
        );
        let no_semver = latest_policy(
            &package(&cfg, Visibility::Public, None, None, Some('a')),
            &moving,
            "latest",
            &before(None),
        );
        assert_eq!(no_semver.status, Status::Warn);
    }

    fn probe(allowed: bool, denied: bool, tag_missing: bool) -> AnonymousProbe {
        AnonymousProbe {
            repository: "aisopsflow/aisopsflow-core".into(),
            allowed,
            evidence: if allowed {
                "GET /v2/.../manifests/1.2.0 -> 200".into()
            } else if denied {
                "GET /token -> 403 DENIED".into()
            } else {
                "GET /token -> 401 UNAUTHORIZED".into()
            },
            denied_not_unauthorized: denied,
            tag_missing,
        }
    }

    #[test]
    fn visibility_is_judged_on_the_anonymous_pull_and_the_packages_api() {
        let cfg = config();
        let public = package(&cfg, Visibility::Public, Some('a'), None, None).image;
        let commercial = package(&cfg, Visibility::Private, Some('a'), None, None).image;
        let api = |list: &[(&ImageSpec, Visibility)]| -> Result<BTreeMap<String, Visibility>, ApiMissing> {
            Ok(list.iter().map(|(i, v)| (i.package.clone(), *v)).collect())
        };
        let both = api(&[
            (&public, Visibility::Public),
            (&commercial, Visibility::Private),
        ]);
        let good = [
            (public.clone(), probe(true, false, false)),
            (commercial.clone(), probe(false, false, false)),
        ];
        let out = visibility(&both, &good);
        assert_eq!(
            out.iter().map(|o| o.status).collect::<Vec<_>>(),
            [Status::Pass, Status::Pass]
        );
        assert!(visibility_flips(&good).is_empty());
        // The API disagreeing with a pull that looks right is still a failure.
        let flipped = api(&[
            (&public, Visibility::Private),
            (&commercial, Visibility::Private),
        ]);
        assert_eq!(visibility(&flipped, &good)[0].status, Status::Fail);
        // A commercial package anonymous pulls reach is public.
        let leak = [(commercial.clone(), probe(true, false, false))];
        let o = &visibility(&both, &leak)[0];
        assert!(
            o.status == Status::Fail
                && o.message
                    .contains("is commercial but anonymous pulls succeed"),
            "{}",
            o.message
        );
        // The public edition answering 401: private, the one-way flip an admin makes.
        let private = [(public.clone(), probe(false, false, false))];
        let o = &visibility(&both, &private)[0];
        assert!(
            o.status == Status::Fail
                && o.message.contains("it is private")
                && o.message.contains("Danger Zone"),
            "{}",
            o.message
        );
        assert_eq!(visibility_flips(&private), vec![public.package.clone()]);
        // 403 DENIED: absent when the API does not list it; unknown without the API.
        let denied = [(public.clone(), probe(false, true, false))];
        let o = &visibility(&api(&[]), &denied)[0];
        assert!(o.message.contains("is not published"), "{}", o.message);
        let o = &visibility(&Err(ApiMissing::NoToken("no GitHub token".into())), &denied)[0];
        assert!(
            o.message
                .contains("it does not exist yet, or it is private"),
            "{}",
            o.message
        );
        assert!(
            o.evidence.contains(&Evidence::note(
                "Packages API not consulted: no GitHub token"
            )),
            "{:?}",
            o.evidence
        );
        assert!(visibility_flips(&denied).is_empty());
        // A token that could not read the API: the pull decides, and a warning says so.
        let out = visibility(&Err(ApiMissing::Failed("403 read:packages".into())), &good);
        assert_eq!(
            out.iter().map(|o| o.status).collect::<Vec<_>>(),
            [Status::Pass, Status::Pass, Status::Warn]
        );
        let o = &visibility(&both, &[(public.clone(), probe(true, false, true))])[0];
        assert!(
            o.status == Status::Fail && o.message.contains("cannot prove its visibility"),
            "{}",
            o.message
        );
    }

    #[test]
    fn public_metadata_is_judged_on_the_documents() {
        let cfg = config();
        let org = cfg.org().to_string();
        let p = package(&cfg, Visibility::Public, Some('a'), None, None);
        let markers = vec!["github.com/aisopsflow/aisopsflow-enterprise".to_string()];
        let none = ResolveFailures::new();
        let clean = [("config".to_string(), "{\"Labels\":{\"org.opencontainers.image.source\":\"https://github.com/aisopsflow/aisopsflow-sdk\"}}".to_string())];
        let o = public_metadata(
            &p,
            &org,
            "1.2.0",
            &none,
            MetadataRead::Documents(&clean),
            &markers,
        );
        assert_eq!(o.status, Status::Pass, "{}", o.message);
        assert_eq!(o.evidence, vec![Evidence::note("read config")]);
        let leak = [(
            "annotations".to_string(),
            "source: https://GitHub.com/aisopsflow/aisopsflow-enterprise/tree/main".to_string(),
        )];
        let o = public_metadata(
            &p,
            &org,
            "1.2.0",
            &none,
            MetadataRead::Documents(&leak),
            &markers,
        );
        assert_eq!(o.status, Status::Fail);
        assert!(
            matches!(&o.evidence[0], Evidence::Note { text } if text.starts_with("annotations contains `github.com/aisopsflow/aisopsflow-enterprise`: …source: https://GitHub.com")),
            "{:?}",
            o.evidence
        );
        let o = public_metadata(
            &p,
            &org,
            "1.2.0",
            &none,
            MetadataRead::Untrusted("digest mismatch"),
            &markers,
        );
        assert!(
            o.status == Status::Fail && o.message.starts_with("cannot trust the metadata of"),
            "{}",
            o.message
        );
        let bare = package(&cfg, Visibility::Public, None, None, None);
        let o = public_metadata(
            &bare,
            &org,
            "1.2.0",
            &none,
            MetadataRead::TagMissing,
            &markers,
        );
        assert!(
            o.status == Status::Fail && o.message.ends_with("the tag is missing"),
            "{}",
            o.message
        );
    }

    #[test]
    fn manifest_digests_are_judged_on_the_files_and_the_notes() {
        let cfg = config();
        let p = package(&cfg, Visibility::Public, Some('a'), None, None);
        let host_repo = &p.repository;
        let facts = |manifest: String, notes: Option<String>| ManifestFacts {
            files: vec![(PathBuf::from("deploy/core.yaml"), manifest)],
            notes_path: PathBuf::from("docs/releases/1.2.0.md"),
            notes,
        };
        let judge =
            |f: &ManifestFacts| manifest_digests(&cfg, "1.2.0", std::slice::from_ref(&p), f);
        let pinned = format!("image: {host_repo}:1.2.0@{}\n", digest('a'));
        let o = judge(&facts(
            pinned.clone(),
            Some(format!("core: {}", digest('a'))),
        ));
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].status, Status::Pass, "{}", o[0].message);
        assert!(
            o[0].message.contains("recorded in docs/releases/1.2.0.md"),
            "{}",
            o[0].message
        );
        assert_eq!(
            o[0].evidence[0],
            Evidence::file_excerpt(
                "deploy/core.yaml",
                Some(1),
                format!("{host_repo}:1.2.0@{}", digest('a'))
            )
        );
        let o = judge(&facts(pinned.clone(), Some("no digests here".into())));
        assert!(
            o[0].status == Status::Fail && o[0].message.contains("do not record"),
            "{}",
            o[0].message
        );
        let o = judge(&facts(pinned, None));
        assert!(
            o[0].status == Status::Pass && o[0].message.contains("no release notes"),
            "{}",
            o[0].message
        );
        let o = judge(&facts(format!("image: {host_repo}:1.2.0\n"), None));
        assert!(
            o[0].status == Status::Fail && o[0].message.contains("by tag only"),
            "{}",
            o[0].message
        );
        let o = judge(&facts(
            format!("image: {host_repo}:1.2.0@{}\n", digest('b')),
            None,
        ));
        assert!(
            o[0].status == Status::Fail
                && o[0]
                    .message
                    .contains(&format!("but 1.2.0 was released as {}", digest('a'))),
            "{}",
            o[0].message
        );
        // Only other versions: a warning with the digests to use, the others ignored.
        let o = judge(&facts(format!("image: {host_repo}:1.1.0\n"), None));
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].status, Status::Warn);
        assert!(o[0].evidence.iter().any(|e| matches!(e, Evidence::File { excerpt: Some(x), .. } if x.starts_with("ignored, not 1.2.0"))), "{:?}", o[0].evidence);
        assert!(
            o[0].evidence
                .contains(&Evidence::digest(format!("{host_repo}:1.2.0"), digest('a'))),
            "{:?}",
            o[0].evidence
        );
    }

    #[test]
    fn runs_are_judged_on_what_the_engine_saw() {
        let cfg = config();
        let p = package(&cfg, Visibility::Public, Some('a'), None, None);
        let config_digest = digest('c');
        let line = crate::images::smoke::version_line(&p.image, "1.2.0", SHA);
        let ran = |engine: &str, cfg_digest: Option<&str>, smoke| RunFacts::Pulled {
            engine_id: engine.to_string(),
            config_digest: cfg_digest.map(str::to_string),
            smoke,
        };
        let report = crate::images::smoke::SmokeReport {
            version_line: line.clone(),
            health: Some("GET /healthz -> 200 after 1 attempt".into()),
        };
        let ok = run_outcome(
            &p,
            "1.2.0",
            SHA,
            &ran(&config_digest, Some(&config_digest), Some(Ok(report))),
        );
        assert_eq!(ok.status, Status::Pass, "{}", ok.message);
        assert!(
            ok.message.ends_with(&format!(
                "runs and reports 1.2.0, commit {}, edition {}",
                &SHA[..12],
                p.image.edition
            )),
            "{}",
            ok.message
        );
        assert!(
            ok.evidence
                .contains(&Evidence::note("GET /healthz -> 200 after 1 attempt")),
            "{:?}",
            ok.evidence
        );
        // The engine's copy is not the registry's bytes: never run, never a pass.
        let other = run_outcome(
            &p,
            "1.2.0",
            SHA,
            &ran(&digest('d'), Some(&config_digest), None),
        );
        assert_eq!(other.status, Status::Fail);
        assert!(
            other.message.contains("is not what the registry serves"),
            "{}",
            other.message
        );
        assert_eq!(
            other.evidence[1],
            Evidence::note(format!(
                "engine image id {}, registry config digest {config_digest}",
                digest('d')
            ))
        );
        let unreadable = run_outcome(&p, "1.2.0", SHA, &ran("", None, None));
        assert_eq!(
            unreadable.evidence[1],
            Evidence::note("engine image id (none), registry config digest (unreadable)")
        );
        assert!(!same_bytes(
            &digest('d'),
            &digest('a'),
            Some(&config_digest)
        ));
        assert!(same_bytes(&digest('a'), &digest('a'), None));
        // It ran, but as something else.
        let wrong = run_outcome(&p, "1.2.0", SHA, &ran(&config_digest, Some(&config_digest), Some(Err("--version printed `aisopsflow-core 1.1.0 (commit 89ab, edition public)`\nexit 0".into()))));
        assert_eq!(wrong.status, Status::Fail);
        assert!(wrong.message.ends_with("does not run as this release: --version printed `aisopsflow-core 1.1.0 (commit 89ab, edition public)`"), "{}", wrong.message);
        assert_eq!(
            wrong.evidence.last(),
            Some(&Evidence::note(format!("expected `{line}`")))
        );
        let pull = run_outcome(
            &p,
            "1.2.0",
            SHA,
            &RunFacts::PullFailed("manifest unknown".into()),
        );
        assert!(
            pull.status == Status::Fail && pull.message.contains("the engine could not pull"),
            "{}",
            pull.message
        );
        let bare = package(&cfg, Visibility::Public, None, None, None);
        let missing = run_outcome(&bare, "1.2.0", SHA, &RunFacts::TagMissing);
        assert!(
            missing.status == Status::Fail && missing.message.ends_with("the tag is missing"),
            "{}",
            missing.message
        );
    }

    /// The file system a good image of `p` has, as the layer reader leaves it.
    fn good_scan(p: &PackageState) -> ImageScan {
        let mut files = expected(&p.image.krate);
        for e in files.values_mut().filter(|e| e.kind == EntryKind::File) {
            e.size = 100;
        }
        let binary = format!("usr/local/bin/{}", p.image.krate);
        ImageScan {
            layers: vec![LayerScan {
                digest: digest('e'),
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
                compressed: 1000,
                uncompressed: 3000,
                entries: files
                    .iter()
                    .map(|(k, v)| (k.clone(), Some(v.clone())))
                    .collect(),
                ..LayerScan::default()
            }],
            files,
            texts: BTreeMap::from([
                ("etc/passwd".to_string(), stage::PASSWD.to_string()),
                ("etc/group".to_string(), stage::GROUP.to_string()),
            ]),
            required_found: BTreeMap::from([(binary, vec![SHA.to_string()])]),
            ..ImageScan::default()
        }
    }

    #[test]
    fn contents_are_judged_on_the_scanned_file_system() {
        let cfg = config();
        let p = package(&cfg, Visibility::Public, Some('a'), None, None);
        let markers = vec!["aisopsflow-enterprise".to_string()];
        let judge = |scan: ImageScan| {
            contents_outcomes(&[(&p, ContentsRead::Scanned(scan))], &markers, SHA).remove(0)
        };
        let ok = judge(good_scan(&p));
        assert_eq!(ok.status, Status::Pass, "{}: {:?}", ok.message, ok.evidence);
        assert!(
            ok.message.contains("exactly the 10 expected entries")
                && ok.message.contains("naming no enterprise repository"),
            "{}",
            ok.message
        );
        assert_eq!(
            ok.evidence.last(),
            Some(&Evidence::note(
                "all 1 images read: 1000 bytes compressed, 3000 bytes uncompressed"
            ))
        );
        // A stray file.
        let mut stray = good_scan(&p);
        stray.files.insert(
            "tmp/build.log".into(),
            FileEntry {
                kind: EntryKind::File,
                uid: 1000,
                gid: 1000,
                mode: 0o600,
                size: 5,
            },
        );
        let o = judge(stray);
        assert_eq!(o.status, Status::Fail);
        assert!(o.message.contains("1 unexpected file-system facts: stray file `/tmp/build.log` (1000:1000, mode 0600, 5 bytes)"), "{}", o.message);
        // A binary built from another commit.
        let mut other = good_scan(&p);
        other.required_found.clear();
        let o = judge(other);
        assert!(
            o.status == Status::Fail
                && o.message
                    .contains(&format!("does not contain this release's commit {SHA}")),
            "{}",
            o.message
        );
        // A marker in a public image.
        let mut named = good_scan(&p);
        named.hits.push(format!(
            "layer {}: usr/local/bin/x contains `aisopsflow-enterprise`",
            digest('e')
        ));
        let o = judge(named);
        assert!(
            o.status == Status::Fail && o.message.contains("names `aisopsflow-enterprise`"),
            "{}",
            o.message
        );
        // Untrusted bytes, a missing tag; the totals count only what was read.
        let bare = package(&cfg, Visibility::Private, None, None, None);
        let out = contents_outcomes(
            &[
                (&p, ContentsRead::Scanned(good_scan(&p))),
                (&p, ContentsRead::Untrusted("blob digest mismatch".into())),
                (&bare, ContentsRead::TagMissing),
            ],
            &markers,
            SHA,
        );
        assert_eq!(
            out.iter().map(|o| o.status).collect::<Vec<_>>(),
            [Status::Pass, Status::Fail, Status::Fail]
        );
        assert!(
            out[1].message.contains("cannot trust the contents"),
            "{}",
            out[1].message
        );
        assert!(
            out[2].message.ends_with("its semver tag is missing"),
            "{}",
            out[2].message
        );
        assert_eq!(
            out[2].evidence.last(),
            Some(&Evidence::note(
                "all 1 images read: 1000 bytes compressed, 3000 bytes uncompressed"
            ))
        );
    }

    #[test]
    fn finds_refs_without_prefix_confusion() {
        let d = format!("sha256:{}", "a".repeat(64));
        let text = format!(
            "image: ghcr.io/aisopsflow/aisopsflow-core-commercial:1.4.0@{d}\n  image: \"ghcr.io/aisopsflow/aisopsflow-core:1.3.0\"\n"
        );
        let pkgs = vec![
            "aisopsflow-core".to_string(),
            "aisopsflow-core-commercial".to_string(),
        ];
        let refs = find_refs(Path::new("x.yaml"), &text, "aisopsflow", &pkgs);
        assert_eq!(refs.len(), 2, "{refs:?}");
        let c = refs
            .iter()
            .find(|r| r.package == "aisopsflow-core-commercial")
            .unwrap();
        assert_eq!(c.tag.as_deref(), Some("1.4.0"));
        assert_eq!(c.digest.as_deref(), Some(d.as_str()));
        let p = refs
            .iter()
            .find(|r| r.package == "aisopsflow-core")
            .unwrap();
        assert_eq!(
            (p.tag.as_deref(), p.digest.as_deref(), p.line),
            (Some("1.3.0"), None, 2)
        );
    }
}
