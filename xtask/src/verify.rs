//! `cargo xtask verify VERSION`: the post-release checks (`verify-*`) and, with `--delivery`,
//! the customer-delivery output and its checks (`delivery-*`).
//!
//! Everything is read from the registry through `effects::registry` (one token per
//! repository, one HEAD per tag, requests for different tags in flight together) and from the
//! workspace (the git tag that exists for the version, release notes, deployment manifests).
//! The expected tags come from `policy::plan_tags`, the same function the publish step uses,
//! so what is checked cannot drift from what is published.
//!
//! The notes writer records `latest` per package as machine-readable comments, which this
//! module reads to judge whether `latest` moved:
//! `<!-- aisopsflow:latest-before PACKAGE sha256:... -->` and
//! `<!-- aisopsflow:latest-after PACKAGE sha256:... -->` (`none` instead of a digest means the
//! package had no `latest`). For a `v*` release, "before" is `--latest-before`, else this
//! release's `latest-before`, else the previous release's `latest-after`.

pub mod contents;
pub mod delivery;
pub mod from_record;
pub mod manifests;
pub mod runs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::checks::{CheckId, Evidence, Outcome, Report, Status};
use crate::config::{ImageSpec, Visibility};
use crate::effects::registry::{AnonymousProbe, RegistryClient, Resolved};
use crate::exit::{Kind, kind_of, usage};
use crate::flags;
use crate::policy::{self, Event, TagKind, TagPlan};
use crate::workspace::{Global, Workspace};

/// What to verify.
#[derive(Debug, Clone, Default)]
pub struct VerifyInput {
    pub version: String,
    /// `--components` as given (the always-released components are added).
    pub components: Vec<String>,
    /// `--only` prefixes.
    pub only: Vec<String>,
    /// `--latest-before`: `sha256:...` for every package, or `PACKAGE=sha256:...,...`.
    pub latest_before: Option<String>,
    pub expect_latest: Option<bool>,
    pub delivery: bool,
    /// Skip the Packages API cross-check (`--offline`).
    pub offline: bool,
    /// Also run `verify-runs` and `verify-contents` (`--deep`; `release` always asks).
    pub deep: bool,
    /// Deep-check prefixes not to run, reported as skips (`release --skip-checks`).
    pub skip: Vec<String>,
    /// Set when re-proving a release from its record (`--from-notes`): the tag and commit
    /// come from the record instead of git, the registry must still hold the recorded
    /// digests, and checks that need the workspace's files are skipped.
    pub recorded: Option<RecordedRelease>,
}

/// What a release record fixes for `verify --from-notes`.
#[derive(Debug, Clone, Default)]
pub struct RecordedRelease {
    pub tag: String,
    pub commit: String,
    /// package → the digest the record says the release's tags hold.
    pub digests: BTreeMap<String, String>,
    /// Where the record was read, for evidence.
    pub source: String,
}

/// The checks `--deep` adds.
pub const DEEP: [CheckId; 2] = crate::checks::DEEP_VERIFY;

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

/// The result of a verify run: the report plus what delivery and the notes need.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub version: String,
    pub plan: TagPlan,
    pub packages: Vec<PackageState>,
    pub delivery: Option<delivery::Delivery>,
    pub report: Report,
    /// Public-edition packages that exist but are private (anonymous pulls answered 401
    /// UNAUTHORIZED): the one-way flip an org admin must make, typically once, after the
    /// first release created them private.
    pub visibility_flips: Vec<String>,
}

impl Verified {
    pub fn failed(&self) -> bool {
        self.report
            .outcomes
            .iter()
            .any(|o| o.status == Status::Fail)
    }

    /// Whether the only failures are `verify-visibility` for the packages in
    /// `visibility_flips`: the state of a first release before an admin made the public
    /// editions public.
    pub fn fails_only_for_visibility_flips(&self) -> bool {
        !self.visibility_flips.is_empty()
            && self
                .report
                .outcomes
                .iter()
                .filter(|o| o.status == Status::Fail)
                .all(|o| {
                    o.id == CheckId::VerifyVisibility
                        && self
                            .visibility_flips
                            .iter()
                            .any(|p| o.message.starts_with(&format!("{p} is the public edition")))
                })
    }
}

