//! `cargo xtask publish`: what the publish workflow runs. It maps the triggering ref to image
//! tags with the tag policy, builds every image in scope through the Docker Engine API, pushes
//! them, and prints a machine-readable record (JSON on stdout, and into `$GITHUB_OUTPUT` and
//! `$GITHUB_STEP_SUMMARY` when they are set).
//!
//! Safety rules, in order: the checkout must be the commit the event names; a version tag that
//! already exists at another commit is never overwritten; and `latest` is pushed only after
//! every package's version tags are in place, so a failed publish never moves `latest`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::config::Config;
use crate::exit::usage;
use crate::policy::{self, TagPlan};

/// The inputs of a publish, from flags or the environment GitHub Actions gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub git_ref: String,
    pub sha: String,
    pub event: policy::Event,
    pub publish_latest: Option<String>,
}

/// Resolves the trigger: a flag wins over its environment variable; a missing value is a usage
/// error that names both.
pub fn trigger_from(
    flag_ref: Option<String>,
    flag_sha: Option<String>,
    flag_event: Option<String>,
    flag_latest: Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Trigger> {
    let need = |flag: Option<String>, var: &str, name: &str| {
        flag.or_else(|| env(var).filter(|v| !v.is_empty()))
            .ok_or_else(|| {
                usage(format!(
                    "no {name}: pass --{} or set {var} (the publish workflow sets it)",
                    name.replace(' ', "-")
                ))
            })
    };
    let git_ref = need(flag_ref, "GITHUB_REF", "ref")?;
    let sha = need(flag_sha, "GITHUB_SHA", "sha")?;
    let event = policy::parse_event(&need(flag_event, "GITHUB_EVENT_NAME", "event")?)?;
    let publish_latest = flag_latest.or_else(|| env("PUBLISH_LATEST"));
    Ok(Trigger {
        git_ref,
        sha,
        event,
        publish_latest,
    })
}

/// The components a tag releases, from the `components:` line `cargo xtask release` writes in
/// the annotated tag's message. Without one, only the always-released components.
pub fn components_from_tag_message(message: &str) -> Vec<String> {
    message
        .lines()
        .find_map(|l| l.trim().strip_prefix("components:"))
        .map(|list| {
            list.split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// One package's published state.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PublishedPackage {
    pub package: String,
    pub repository: String,
    pub tags: Vec<String>,
    pub digest: String,
    /// `built` when this run built and pushed it; `existing` when the version tags were already
    /// published from this commit and only missing tags (e.g. `latest`) were added.
    pub source: String,
}

/// The record a publish prints.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub schema_version: u32,
    pub git_ref: String,
    pub commit: String,
    pub event: policy::Event,
    pub version: String,
    pub moves_latest: bool,
    pub latest_reason: String,
    pub packages: Vec<PublishedPackage>,
}

impl Record {
    pub fn new(plan: &TagPlan, git_ref: &str, packages: Vec<PublishedPackage>) -> Record {
        Record {
            schema_version: 1,
            git_ref: git_ref.to_string(),
            commit: plan.commit.clone(),
            event: plan.event,
            version: plan.version.clone(),
            moves_latest: plan.moves_latest,
            latest_reason: plan.latest_reason.clone(),
            packages,
        }
    }

    /// The Markdown table for `$GITHUB_STEP_SUMMARY`.
    pub fn summary_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "### Published {} ({})", self.version, self.commit);
        let _ = writeln!(s);
        let _ = writeln!(s, "{}", self.latest_reason);
        let _ = writeln!(s);
        let _ = writeln!(s, "| package | tags | digest |");
        let _ = writeln!(s, "| --- | --- | --- |");
        for p in &self.packages {
            let _ = writeln!(
                s,
                "| {} | {} | `{}` |",
                p.repository,
                p.tags.join(", "),
                p.digest
            );
        }
        s
    }

    /// Appends `record=<json>` and one `digest-<package>=<digest>` line per package to the
    /// `$GITHUB_OUTPUT` file, so later jobs can use them.
    pub fn append_github_output(&self, path: &Path) -> anyhow::Result<()> {
        let mut s = String::new();
        let _ = writeln!(s, "record={}", serde_json::to_string(self)?);
        for p in &self.packages {
            let _ = writeln!(s, "digest-{}={}", p.package, p.digest);
        }
        append(path, &s)
    }

    pub fn append_step_summary(&self, path: &Path) -> anyhow::Result<()> {
        append(path, &self.summary_markdown())
    }
}

fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// What publishing a package must do, given what the registry already holds for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageAction {
    /// Nothing of this version is published: build and push every tag.
    Build,
    /// The version tags exist at `digest` and name this commit: add only the missing tags.
    Retag {
        digest: String,
        missing: Vec<String>,
    },
}

