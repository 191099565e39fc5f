//! `cargo xtask verify VERSION`: the post-release checks (`verify-*`) and, with `--delivery`,
//! the customer-delivery output and its checks (`delivery-*`).
//!
//! Everything is read from the registry through `effects::registry` (one token per
//! repository, one HEAD per tag, requests for different tags in flight together) and from the
//! workspace (the git tag that exists for the version, release notes, deployment manifests).
//! The expected tags come from `tags::plan_tags`, the same function the publish step uses,
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
pub(crate) mod from_record;
pub mod manifests;
pub mod runs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::checks::verify::{self as judge, MetadataRead, ResolveFailures, TagList};
use crate::checks::{CheckId, Outcome, Report, Status};
use crate::config::{ImageSpec, Visibility};
use crate::effects::registry::{RegistryClient, Resolved};
use crate::exit::{Kind, kind_of, usage};
use crate::flags;
use crate::tags::{self, Event, TagKind, TagPlan};
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

pub use crate::checks::verify::{ApiMissing, Before, LatestBefore, PackageState};

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
    pub(crate) fn fails_only_for_visibility_flips(&self) -> bool {
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
pub(crate) fn release_tag(
    ws: &Workspace,
    version: &semver::Version,
) -> anyhow::Result<(String, String)> {
    let rules = &ws.config.raw.tags;
    let candidates = [
        tags::git_tag(rules, version, TagKind::ReleaseLatest),
        tags::git_tag(rules, version, TagKind::Release),
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
    let version = tags::parse_version(&input.version)?;
    let components = config.scope(&input.components)?;
    let images = config.images_for(&components);
    let (tag, sha) = match &input.recorded {
        Some(r) => (r.tag.clone(), r.commit.clone()),
        None => release_tag(ws, &version)?,
    };
    let mut plan = tags::plan_tags(
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
    let mut resolve_failures = ResolveFailures::new();
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
    if wants(CheckId::VerifyPackagesExist) {
        for p in &packages {
            // Only a package none of whose release tags resolved needs its tag list.
            let listed = match judge::found_release_tag(p) {
                Some(_) => None,
                None => Some(match client.list_tags(&repo_of(&p.image)).await? {
                    None => {
                        TagList::Absent(client.absence(&repo_of(&p.image)).unwrap_or_else(|| {
                            format!(
                                "GET /v2/{}/tags/list -> 404 NAME_UNKNOWN",
                                repo_of(&p.image)
                            )
                        }))
                    }
                    Some(tags) => TagList::Tags(tags),
                }),
            };
            report.push(judge::package_exists(p, &plan.version, listed.as_ref()));
        }
    }

    if wants(CheckId::VerifySemverTag) {
        for p in &packages {
            report.push(judge::semver_tag(p, &org, &semver_tag, &resolve_failures));
        }
    }

    if let Some(rec) = input
        .recorded
        .as_ref()
        .filter(|_| wants(CheckId::VerifySemverTag))
    {
        report.extend(judge::recorded_digests(
            &rec.digests,
            &rec.source,
            &packages,
            &semver_tag,
        ));
    }

    if wants(CheckId::VerifyShaTag) {
        report.extend(judge::sha_tags(
            &packages,
            &org,
            sha_tag.as_deref(),
            &semver_tag,
            &plan.commit,
            &resolve_failures,
        ));
    }

    if wants(CheckId::VerifyLatestPolicy) {
        let before = latest_before(ws, &version, input.latest_before.as_deref())?;
        for p in &packages {
            report.push(judge::latest_policy(p, &plan, &latest_tag, &before));
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
        visibility_flips = judge::visibility_flips(&empirical);
        report.extend(judge::visibility(&api, &empirical));
    }

    if wants(CheckId::VerifyPublicMetadataClean) {
        let mut markers = config.enterprise_markers();
        markers.extend(config.commercial_only_defaults());
        for p in packages
            .iter()
            .filter(|p| p.image.visibility == Visibility::Public)
        {
            let fetched = match &p.semver {
                None => None,
                Some(r) => match client.image_metadata(&repo_of(&p.image), &r.digest).await {
                    Ok(m) => Some(Ok(m)),
                    Err(e) if kind_of(&e) == Some(Kind::Policy) => Some(Err(format!("{e:#}"))),
                    Err(e) => return Err(e),
                },
            };
            let read = match &fetched {
                None => MetadataRead::TagMissing,
                Some(Ok(meta)) => MetadataRead::Documents(&meta.documents),
                Some(Err(why)) => MetadataRead::Untrusted(why),
            };
            report.push(judge::public_metadata(
                p,
                &org,
                &semver_tag,
                &resolve_failures,
                read,
                &markers,
            ));
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

/// What `--latest-before` takes, `PKG=sha256:...|none,...`, from each package's digest of
/// `latest` before the release (`None`: there was no `latest`).
pub(crate) fn latest_before_arg<'a>(
    packages: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> String {
    packages
        .into_iter()
        .map(|(package, before)| format!("{package}={}", before.unwrap_or("none")))
        .collect::<Vec<_>>()
        .join(",")
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
                    tags::printable(part)
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

/// Package visibility as the Packages API reports it (`GET /orgs/{org}/packages?package_type=container`),
/// or why it could not be read (no token, no `read:packages`, GitHub unreachable). The API
/// half is a cross-check; the anonymous pull stays the proof, so a missing API is reported,
/// not fatal.
pub(crate) async fn packages_api_visibility(
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