impl flags::Verify {
    pub async fn run(self, g: &Global) -> anyhow::Result<u8> {
        if let Some(file) = &self.from_notes {
            return from_record::verify_from_record(file, &self, g).await;
        }
        let ws = g.workspace()?;
        let input = VerifyInput {
            version: self.version.clone().ok_or_else(|| {
                usage("verify needs the released VERSION (or --from-notes docs/releases/VERSION.json)")
            })?,
            components: self.scope.components,
            only: self.only,
            latest_before: self.latest_before,
            expect_latest: self.expect_latest,
            delivery: self.delivery,
            offline: self.offline,
            deep: self.deep,
            skip: Vec::new(),
            recorded: None,
        };
        let host = ws.config.registry_host();
        let client = RegistryClient::for_host(&host)?;
        if ws.verbose > 0 {
            crate::note!(
                "verify: registry {host}, credentials from {}",
                client.credentials_source()
            );
        }
        let verified = verify(&ws, &client, &input).await?;
        let help = crate::checks::help_base(&ws.config);
        crate::say_part!(
            "{}",
            crate::secrets::redact_all(&render(&verified, self.format, &help))
        );
        crate::report::ghactions::write_step_summary(
            &verified.report,
            crate::report::Gate::default(),
            &format!("verify {}", verified.version),
        );
        Ok(crate::report::exit_code(
            &verified.report,
            crate::report::Gate::default(),
        ))
    }
}

/// The git tag that exists for `version` (`release-v*` first) and its commit.
pub fn release_tag(ws: &Workspace, version: &semver::Version) -> anyhow::Result<(String, String)> {
    let rules = &ws.config.raw.tags;
    let candidates = [
        policy::git_tag(rules, version, TagKind::ReleaseLatest),
        policy::git_tag(rules, version, TagKind::Release),
    ];
    for tag in &candidates {
        if let Some(sha) =
            crate::effects::git::try_rev_parse(&ws.root, &format!("refs/tags/{tag}"))?
        {
            return Ok((tag.clone(), sha));
        }
    }
    Err(usage(format!(
        "neither {} nor {} exists in {}; fetch the release tags (`git fetch --tags`) or pass --repo DIR of a checkout that has them",
        candidates[0],
        candidates[1],
        ws.root.display()
    )))
}

