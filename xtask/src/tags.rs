//! The tag policy: release versions, git tags and the image tags they publish.
//!
//! One pure function, `plan_tags`, maps (event, git ref, dispatch inputs) to the image tags
//! every package gets, following `[tags]` in release.toml. Publish, verify and the release
//! notes all call it, so what is published and what is checked cannot drift apart.
//!
//! The rules: `v{semver}` publishes `{semver}` and `sha-{sha7}`; `release-v{semver}` publishes
//! the same and moves `latest`; a `workflow_dispatch` on a release tag moves `latest` only with
//! `publish_latest=true`; a prerelease never moves `latest`.

use std::fmt;

use serde::Serialize;

use crate::config::TagRules;
use crate::exit::usage;

/// A release version: strict semver, no build metadata (OCI tags cannot carry `+`).
pub fn parse_version(input: &str) -> anyhow::Result<semver::Version> {
    let shown = printable(input);
    if input.is_empty() {
        return Err(usage("empty version; pass a semver version such as 1.2.3"));
    }
    // The version is itself an image tag (`{semver}`), and OCI tags hold at most 128 characters.
    if input.chars().count() > 128 {
        let head: String = input.chars().take(24).collect();
        return Err(usage(format!(
            "version `{}...` is {} characters long; an image tag holds at most 128 characters, so pass a shorter version",
            printable(&head),
            input.chars().count()
        )));
    }
    if let Some(rest) = input.strip_prefix('v').or_else(|| input.strip_prefix('V'))
        && semver::Version::parse(rest).is_ok()
    {
        return Err(usage(format!(
            "version `{shown}` has a leading `v`; pass the bare version `{rest}` (the tag prefix comes from release.toml)"
        )));
    }
    if !input
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
    {
        return Err(usage(format!(
            "version `{shown}` contains characters outside [0-9A-Za-z.-]; pass a semver version such as 1.2.3"
        )));
    }
    let v = semver::Version::parse(input).map_err(|e| {
        usage(format!("version `{shown}` is not semver ({e}); pass MAJOR.MINOR.PATCH such as 1.2.3, without leading zeros"))
    })?;
    if !v.build.is_empty() {
        return Err(usage(format!(
            "version `{shown}` has build metadata `+{}`; image tags cannot carry `+`, so pass `{}`",
            v.build,
            semver::Version {
                build: semver::BuildMetadata::EMPTY,
                ..v.clone()
            }
        )));
    }
    Ok(v)
}

/// Shows untrusted input safely in messages: control and non-ASCII characters escaped.
pub(crate) fn printable(input: &str) -> String {
    input
        .chars()
        .flat_map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                vec![c]
            } else {
                c.escape_default().collect()
            }
        })
        .collect()
}

/// Which kind of release tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TagKind {
    /// `v{semver}`: never moves `latest`.
    Release,
    /// `release-v{semver}`: moves `latest` unless a prerelease.
    ReleaseLatest,
}

impl TagKind {
    /// The kind a release request asks for: `release-v*` with `--latest`, else `v*`.
    pub(crate) fn for_latest(latest: bool) -> TagKind {
        if latest {
            TagKind::ReleaseLatest
        } else {
            TagKind::Release
        }
    }

    /// The other kind: a version released under one must never be released under the other.
    pub fn other(self) -> TagKind {
        match self {
            TagKind::Release => TagKind::ReleaseLatest,
            TagKind::ReleaseLatest => TagKind::Release,
        }
    }
}

/// Both git tags a version can have, `release-v*` first: where a version's release is looked
/// for.
pub(crate) fn release_tags(rules: &TagRules, version: &semver::Version) -> [String; 2] {
    [
        git_tag(rules, version, TagKind::ReleaseLatest),
        git_tag(rules, version, TagKind::Release),
    ]
}

/// The git tag for a version.
pub fn git_tag(rules: &TagRules, version: &semver::Version, kind: TagKind) -> String {
    let pat = match kind {
        TagKind::Release => &rules.release,
        TagKind::ReleaseLatest => &rules.release_latest,
    };
    pat.replace("{semver}", &version.to_string())
}

/// Parses a git tag name (with or without `refs/tags/`) into its kind and version.
pub fn parse_git_tag(rules: &TagRules, tag: &str) -> anyhow::Result<(TagKind, semver::Version)> {
    let name = tag.strip_prefix("refs/tags/").unwrap_or(tag);
    // Try the longer pattern first: `release-v1.2.3` also ends like `v1.2.3`.
    let mut pats = [
        (TagKind::ReleaseLatest, &rules.release_latest),
        (TagKind::Release, &rules.release),
    ];
    pats.sort_by_key(|(_, p)| std::cmp::Reverse(p.len()));
    for (kind, pat) in pats {
        let (pre, post) = pat.split_once("{semver}").expect("validated by config");
        if let Some(v) = name.strip_prefix(pre).and_then(|r| r.strip_suffix(post))
            && !v.is_empty()
            && v.as_bytes()[0].is_ascii_digit()
        {
            return Ok((kind, parse_version(v)?));
        }
    }
    Err(usage(format!(
        "`{}` is not a release tag; release tags are `{}` or `{}`",
        printable(tag),
        rules.release,
        rules.release_latest
    )))
}

