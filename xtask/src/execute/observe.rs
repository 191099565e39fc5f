//! Observing the world for planning: git state and the remote's refs, the digest `latest`
//! has now, what the registry holds under this release's tags, the notes and the resume
//! record, read through the adapters into a `plan::World`. Nothing here writes.

use std::collections::BTreeMap;

use anyhow::Context;

use super::resume::{ResumeRecord, read_state};
use crate::config::Config;
use crate::effects::git;
use crate::effects::github::Github;
use crate::effects::registry::{Credentials, RegistryClient};
use crate::exit::{Kind, kind_of, usage};
use crate::notes::{self};
use crate::plan::{self, Request, World};
use crate::tags::{self, TagKind};
use crate::workspace::Workspace;

/// What `observe` saw, besides the planning `World`.
#[derive(Debug, Clone)]
pub struct Observation {
    pub world: World,
    pub resume: Option<ResumeRecord>,
    /// One line for people about where `latest` was read.
    pub latest_note: String,
}

/// A registry client for the configured host with discovered credentials; no credentials is a
/// usage error naming GITHUB_TOKEN (a release reads private packages).
pub(crate) fn registry_client(config: &Config) -> anyhow::Result<RegistryClient> {
    let host = config.registry_host();
    let creds = Credentials::discover(&host)?;
    if matches!(creds, Credentials::Anonymous) {
        return Err(usage(format!(
            "no registry credentials for {host}: set GITHUB_TOKEN (or GH_TOKEN) to a token with read:packages, or `docker login {host}`"
        )));
    }
    RegistryClient::new(&host, creds)
}

/// A GitHub client for the configured API; no token is a usage error naming GITHUB_TOKEN.
pub(crate) async fn github_client(config: &Config) -> anyhow::Result<Github> {
    let gh = Github::from_config(config).await?;
    if !gh.has_token() {
        return Err(usage(
            "no GitHub token: set GITHUB_TOKEN (or GH_TOKEN), or run `gh auth login`; the release needs Actions read and Contents write on the repository",
        ));
    }
    Ok(gh)
}

/// The digests `latest` has now for `packages`, read concurrently. An unreachable registry is
/// `Some(why)` in the second slot, not an error: planning decides (it refuses to tag while
/// `latest` is unknown, and a release already pushed or finished still plans).
pub(crate) async fn read_latest(
    config: &Config,
    registry: &RegistryClient,
    packages: &[String],
) -> anyhow::Result<(BTreeMap<String, Option<String>>, Option<String>)> {
    let refs: Vec<(String, String)> = packages
        .iter()
        .map(|p| {
            (
                format!("{}/{p}", config.org()),
                config.raw.tags.latest.clone(),
            )
        })
        .collect();
    let mut out = BTreeMap::new();
    for (p, r) in packages.iter().zip(registry.resolve_all(&refs).await) {
        match r {
            Ok(r) => {
                out.insert(p.clone(), r.map(|r| r.digest));
            }
            Err(e) if kind_of(&e) == Some(Kind::External) => {
                return Ok((BTreeMap::new(), Some(format!("{e:#}"))));
            }
            Err(e) => return Err(e.context(format!("reading {p}:latest"))),
        }
    }
    Ok((out, None))
}

fn notes_rel(config: &Config) -> String {
    config.raw.notes.dir.trim_end_matches('/').to_string()
}

/// `git status --porcelain` lines outside the notes directory (the release's own output).
fn dirty_outside_notes(config: &Config, lines: Vec<String>) -> Vec<String> {
    let prefix = format!("{}/", notes_rel(config));
    lines
        .into_iter()
        .filter(|l| {
            let path = l.get(3..).unwrap_or("");
            let path = path.trim_matches('"');
            // A rename shows `old -> new`; both sides must be inside the notes directory.
            !path
                .split(" -> ")
                .all(|p| p.trim_matches('"').starts_with(&prefix))
        })
        .collect()
}

/// A checkout without the configured remote is a configuration problem (exit 2), not an
/// unreachable system.
pub(crate) fn require_remote(root: &std::path::Path, remote: &str) -> anyhow::Result<()> {
    if git::is_repo(root)? && !git::has_remote(root, remote) {
        return Err(usage(format!(
            "this checkout has no remote `{remote}` (release.toml repository.remote); add it with `git remote add {remote} <url of the enterprise repository>`, or set repository.remote to the remote you use (`git remote -v` lists them)"
        )));
    }
    Ok(())
}