/// Decides per package from the digests its version tags have now (`None`: tag absent).
/// A version published from another commit is refused: releases are immutable.
pub fn decide(
    plan: &TagPlan,
    package: &str,
    existing: &BTreeMap<String, Option<String>>,
) -> anyhow::Result<PackageAction> {
    let present: Vec<(&String, &String)> = plan
        .version_tags
        .iter()
        .filter_map(|t| existing.get(t).and_then(|d| d.as_ref()).map(|d| (t, d)))
        .collect();
    if present.is_empty() {
        return Ok(PackageAction::Build);
    }
    let sha_tag = plan
        .version_tags
        .iter()
        .find(|t| t.contains(&plan.commit[..7]));
    let digests: std::collections::BTreeSet<&String> = present.iter().map(|(_, d)| *d).collect();
    if digests.len() > 1 || sha_tag.is_some_and(|s| !existing.get(s).is_some_and(|d| d.is_some())) {
        return Err(usage(format!(
            "{package}: version {} is already published ({}) but not from commit {}; releases are immutable: publish a new version",
            plan.version,
            present
                .iter()
                .map(|(t, d)| format!("{t} -> {d}"))
                .collect::<Vec<_>>()
                .join(", "),
            plan.commit
        )));
    }
    // Either everything is there (a promote or a rerun), or an interrupted publish pushed the
    // sha tag (always pushed first) but not the rest: the same digest under the missing tags
    // completes it either way.
    let digest = (*digests.iter().next().expect("non-empty")).clone();
    let missing = plan
        .tags
        .iter()
        .filter(|t| existing.get(*t).and_then(|d| d.as_ref()) != Some(&digest))
        .cloned()
        .collect();
    Ok(PackageAction::Retag { digest, missing })
}

/// The components a publish covers: `--components`, else the tag message's list, resolved
/// against release.toml.
pub fn scope(config: &Config, flag: &[String], tag_message: &str) -> anyhow::Result<Vec<String>> {
    if !flag.is_empty() {
        return config.scope(flag);
    }
    config.scope(&components_from_tag_message(tag_message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TagRules;

    fn rules() -> TagRules {
        TagRules {
            release: "v{semver}".into(),
            release_latest: "release-v{semver}".into(),
            image_tags: vec!["{semver}".into(), "sha-{sha7}".into()],
            latest: "latest".into(),
            dispatch_input: "publish_latest".into(),
            prerelease_moves_latest: false,
        }
    }
    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn trigger_prefers_flags_and_names_missing_inputs() {
        let env = |k: &str| match k {
            "GITHUB_REF" => Some("refs/tags/v1.2.3".to_string()),
            "GITHUB_SHA" => Some(SHA.to_string()),
            "GITHUB_EVENT_NAME" => Some("push".to_string()),
            _ => None,
        };
        let t = trigger_from(None, None, None, None, &env).unwrap();
        assert_eq!(t.git_ref, "refs/tags/v1.2.3");
        let t = trigger_from(
            Some("refs/tags/release-v1.2.3".into()),
            None,
            Some("workflow_dispatch".into()),
            Some("true".into()),
            &env,
        )
        .unwrap();
        assert_eq!(
            (t.git_ref.as_str(), t.event, t.publish_latest.as_deref()),
            (
                "refs/tags/release-v1.2.3",
                policy::Event::WorkflowDispatch,
                Some("true")
            )
        );
        let err = trigger_from(None, None, None, None, &|_| None).unwrap_err();
        assert_eq!(
            format!("{err}"),
            "no ref: pass --ref or set GITHUB_REF (the publish workflow sets it)"
        );
        let err = trigger_from(None, None, Some("pull_request".into()), None, &env).unwrap_err();
        assert!(format!("{err}").contains("only `push`"));
    }

    #[test]
    fn tag_message_names_components() {
        assert_eq!(
            components_from_tag_message("release 1.2.3\n\ncomponents: core, runner,console\n"),
            ["core", "runner", "console"]
        );
        assert!(components_from_tag_message("release 1.2.3").is_empty());
    }

    #[test]
    fn decisions() {
        let plan = policy::plan_tags(
            &rules(),
            policy::Event::WorkflowDispatch,
            "refs/tags/v1.2.3",
            SHA,
            Some("true"),
        )
        .unwrap();
        let d = |pairs: &[(&str, Option<&str>)]| {
            pairs
                .iter()
                .map(|(t, d)| (t.to_string(), d.map(String::from)))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            decide(&plan, "p", &d(&[("1.2.3", None), ("sha-0123456", None)])).unwrap(),
            PackageAction::Build
        );
        // A promote: version tags exist from this commit; only `latest` is added.
        assert_eq!(
            decide(
                &plan,
                "p",
                &d(&[
                    ("1.2.3", Some("sha256:a")),
                    ("sha-0123456", Some("sha256:a")),
                    ("latest", Some("sha256:old"))
                ])
            )
            .unwrap(),
            PackageAction::Retag {
                digest: "sha256:a".into(),
                missing: vec!["latest".into()]
            }
        );
        // An interrupted publish: the sha tag made it, the semver tag did not.
        assert_eq!(
            decide(
                &plan,
                "p",
                &d(&[("1.2.3", None), ("sha-0123456", Some("sha256:a"))])
            )
            .unwrap(),
            PackageAction::Retag {
                digest: "sha256:a".into(),
                missing: vec!["1.2.3".into(), "latest".into()]
            }
        );
        // The version exists from another commit: refused.
        let err = decide(
            &plan,
            "p",
            &d(&[("1.2.3", Some("sha256:b")), ("sha-0123456", None)]),
        )
        .unwrap_err();
        assert!(format!("{err}").contains("releases are immutable"), "{err}");
        let err = decide(
            &plan,
            "p",
            &d(&[
                ("1.2.3", Some("sha256:b")),
                ("sha-0123456", Some("sha256:a")),
            ]),
        )
        .unwrap_err();
        assert!(format!("{err}").contains("releases are immutable"), "{err}");
    }
}

impl crate::flags::Publish {
    pub async fn run(self, g: &crate::workspace::Global) -> anyhow::Result<u8> {
        let _ws = g.workspace()?;
        Err(usage(
            "publish is being integrated with the image builder; not available in this build",
        ))
    }
}