/// The event that triggered a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Push,
    WorkflowDispatch,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Event::Push => "push",
            Event::WorkflowDispatch => "workflow_dispatch",
        })
    }
}

pub(crate) fn parse_event(s: &str) -> anyhow::Result<Event> {
    match s {
        "push" => Ok(Event::Push),
        "workflow_dispatch" => Ok(Event::WorkflowDispatch),
        other => Err(usage(format!(
            "event `{}` cannot publish; only `push` (of a release tag) and `workflow_dispatch` can",
            printable(other)
        ))),
    }
}

/// The `publish_latest` dispatch input, given as a JSON boolean or a string.
pub(crate) fn parse_bool_input(name: &str, value: Option<&str>) -> anyhow::Result<bool> {
    match value.map(str::trim) {
        None | Some("") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(usage(format!(
            "input `{name}` is `{}`; it must be true or false",
            printable(v)
        ))),
    }
}

/// What one publish pushes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagPlan {
    pub event: Event,
    pub git_tag: String,
    pub kind: TagKind,
    pub version: String,
    pub prerelease: bool,
    /// The full 40-hex commit.
    pub commit: String,
    /// Image tags every package gets, `latest` included when it moves.
    pub tags: Vec<String>,
    /// The tags that name this release (`tags` without `latest`).
    pub version_tags: Vec<String>,
    pub moves_latest: bool,
    /// Why `latest` moves or stays, in words for the plan and the notes.
    pub latest_reason: String,
}