/// One line for people about where `latest` was read.
fn latest_note(
    config: &Config,
    registry: &RegistryClient,
    latest_now: &BTreeMap<String, Option<String>>,
    unreachable: Option<&str>,
) -> String {
    let rules = &config.raw.tags;
    match unreachable {
        None => {
            let with = latest_now.values().filter(|d| d.is_some()).count();
            format!(
                "`{}` read from {} ({}): {with} of {} packages have one",
                rules.latest,
                registry.host(),
                registry.credentials_source(),
                latest_now.len()
            )
        }
        Some(why) => format!(
            "could not read `{}` from {}: {why}; `latest now` below is unknown, not absent",
            rules.latest,
            registry.host()
        ),
    }
}

/// Reads the world through the adapters: git state and the remote's refs, `latest` now, the
/// notes and the resume record.
pub async fn observe(
    ws: &Workspace,
    req: &Request,
    registry: &RegistryClient,
) -> anyhow::Result<Observation> {
    let config = &ws.config;
    let root = &ws.root;
    let rules = &config.raw.tags;
    let remote = &config.raw.repository.remote;
    let branch_name = &config.raw.repository.default_branch;
    let tag = tags::git_tag(rules, &req.version, TagKind::for_latest(req.latest));
    let candidates = tags::release_tags(rules, &req.version);

    require_remote(root, remote)?;
    let head = git::head(root).context("reading HEAD")?;
    let branch = git::branch(root)?;
    let dirty = dirty_outside_notes(config, git::status(root)?);
    let mut patterns = vec![format!("refs/heads/{branch_name}")];
    patterns.extend(candidates.iter().map(|t| format!("refs/tags/{t}")));
    let refs = git::ls_remote(root, remote, &patterns)
        .with_context(|| format!("reading the refs of `{remote}`"))?;
    let remote_default = refs.get(&format!("refs/heads/{branch_name}")).cloned();
    let mut remote_tags = BTreeMap::new();
    let mut local_tags = BTreeMap::new();
    for t in &candidates {
        if let Some(sha) = refs.get(&format!("refs/tags/{t}")) {
            remote_tags.insert(t.clone(), sha.clone());
        }
        if let Some(sha) = git::try_rev_parse(root, &format!("refs/tags/{t}"))? {
            local_tags.insert(t.clone(), sha);
        }
    }

    let components = config.scope(&req.components)?;
    let packages: Vec<String> = config
        .images_for(&components)
        .into_iter()
        .map(|i| i.package)
        .collect();
    let (latest_now, unreachable) = read_latest(config, registry, &packages).await?;
    let latest_note = latest_note(config, registry, &latest_now, unreachable.as_deref());

    let notes_path = notes::internal_path(config, &req.version.to_string());
    let notes_exist = std::fs::read_to_string(&notes_path)
        .map(|text| {
            let r = notes::parse_recorded(&text);
            r.tag.as_deref() == Some(tag.as_str()) && r.commit.as_deref() == Some(head.as_str())
        })
        .unwrap_or(false);
    let resume =
        read_state(config, &req.version.to_string()).filter(|r| r.tag == tag && r.commit == head);
    let recorded_latest_before = resume
        .as_ref()
        .map(|r| r.latest_before.clone())
        .unwrap_or_default();

    let tag_messages = tag_at_head(root, remote, &tag, &head, &remote_tags, &mut local_tags)?;

    let (published, latest_versions) = if unreachable.is_none() {
        read_published(config, registry, &tag, &head, &packages, &latest_now).await?
    } else {
        (BTreeMap::new(), BTreeMap::new())
    };

    Ok(Observation {
        world: World {
            head,
            branch,
            dirty,
            remote_default,
            local_tags,
            remote_tags,
            latest_now,
            latest_unknown: unreachable,
            notes_exist,
            recorded_latest_before,
            tag_messages,
            resume_record: resume.is_some(),
            published,
            latest_versions,
        },
        resume,
        latest_note,
    })
}

/// The message of this release's tag where it is at HEAD; a pushed tag absent here is
/// fetched first.
fn tag_at_head(
    root: &std::path::Path,
    remote: &str,
    tag: &str,
    head: &str,
    remote_tags: &BTreeMap<String, String>,
    local_tags: &mut BTreeMap<String, String>,
) -> anyhow::Result<BTreeMap<String, Option<String>>> {
    let mut tag_messages = BTreeMap::new();
    // The tag at HEAD, if any: planning judges whether it is this release's own. A pushed tag
    // absent here is fetched, so what is judged is what the publish run reads.
    let local_at_head = local_tags.get(tag).is_some_and(|c| c == head);
    if local_at_head || remote_tags.get(tag).is_some_and(|c| c == head) {
        if !local_at_head {
            git::fetch_tag(root, remote, tag)?;
            local_tags.insert(tag.to_string(), head.to_string());
        }
        tag_messages.insert(tag.to_string(), git::tag_message(root, tag)?);
    }
    Ok(tag_messages)
}

