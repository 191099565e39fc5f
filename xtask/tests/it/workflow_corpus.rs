//! The publish-workflow checks against a corpus of bad workflows (tests/fixtures/workflows).
//!
//! Each bad fixture breaks one rule and must be flagged with the right check id at the right
//! line; the good fixture must pass every workflow check.

pub(crate) use crate::support::repo_root as root;
use std::path::{Path, PathBuf};

use xtask::checks::workflow::{IDS, check_file};
use xtask::checks::{CheckId, Evidence, Outcome, Status};
use xtask::config::Config;

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/workflows")
        .join(name)
}

pub(crate) fn run(name: &str) -> Vec<Outcome> {
    let root = root();
    let text = std::fs::read_to_string(root.join("release.toml")).unwrap();
    let cfg = Config::parse(&text, &root.join("release.toml"), &root).unwrap();
    check_file(&fixture(name), Path::new(name), &cfg.raw.tags)
}

/// The 1-based line of the first occurrence of `needle` in the fixture.
pub(crate) fn line_of(name: &str, needle: &str) -> u32 {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in {name}")) as u32
        + 1
}

pub(crate) fn lines(o: &Outcome) -> Vec<u32> {
    o.evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::File { line, .. } => *line,
            _ => None,
        })
        .collect()
}

pub(crate) fn assert_flagged(name: &str, id: CheckId, status: Status, needle: &str) {
    let out = run(name);
    let want = line_of(name, needle);
    let hit = out
        .iter()
        .find(|o| o.id == id && o.status == status && lines(o).contains(&want));
    assert!(
        hit.is_some(),
        "{name}: expected {} {status:?} at line {want} ({needle}); got:\n{out:#?}",
        id.id()
    );
}

#[test]
fn good_workflow_passes_every_check() {
    let out = run("good.yml");
    for id in IDS {
        let mine: Vec<&Outcome> = out.iter().filter(|o| o.id == *id).collect();
        assert!(!mine.is_empty(), "no outcome for {}", id.id());
        for o in mine {
            assert_eq!(o.status, Status::Pass, "{}: {}", id.id(), o.message);
        }
    }
}

#[test]
fn over_grant_at_top_level_is_flagged() {
    assert_flagged(
        "overgrant-top.yml",
        CheckId::WorkflowPermissions,
        Status::Fail,
        "contents: write",
    );
    assert_flagged(
        "overgrant-top.yml",
        CheckId::WorkflowTopLevelPermissions,
        Status::Warn,
        "permissions:",
    );
}

#[test]
fn over_grant_at_job_level_is_flagged() {
    assert_flagged(
        "overgrant-job.yml",
        CheckId::WorkflowPermissions,
        Status::Fail,
        "id-token: write",
    );
}

#[test]
fn write_all_is_flagged() {
    assert_flagged(
        "write-all.yml",
        CheckId::WorkflowPermissions,
        Status::Fail,
        "write-all",
    );
}

#[test]
fn pat_login_is_flagged() {
    assert_flagged(
        "pat-login.yml",
        CheckId::SecretsNoLongLivedPat,
        Status::Fail,
        "GHCR_PAT",
    );
    assert_flagged(
        "pat-login.yml",
        CheckId::SecretsGithubToken,
        Status::Fail,
        "GHCR_PAT",
    );
}

#[test]
fn unpinned_action_is_flagged() {
    assert_flagged(
        "unpinned.yml",
        CheckId::WorkflowActionsPinned,
        Status::Fail,
        "actions/checkout@v4",
    );
}

#[test]
fn injected_input_is_flagged() {
    assert_flagged(
        "inject-inputs.yml",
        CheckId::WorkflowNoInjection,
        Status::Fail,
        "--publish-latest ${{ inputs.publish_latest }}",
    );
}

#[test]
fn injected_github_event_is_flagged() {
    assert_flagged(
        "inject-event.yml",
        CheckId::WorkflowNoInjection,
        Status::Fail,
        "github.event.head_commit",
    );
}

#[test]
fn missing_tag_triggers_are_flagged() {
    let out = run("missing-triggers.yml");
    let o = out
        .iter()
        .find(|o| o.id == CheckId::WorkflowTriggers)
        .unwrap();
    assert_eq!(o.status, Status::Fail);
    assert!(
        o.message.contains("v*") && o.message.contains("release-v*"),
        "{}",
        o.message
    );
}

#[test]
fn publish_latest_default_true_is_flagged() {
    assert_flagged(
        "latest-default-true.yml",
        CheckId::WorkflowTriggers,
        Status::Fail,
        "default: true",
    );
}

#[test]
fn malformed_yaml_fails_present_and_skips_the_rest() {
    let out = run("malformed.yml");
    let present = out
        .iter()
        .find(|o| o.id == CheckId::WorkflowPresent)
        .unwrap();
    assert_eq!(present.status, Status::Fail);
    assert!(
        present.message.contains("not valid YAML"),
        "{}",
        present.message
    );
    assert!(!lines(present).is_empty());
    for id in &IDS[1..] {
        let o = out.iter().find(|o| o.id == *id).unwrap();
        assert_eq!(o.status, Status::Skip, "{}", id.id());
        assert!(
            o.message.contains("workflow not parseable"),
            "{}",
            o.message
        );
    }
}

#[test]
fn missing_workflow_fails_present() {
    let out = run("does-not-exist.yml");
    assert_eq!(out[0].id, CheckId::WorkflowPresent);
    assert_eq!(out[0].status, Status::Fail);
}

#[test]
fn pat_passed_to_the_publish_step_is_flagged() {
    assert_flagged(
        "pat-env.yml",
        CheckId::SecretsNoLongLivedPat,
        Status::Fail,
        "RELEASE_PAT",
    );
    assert_flagged(
        "pat-env.yml",
        CheckId::SecretsGithubToken,
        Status::Fail,
        "RELEASE_PAT",
    );
}

#[test]
fn exact_grant_at_top_level_passes_jobs_but_warns() {
    // Jobs inherit exactly contents: read + packages: write, which is allowed, but the
    // top-level grant is still reported as a warning.
    let out = run("top-level-only.yml");
    let perm: Vec<&Outcome> = out
        .iter()
        .filter(|o| o.id == CheckId::WorkflowPermissions)
        .collect();
    assert!(perm.iter().all(|o| o.status == Status::Pass), "{perm:#?}");
    assert_flagged(
        "top-level-only.yml",
        CheckId::WorkflowTopLevelPermissions,
        Status::Warn,
        "permissions:",
    );
}