/// The policy. `publish_latest` is the raw dispatch input (ignored for pushes).
pub fn plan_tags(
    rules: &TagRules,
    event: Event,
    git_ref: &str,
    sha: &str,
    publish_latest: Option<&str>,
) -> anyhow::Result<TagPlan> {
    if !(sha.len() == 40
        && sha
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()))
    {
        return Err(usage(format!(
            "commit `{}` is not a full 40-hex lower-case SHA",
            printable(sha)
        )));
    }
    let Some(tag) = git_ref.strip_prefix("refs/tags/") else {
        return Err(usage(format!(
            "ref `{}` is not a tag; images are published only from release tags (refs/tags/{} or refs/tags/{})",
            printable(git_ref),
            rules.release,
            rules.release_latest
        )));
    };
    let (kind, version) = parse_git_tag(rules, tag)?;
    let prerelease = !version.pre.is_empty();
    let dispatch_latest = match event {
        Event::WorkflowDispatch => parse_bool_input(&rules.dispatch_input, publish_latest)?,
        Event::Push => false,
    };
    let wants_latest = match event {
        Event::Push => kind == TagKind::ReleaseLatest,
        Event::WorkflowDispatch => dispatch_latest,
    };
    let moves_latest = wants_latest && (!prerelease || rules.prerelease_moves_latest);
    let latest_reason = match (event, kind, wants_latest, moves_latest) {
        (_, _, true, false) => format!("`{}` stays: {version} is a prerelease", rules.latest),
        (Event::Push, TagKind::ReleaseLatest, _, true) => format!(
            "`{}` moves: pushed tag {tag} matches {}",
            rules.latest, rules.release_latest
        ),
        (Event::Push, _, _, _) => format!(
            "`{}` stays: tag {tag} matches {}, which never moves it",
            rules.latest, rules.release
        ),
        (Event::WorkflowDispatch, _, _, true) => format!(
            "`{}` moves: manual dispatch with {}=true",
            rules.latest, rules.dispatch_input
        ),
        (Event::WorkflowDispatch, _, _, false) => format!(
            "`{}` stays: manual dispatch without {}=true",
            rules.latest, rules.dispatch_input
        ),
    };
    let sha7 = &sha[..7];
    let version_tags: Vec<String> = rules
        .image_tags
        .iter()
        .map(|t| {
            t.replace("{semver}", &version.to_string())
                .replace("{sha7}", sha7)
        })
        .collect();
    // A pattern such as `v{semver}-{sha7}` can push a long prerelease past the OCI limit.
    if let Some(bad) = version_tags.iter().find(|t| !crate::config::is_oci_tag(t)) {
        return Err(usage(format!(
            "version {version} gives the image tag `{}`, which is not a valid OCI tag (at most 128 characters of [A-Za-z0-9_.-]); pass a shorter version",
            printable(bad)
        )));
    }
    let mut tags = version_tags.clone();
    if moves_latest {
        tags.push(rules.latest.clone());
    }
    Ok(TagPlan {
        event,
        git_tag: tag.to_string(),
        kind,
        version: version.to_string(),
        prerelease,
        commit: sha.to_string(),
        tags,
        version_tags,
        moves_latest,
        latest_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> TagRules {
        TagRules::checklist()
    }

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn a_versions_two_tags() {
        let v = semver::Version::parse("1.2.3").unwrap();
        assert_eq!(release_tags(&rules(), &v), ["release-v1.2.3", "v1.2.3"]);
        let latest = TagKind::for_latest(true);
        assert_eq!(git_tag(&rules(), &v, latest), "release-v1.2.3");
        assert_eq!(git_tag(&rules(), &v, latest.other()), "v1.2.3");
        assert_eq!(TagKind::for_latest(false).other(), latest);
    }

    /// Renders a plan or an error on one line, for golden comparison.
    fn check(event: Event, r: &str, input: Option<&str>, expect: &str) {
        let got = match plan_tags(&rules(), event, r, SHA, input) {
            Ok(p) => format!(
                "{} {} tags={} latest={}",
                p.git_tag,
                p.version,
                p.tags.join(","),
                p.moves_latest
            ),
            Err(e) => format!("error: {e:#}"),
        };
        assert_eq!(got, expect, "event={event} ref={r} input={input:?}");
    }

    #[test]
    fn golden() {
        use Event::*;
        check(
            Push,
            "refs/tags/v1.2.3",
            None,
            "v1.2.3 1.2.3 tags=1.2.3,sha-0123456 latest=false",
        );
        check(
            Push,
            "refs/tags/release-v1.2.3",
            None,
            "release-v1.2.3 1.2.3 tags=1.2.3,sha-0123456,latest latest=true",
        );
        check(
            Push,
            "refs/tags/v1.3.0-rc.1",
            None,
            "v1.3.0-rc.1 1.3.0-rc.1 tags=1.3.0-rc.1,sha-0123456 latest=false",
        );
        check(
            Push,
            "refs/tags/release-v1.3.0-rc.1",
            None,
            "release-v1.3.0-rc.1 1.3.0-rc.1 tags=1.3.0-rc.1,sha-0123456 latest=false",
        );
        check(
            WorkflowDispatch,
            "refs/tags/v1.2.3",
            Some("true"),
            "v1.2.3 1.2.3 tags=1.2.3,sha-0123456,latest latest=true",
        );
        check(
            WorkflowDispatch,
            "refs/tags/v1.2.3",
            Some("TRUE"),
            "v1.2.3 1.2.3 tags=1.2.3,sha-0123456,latest latest=true",
        );
        check(
            WorkflowDispatch,
            "refs/tags/v1.2.3",
            Some("false"),
            "v1.2.3 1.2.3 tags=1.2.3,sha-0123456 latest=false",
        );
        check(
            WorkflowDispatch,
            "refs/tags/v1.2.3",
            None,
            "v1.2.3 1.2.3 tags=1.2.3,sha-0123456 latest=false",
        );
        check(
            WorkflowDispatch,
            "refs/tags/release-v1.2.3",
            Some("false"),
            "release-v1.2.3 1.2.3 tags=1.2.3,sha-0123456 latest=false",
        );
        check(
            WorkflowDispatch,
            "refs/tags/v1.3.0-rc.1",
            Some("true"),
            "v1.3.0-rc.1 1.3.0-rc.1 tags=1.3.0-rc.1,sha-0123456 latest=false",
        );
        check(
            WorkflowDispatch,
            "refs/tags/v1.2.3",
            Some("yes"),
            "error: input `publish_latest` is `yes`; it must be true or false",
        );
        check(
            Push,
            "refs/heads/main",
            None,
            "error: ref `refs/heads/main` is not a tag; images are published only from release tags (refs/tags/v{semver} or refs/tags/release-v{semver})",
        );
        check(
            Push,
            "refs/tags/1.2.3",
            None,
            "error: `1.2.3` is not a release tag; release tags are `v{semver}` or `release-v{semver}`",
        );
        check(
            Push,
            "refs/tags/v1.2",
            None,
            "error: version `1.2` is not semver (unexpected end of input while parsing minor version number); pass MAJOR.MINOR.PATCH such as 1.2.3, without leading zeros",
        );
        check(
            Push,
            "refs/tags/v1.2.3+build",
            None,
            "error: version `1.2.3+build` has build metadata `+build`; image tags cannot carry `+`, so pass `1.2.3`",
        );
    }

    #[test]
    fn versions() {
        for bad in [
            "",
            "1.2",
            "01.2.3",
            "v1.2.3",
            "1.2.3+build",
            "1.2.3;rm -rf /",
            "１.２.３",
            "1.2.3\n",
            "$(id)",
        ] {
            let err = parse_version(bad).expect_err(bad);
            let msg = format!("{err:#}");
            assert!(msg.contains("pass"), "{bad:?}: message names no fix: {msg}");
            assert_eq!(crate::exit::code_for(&err), crate::exit::USAGE);
        }
        assert_eq!(
            parse_version("1.3.0-rc.1").unwrap().to_string(),
            "1.3.0-rc.1"
        );
    }

    #[test]
    fn checklist_rules_are_release_tomls() {
        let config = crate::config::for_tests();
        assert_eq!(format!("{:?}", config.raw.tags), format!("{:?}", rules()));
    }

    #[test]
    fn git_tags_round_trip() {
        let v = parse_version("2.0.0").unwrap();
        for kind in [TagKind::Release, TagKind::ReleaseLatest] {
            let tag = git_tag(&rules(), &v, kind);
            assert_eq!(parse_git_tag(&rules(), &tag).unwrap(), (kind, v.clone()));
        }
    }
}