/// What the publish run will ask the registry, asked now: the version tags of this release
/// (one commit gives one image; a version is never published from two commits), and which
/// version `latest` holds (it never moves backwards).
async fn read_published(
    config: &Config,
    registry: &RegistryClient,
    tag: &str,
    head: &str,
    packages: &[String],
    latest_now: &BTreeMap<String, Option<String>>,
) -> anyhow::Result<(
    BTreeMap<String, plan::Published>,
    BTreeMap<String, Option<semver::Version>>,
)> {
    let rules = &config.raw.tags;
    let mut published = BTreeMap::new();
    let mut latest_versions = BTreeMap::new();
    let tag_plan = tags::plan_tags(
        rules,
        crate::tags::Event::Push,
        &format!("refs/tags/{tag}"),
        head,
        None,
    )?;
    for p in packages {
        let (state, latest_version) = published_state(
            config,
            registry,
            p,
            &tag_plan,
            latest_now.get(p).cloned().flatten(),
        )
        .await?;
        published.insert(p.clone(), state);
        if latest_now.get(p).is_some_and(|d| d.is_some()) {
            latest_versions.insert(p.clone(), latest_version);
        }
    }
    Ok((published, latest_versions))
}

/// What `package` holds under the release's version tags, and which version `latest` (at
/// `latest`) holds: from the image's version label, else from the version tags that share
/// its digest.
async fn published_state(
    config: &Config,
    registry: &RegistryClient,
    package: &str,
    tag_plan: &crate::tags::TagPlan,
    latest: Option<String>,
) -> anyhow::Result<(plan::Published, Option<semver::Version>)> {
    let repo = format!("{}/{package}", config.org());
    let refs: Vec<(String, String)> = tag_plan
        .version_tags
        .iter()
        .map(|t| (repo.clone(), t.clone()))
        .collect();
    let mut state = plan::Published::default();
    for (t, r) in tag_plan
        .version_tags
        .iter()
        .zip(registry.resolve_all(&refs).await)
    {
        let r = r.with_context(|| format!("reading {repo}:{t} before tagging"))?;
        state.tags.insert(t.clone(), r.map(|r| r.digest));
    }
    let present = state.tags.values().flatten().next().cloned();
    if present.is_none() && latest.is_none() {
        return Ok((state, None));
    }
    // Version tags and their digests, read once for both questions.
    let mut versions: Vec<(semver::Version, String)> = Vec::new();
    if let Some(list) = registry.list_tags(&repo).await? {
        let semver_tags: Vec<(semver::Version, String)> = list
            .iter()
            .filter_map(|t| semver::Version::parse(t).ok().map(|v| (v, t.clone())))
            .collect();
        let refs: Vec<(String, String)> = semver_tags
            .iter()
            .map(|(_, t)| (repo.clone(), t.clone()))
            .collect();
        for ((v, _), r) in semver_tags
            .into_iter()
            .zip(registry.resolve_all(&refs).await)
        {
            if let Some(r) = r? {
                versions.push((v, r.digest));
            }
        }
    }
    let version_of = async |digest: &str| -> Option<semver::Version> {
        let label = registry
            .image_metadata(&repo, digest)
            .await
            .ok()
            .and_then(|m| m.labels.get(crate::publish::VERSION_LABEL).cloned())
            .and_then(|v| semver::Version::parse(&v).ok());
        label.or_else(|| {
            versions
                .iter()
                .filter(|(_, d)| d == digest)
                .map(|(v, _)| v.clone())
                .max()
        })
    };
    if let Some(d) = &present {
        let this = semver::Version::parse(&tag_plan.version).ok();
        let sharing: Vec<&semver::Version> = versions
            .iter()
            .filter(|(_, x)| x == d)
            .map(|(v, _)| v)
            .collect();
        state.holds_version = if this.as_ref().is_some_and(|t| sharing.contains(&t)) {
            Some(tag_plan.version.clone())
        } else {
            version_of(d).await.map(|v| v.to_string())
        };
    }
    let latest_version = match &latest {
        Some(d) => version_of(d).await,
        None => None,
    };
    Ok((state, latest_version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        crate::config::for_tests()
    }

    #[test]
    fn dirty_lines_in_the_notes_dir_are_ours() {
        let lines = vec![
            "?? docs/releases/.1.2.3.state.json".to_string(),
            " M docs/releases/1.2.2.md".to_string(),
            " M core/src/main.rs".to_string(),
            "R  docs/releases/a.md -> core/a.md".to_string(),
        ];
        assert_eq!(
            dirty_outside_notes(&config(), lines),
            vec![
                " M core/src/main.rs".to_string(),
                "R  docs/releases/a.md -> core/a.md".to_string()
            ]
        );
    }
}