/// Runs every selected `verify-*` (and, with `delivery`, `delivery-*`) check.
pub async fn verify(
    ws: &Workspace,
    client: &RegistryClient,
    input: &VerifyInput,
) -> anyhow::Result<Verified> {
    let config = &ws.config;
    let version = policy::parse_version(&input.version)?;
    let components = config.scope(&input.components)?;
    let images = config.images_for(&components);
    let (tag, sha) = match &input.recorded {
        Some(r) => (r.tag.clone(), r.commit.clone()),
        None => release_tag(ws, &version)?,
    };
    let mut plan = policy::plan_tags(
        &config.raw.tags,
        Event::Push,
        &format!("refs/tags/{tag}"),
        &sha,
        None,
    )?;
    if let Some(expect) = input.expect_latest {
        plan.moves_latest = expect;
        plan.latest_reason = format!(
            "`{}` {}: --expect-latest={expect}",
            config.raw.tags.latest,
            if expect { "moves" } else { "stays" }
        );
    }
    let skipped = |id: CheckId| {
        input
            .skip
            .iter()
            .find(|p| DEEP.contains(&id) && id.id().starts_with(p.as_str()))
            .cloned()
    };
    let wants = |id: CheckId| {
        id.selected_by(&input.only) && (!DEEP.contains(&id) || input.deep) && skipped(id).is_none()
    };
    let mut report = Report::default();

    let rules = &config.raw.tags;
    let expand = |pat: &str| {
        pat.replace("{semver}", &plan.version)
            .replace("{sha7}", &plan.commit[..7])
    };
    let semver_tag = rules
        .image_tags
        .iter()
        .find(|t| t.contains("{semver}"))
        .map(|t| expand(t))
        .unwrap_or_else(|| plan.version.clone());
    let sha_tag = rules
        .image_tags
        .iter()
        .find(|t| t.contains("{sha7}"))
        .map(|t| expand(t));
    let latest_tag = rules.latest.clone();
    let org = config.org().to_string();
    let repo_of = |img: &ImageSpec| format!("{org}/{}", img.package);

    let registry_ids = [
        CheckId::VerifyPackagesExist,
        CheckId::VerifySemverTag,
        CheckId::VerifyShaTag,
        CheckId::VerifyLatestPolicy,
        CheckId::VerifyVisibility,
        CheckId::VerifyPublicMetadataClean,
        CheckId::VerifyManifestDigestsRecorded,
        CheckId::DeliveryDigestReferences,
        CheckId::DeliveryNoEnterpriseRepo,
        CheckId::VerifyRuns,
        CheckId::VerifyContents,
    ];
    if !registry_ids.iter().any(|id| wants(*id)) {
        return Ok(Verified {
            version: plan.version.clone(),
            plan,
            packages: Vec::new(),
            delivery: None,
            report,
            visibility_flips: Vec::new(),
        });
    }

    // Resolve every tag of every package together: one token per repository, one HEAD each.
    let mut refs = Vec::new();
    for img in &images {
        refs.push((repo_of(img), semver_tag.clone()));
        if let Some(t) = &sha_tag {
            refs.push((repo_of(img), t.clone()));
        }
        refs.push((repo_of(img), latest_tag.clone()));
    }
    let mut results = client.resolve_all(&refs).await.into_iter();
    let mut packages = Vec::new();
    let mut resolve_failures: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut take = |repo: &str, tag: &str| -> anyhow::Result<Option<Resolved>> {
        match results.next().expect("one result per reference") {
            Ok(r) => Ok(r),
            // A registry that lies about digests is a failed check with evidence, not a crash.
            Err(e) if kind_of(&e) == Some(Kind::Policy) => {
                resolve_failures.insert((repo.to_string(), tag.to_string()), format!("{e:#}"));
                Ok(None)
            }
            Err(e) => Err(e.context(format!("resolving {repo}:{tag}"))),
        }
    };
    for img in &images {
        let repo = repo_of(img);
        let semver = take(&repo, &semver_tag)?;
        let sha = match &sha_tag {
            Some(t) => take(&repo, t)?,
            None => None,
        };
        let latest = take(&repo, &latest_tag)?;
        packages.push(PackageState {
            image: img.clone(),
            repository: config.image_repository(&img.package),
            semver,
            sha,
            latest,
        });
    }
    let failure_note = |repo: &str, tag: &str| {
        resolve_failures
            .get(&(repo.to_string(), tag.to_string()))
            .map(|m| vec![Evidence::note(m.clone())])
            .unwrap_or_default()
    };

    if wants(CheckId::VerifyPackagesExist) {
        for p in &packages {
            let found: Vec<&Resolved> = [&p.semver, &p.sha, &p.latest]
                .into_iter()
                .flatten()
                .collect();
            if let Some(r) = found.first() {
                report.push(Outcome::pass(
                    CheckId::VerifyPackagesExist,
                    format!("{} exists ({} edition)", p.repository, p.image.edition),
                    vec![Evidence::digest(
                        format!("{}:{}", p.repository, r.reference),
                        r.digest.clone(),
                    )],
                ));
                continue;
            }
            match client.list_tags(&repo_of(&p.image)).await? {
                // ghcr.io refuses the token for a package that does not exist (403 DENIED);
                // a registry that gets that far answers NAME_UNKNOWN.
                None => report.push(Outcome::fail(
                    CheckId::VerifyPackagesExist,
                    format!(
                        "{} is not published: the package does not exist ({} edition of {}); publish the release (`cargo xtask release {}`), which creates it",
                        p.repository, p.image.edition, p.image.component, plan.version
                    ),
                    vec![Evidence::note(
                        client.absence(&repo_of(&p.image)).unwrap_or_else(|| {
                            format!(
                                "GET /v2/{}/tags/list -> 404 NAME_UNKNOWN",
                                repo_of(&p.image)
                            )
                        }),
                    )],
                )),
                Some(tags) => report.push(Outcome::pass(
                    CheckId::VerifyPackagesExist,
                    format!(
                        "{} exists, but has none of this release's tags",
                        p.repository
                    ),
                    vec![Evidence::note(format!("tags: {}", tags.join(", ")))],
                )),
            }
        }
    }

    if wants(CheckId::VerifySemverTag) {
        for p in &packages {
            let reference = format!("{}:{semver_tag}", p.repository);
            report.push(match &p.semver {
                Some(r) => Outcome::pass(
                    CheckId::VerifySemverTag,
                    format!("{reference} is present"),
                    digest_evidence(&reference, r),
                ),
                None => {
                    let mut ev = failure_note(&repo_of(&p.image), &semver_tag);
                    ev.push(Evidence::note(format!(
                        "HEAD /v2/{}/manifests/{semver_tag} -> 404",
                        repo_of(&p.image)
                    )));
                    Outcome::fail(
                        CheckId::VerifySemverTag,
                        format!("{reference} is missing"),
                        ev,
                    )
                }
            });
        }
    }

    if let Some(rec) = input
        .recorded
        .as_ref()
        .filter(|_| wants(CheckId::VerifySemverTag))
    {
        report.extend(recorded_outcomes(rec, &packages, &semver_tag));
    }

    if wants(CheckId::VerifyShaTag) {
        for p in &packages {
            let Some(t) = &sha_tag else {
                report.push(Outcome::skip(
                    CheckId::VerifyShaTag,
                    "tags.image_tags in release.toml has no {sha7} tag",
                    "add \"sha-{sha7}\" to tags.image_tags",
                ));
                break;
            };
            let reference = format!("{}:{t}", p.repository);
            report.push(match (&p.sha, &p.semver) {
                (None, _) => {
                    let mut ev = failure_note(&repo_of(&p.image), t);
                    ev.push(Evidence::note(format!(
                        "HEAD /v2/{}/manifests/{t} -> 404 (commit {})",
                        repo_of(&p.image),
                        plan.commit
                    )));
                    Outcome::fail(CheckId::VerifyShaTag, format!("{reference} is missing"), ev)
                }
                (Some(s), Some(v)) if s.digest != v.digest => Outcome::fail(
                    CheckId::VerifyShaTag,
                    format!("{reference} and :{semver_tag} point at different images: two different builds were published"),
                    vec![
                        Evidence::digest(reference.clone(), s.digest.clone()),
                        Evidence::digest(format!("{}:{semver_tag}", p.repository), v.digest.clone()),
                    ],
                ),
                (Some(s), _) => Outcome::pass(
                    CheckId::VerifyShaTag,
                    format!("{reference} is present with the semver tag's digest"),
                    digest_evidence(&reference, s),
                ),
            });
        }
    }

    if wants(CheckId::VerifyLatestPolicy) {
        let before = latest_before(ws, &version, input.latest_before.as_deref())?;
        for p in &packages {
            report.push(latest_outcome(p, &plan, &latest_tag, &before));
        }
    }

    let mut visibility_flips = Vec::new();
    if wants(CheckId::VerifyVisibility) {
        let probes = futures_util::future::join_all(images.iter().map(|img| {
            let (repo, tag) = (repo_of(img), semver_tag.clone());
            async move { client.anonymous_pull_allowed(&repo, &tag).await }
        }))
        .await;
        let mut empirical = Vec::new();
        for (img, probe) in images.iter().zip(probes) {
            empirical.push((img.clone(), probe?));
        }
        let api = if input.offline {
            Err(ApiMissing::NoToken("--offline: the Packages API was not asked; run without --offline and with a GitHub token to cross-check".into()))
        } else {
            packages_api_visibility(config).await
        };
        visibility_flips = empirical
            .iter()
            .filter(|(img, probe)| {
                img.visibility == Visibility::Public
                    && !probe.allowed
                    && !probe.tag_missing
                    && !probe.denied_not_unauthorized
            })
            .map(|(img, _)| img.package.clone())
            .collect();
        match api {
            Ok(api) => report.extend(visibility_outcomes(Some(&api), &empirical, "")),
            Err(ApiMissing::NoToken(why)) => {
                report.extend(visibility_outcomes(None, &empirical, &why))
            }
            Err(ApiMissing::Failed(why)) => {
                // The anonymous pull still proves visibility, but an operator who gave a token
                // expects the API cross-check: say plainly that it did not happen.
                report.extend(visibility_outcomes(None, &empirical, &why));
                report.push(Outcome::warn(
                    CheckId::VerifyVisibility,
                    "the Packages API half of this check could not run; visibility rests on the anonymous pull alone",
                    vec![Evidence::note(why)],
                ));
            }
        }
    }

    if wants(CheckId::VerifyPublicMetadataClean) {
        let mut markers = config.enterprise_markers();
        markers.extend(config.commercial_only_defaults());
        for p in packages
            .iter()
            .filter(|p| p.image.visibility == Visibility::Public)
        {
            let Some(r) = &p.semver else {
                report.push(Outcome::fail(
                    CheckId::VerifyPublicMetadataClean,
                    format!(
                        "cannot read the metadata of {}:{semver_tag}: the tag is missing",
                        p.repository
                    ),
                    failure_note(&repo_of(&p.image), &semver_tag),
                ));
                continue;
            };
            let meta = match client.image_metadata(&repo_of(&p.image), &r.digest).await {
                Ok(m) => m,
                Err(e) if kind_of(&e) == Some(Kind::Policy) => {
                    report.push(Outcome::fail(
                        CheckId::VerifyPublicMetadataClean,
                        format!("cannot trust the metadata of {}@{}", p.repository, r.digest),
                        vec![Evidence::note(format!("{e:#}"))],
                    ));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut hits = Vec::new();
            for (place, text) in &meta.documents {
                let lower = text.to_lowercase();
                for m in &markers {
                    if let Some(at) = lower.find(&m.to_lowercase()) {
                        hits.push(Evidence::note(format!(
                            "{place} contains `{m}`: …{}…",
                            excerpt(text, at, m.len())
                        )));
                    }
                }
            }
            let reference = format!("{}@{}", p.repository, r.digest);
            report.push(if hits.is_empty() {
                Outcome::pass(
                    CheckId::VerifyPublicMetadataClean,
                    format!(
                        "{reference}: {} documents (config, labels, annotations, attestations) carry no enterprise URL or commercial default",
                        meta.documents.len()
                    ),
                    meta.documents
                        .iter()
                        .map(|(place, _)| Evidence::note(format!("read {place}")))
                        .collect(),
                )
            } else {
                Outcome::fail(
                    CheckId::VerifyPublicMetadataClean,
                    format!("{reference} exposes enterprise or commercial-only strings"),
                    hits,
                )
            });
        }
    }

    if wants(CheckId::VerifyManifestDigestsRecorded) {
        match &input.recorded {
            Some(r) => report.push(Outcome::skip(
                CheckId::VerifyManifestDigestsRecorded,
                format!(
                    "re-proving from {}: the deployment manifests live in the repository, not in the record",
                    r.source
                ),
                format!("run `cargo xtask verify {} --repo DIR` in a checkout that has them", plan.version),
            )),
            None => report.extend(manifests::outcomes(ws, &plan.version, &packages)?),
        }
    }

    // Deep evidence: what the registry's bytes are, not just where they are.
    if wants(CheckId::VerifyRuns) {
        report.extend(runs::outcomes(client, &packages, &plan.version, &plan.commit).await?);
    }
    if wants(CheckId::VerifyContents) {
        let mut markers = config.enterprise_markers();
        markers.extend(config.commercial_only_defaults());
        report.extend(contents::outcomes(client, &packages, &markers, &plan.commit).await?);
    }
    for id in DEEP {
        if let Some(prefix) = skipped(id).filter(|_| input.deep && id.selected_by(&input.only)) {
            report.push(Outcome::skip(
                id,
                format!(
                    "by {} with --skip-checks {prefix}",
                    crate::checks::manual::operator()
                ),
                "release without --skip-checks, or run `cargo xtask verify VERSION --deep`",
            ));
        }
    }

    let delivery = if input.delivery {
        let d = delivery::build(ws, &plan.version, &packages);
        if wants(CheckId::DeliveryDigestReferences) || wants(CheckId::DeliveryNoEnterpriseRepo) {
            report.extend(
                delivery::outcomes(ws, &d, &packages)
                    .into_iter()
                    .filter(|o| wants(o.id)),
            );
        }
        Some(d)
    } else {
        None
    };

    Ok(Verified {
        version: plan.version.clone(),
        plan,
        packages,
        delivery,
        report,
        visibility_flips,
    })
}

/// `verify-semver-tag` against a release record: the semver tag still holds the digest the
/// record says was released.
fn recorded_outcomes(
    rec: &RecordedRelease,
    packages: &[PackageState],
    semver_tag: &str,
) -> Vec<Outcome> {
    let id = CheckId::VerifySemverTag;
    let mut out = Vec::new();
    for p in packages {
        let reference = format!("{}:{semver_tag}", p.repository);
        let Some(want) = rec.digests.get(&p.image.package) else {
            out.push(Outcome::fail(
                id,
                format!(
                    "{} is in scope, but {} records no digest for it",
                    p.image.package, rec.source
                ),
                vec![Evidence::note(format!("record: {}", rec.source))],
            ));
            continue;
        };
        match &p.semver {
            Some(r) if r.digest == *want => out.push(Outcome::pass(
                id,
                format!("{reference} still holds the digest {} records", rec.source),
                vec![Evidence::digest(reference.clone(), r.digest.clone())],
            )),
            Some(r) => out.push(Outcome::fail(
                id,
                format!(
                    "{reference} now holds {}, but {} records {want}: the tag was moved after the release",
                    r.digest, rec.source
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

/// Per package: `Some(Some(digest))` known before, `Some(None)` known to have had no `latest`.
pub type LatestBefore = BTreeMap<String, Option<String>>;

/// Where "before" came from, per package, for evidence.
#[derive(Debug, Clone, Default)]
pub struct Before {
    pub digests: LatestBefore,
    pub source: BTreeMap<String, String>,
}

/// `latest` before this release: `--latest-before`, else this release's notes
/// (`latest-before`), else the previous release's notes (`latest-after`).
pub fn latest_before(
    ws: &Workspace,
    version: &semver::Version,
    flag: Option<&str>,
) -> anyhow::Result<Before> {
    let packages: Vec<String> = ws
        .config
        .all_images()
        .into_iter()
        .map(|i| i.package)
        .collect();
    let mut before = Before::default();
    if let Some(flag) = flag {
        for part in flag.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (pkgs, digest) = match part.split_once('=') {
                Some((p, d)) => (vec![p.trim().to_string()], d.trim()),
                None => (packages.clone(), part),
            };
            let digest = parse_digest_or_none(digest).ok_or_else(|| {
                usage(format!(
                    "--latest-before `{}`: expected `sha256:<64 hex>`, `none`, or `PACKAGE=sha256:...` (comma separated)",
                    policy::printable(part)
                ))
            })?;
            for p in pkgs {
                before.source.insert(p.clone(), "--latest-before".into());
                before.digests.insert(p, digest.clone());
            }
        }
        return Ok(before);
    }
    let dir = ws.config.notes_dir();
    let current = dir.join(format!("{version}.md"));
    if let Ok(text) = std::fs::read_to_string(&current) {
        for (p, d) in notes_markers(&text, "latest-before") {
            before.source.insert(p.clone(), rel(ws, &current));
            before.digests.insert(p, d);
        }
    }
    if let Some(prev) = previous_notes(&dir, version) {
        let text = std::fs::read_to_string(&prev)
            .with_context(|| format!("reading {}", prev.display()))?;
        for (p, d) in notes_markers(&text, "latest-after") {
            if !before.digests.contains_key(&p) {
                before.source.insert(p.clone(), rel(ws, &prev));
                before.digests.insert(p, d);
            }
        }
    }
    Ok(before)
}

fn rel(ws: &Workspace, p: &Path) -> String {
    p.strip_prefix(&ws.root).unwrap_or(p).display().to_string()
}

fn parse_digest_or_none(s: &str) -> Option<Option<String>> {
    if s == "none" {
        return Some(None);
    }
    let hex = s.strip_prefix("sha256:")?;
    (hex.len() == 64
        && hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()))
    .then(|| Some(s.to_string()))
}

/// `<!-- aisopsflow:KIND PACKAGE DIGEST|none -->` markers in notes text.
pub fn notes_markers(text: &str, kind: &str) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    let needle = format!("<!-- aisopsflow:{kind} ");
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix(&needle) else {
            continue;
        };
        let Some(rest) = rest.trim().strip_suffix("-->") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        if let (Some(pkg), Some(d)) = (words.next(), words.next())
            && let Some(d) = parse_digest_or_none(d)
        {
            out.insert(pkg.to_string(), d);
        }
    }
    out
}

/// The notes of the highest released version below `version` (drafts excluded).
fn previous_notes(dir: &Path, version: &semver::Version) -> Option<PathBuf> {
    let mut best: Option<(semver::Version, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(".md") else {
            continue;
        };
        if stem.ends_with(".draft") {
            continue;
        }
        let Ok(v) = semver::Version::parse(stem) else {
            continue;
        };
        if &v < version && best.as_ref().is_none_or(|(b, _)| &v > b) {
            best = Some((v, entry.path()));
        }
    }
    best.map(|(_, p)| p)
}

fn latest_outcome(p: &PackageState, plan: &TagPlan, latest_tag: &str, before: &Before) -> Outcome {
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

/// Why the Packages API half of `verify-visibility` is missing.
#[derive(Debug, Clone)]
pub enum ApiMissing {
    /// No token was given: the half is skipped, as documented.
    NoToken(String),
    /// A token was given but the API could not be read (unreachable, no `read:packages`).
    Failed(String),
}

/// Package visibility as the Packages API reports it (`GET /orgs/{org}/packages?package_type=container`),
/// or why it could not be read (no token, no `read:packages`, GitHub unreachable). The API
/// half is a cross-check; the anonymous pull stays the proof, so a missing API is reported,
/// not fatal.
pub async fn packages_api_visibility(
    config: &crate::config::Config,
) -> Result<BTreeMap<String, Visibility>, ApiMissing> {
    let gh = crate::effects::github::Github::from_config(config)
        .await
        .map_err(|e| ApiMissing::Failed(format!("{e:#}")))?;
    if !gh.has_token() {
        return Err(ApiMissing::NoToken(
            "no GitHub token: run `gh auth login` (scope read:packages) or set GITHUB_TOKEN".into(),
        ));
    }
    let packages = gh
        .org_packages(config.org(), "container")
        .await
        .map_err(|e| {
            ApiMissing::Failed(format!(
                "reading the org's packages failed: {}",
                crate::secrets::redact_all(&format!("{e:#}"))
            ))
        })?;
    Ok(packages
        .into_iter()
        .map(|p| {
            // `internal` (Enterprise orgs) is not anonymous-readable: treat it as private.
            let vis = if p.visibility == "public" {
                Visibility::Public
            } else {
                Visibility::Private
            };
            (p.name, vis)
        })
        .collect())
}

/// Package visibility from an anonymous pull attempt (the proof) and, when available, the
/// Packages API (`api`: package → visibility). `api_missing` says why the API half is absent.
pub fn visibility_outcomes(
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

/// The report in `format`: the shared renderers of `crate::report`, with the release facts and
/// the delivery references added (JSON additions keep the schema version).
pub fn render(v: &Verified, format: flags::Format, help_base: &str) -> String {
    let gate = crate::report::Gate::default();
    let command = format!("verify {}", v.version);
    match format {
        flags::Format::Json => {
            let mut value = crate::report::json(&v.report, gate, &command);
            if let Some(obj) = value.as_object_mut() {
                obj.insert(
                    "release".into(),
                    serde_json::json!({
                        "version": v.version,
                        "git_tag": v.plan.git_tag,
                        "commit": v.plan.commit,
                        "moves_latest": v.plan.moves_latest,
                        "latest_reason": v.plan.latest_reason,
                    }),
                );
                obj.insert(
                    "delivery".into(),
                    serde_json::to_value(&v.delivery).unwrap_or_default(),
                );
            }
            serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
        }
        flags::Format::Sarif | flags::Format::Github => {
            crate::report::render(&v.report, format, gate, &command, help_base)
        }
        flags::Format::Human => {
            let mut out = String::new();
            if let Some(d) = &v.delivery {
                out.push_str(&d.text);
                out.push('\n');
            }
            out.push_str(&format!(
                "verify {} (git tag {}, commit {}; {})\n",
                v.version, v.plan.git_tag, v.plan.commit, v.plan.latest_reason
            ));
            out.push_str(&crate::report::human(
                &v.report,
                gate,
                crate::report::use_color(),
            ));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_markers_parse_digests_and_none() {
        let d = format!("sha256:{}", "0".repeat(64));
        let text = format!(
            "# notes\n<!-- aisopsflow:latest-after aisopsflow-core {d} -->\n  <!-- aisopsflow:latest-after aisopsflow-runner none -->\n<!-- aisopsflow:latest-before aisopsflow-core sha256:bad -->\nlatest after: {d}\n"
        );
        let m = notes_markers(&text, "latest-after");
        assert_eq!(m.len(), 2);
        assert_eq!(m["aisopsflow-core"].as_deref(), Some(d.as_str()));
        assert_eq!(m["aisopsflow-runner"], None);
        assert!(
            notes_markers(&text, "latest-before").is_empty(),
            "a malformed digest is ignored"
        );
    }

    #[test]
    fn digest_or_none() {
        assert_eq!(parse_digest_or_none("none"), Some(None));
        assert!(parse_digest_or_none(&format!("sha256:{}", "A".repeat(64))).is_none());
        assert!(parse_digest_or_none("sha256:abc").is_none());
    }
}
