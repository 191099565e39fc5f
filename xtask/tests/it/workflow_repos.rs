//! Reading everything that can publish (issue #16 §4): fixture repositories in
//! tests/fixtures/workflow-repos, each a `.github/workflows` directory, run through the same
//! code preflight uses. Local reusable workflows are followed with the caller's permissions
//! and secrets; every other workflow is read, and one that pushes, moves a tag or grants
//! `packages: write` fails with its file and line.

use std::path::{Path, PathBuf};

use xtask::checks::workflow::{IDS, REPO_IDS, check_repo};
use xtask::checks::{CheckId, Evidence, Outcome, Status};
use xtask::config::Config;

const PUBLISH: &str = ".github/workflows/publish-images.yml";

fn repo(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/workflow-repos")
        .join(name)
}

fn run(name: &str) -> Vec<Outcome> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let text = std::fs::read_to_string(root.join("release.toml")).unwrap();
    let cfg = Config::parse(&text, &root.join("release.toml"), root).unwrap();
    check_repo(&repo(name), Path::new(PUBLISH), &cfg.raw.tags)
}

fn line_of(name: &str, file: &str, needle: &str) -> u32 {
    let text = std::fs::read_to_string(repo(name).join(".github/workflows").join(file)).unwrap();
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in {file}")) as u32
        + 1
}

fn at(o: &Outcome, file: &str, line: u32) -> bool {
    let rel = PathBuf::from(".github/workflows").join(file);
    o.evidence.iter().any(
        |e| matches!(e, Evidence::File { path, line: Some(l), .. } if *path == rel && *l == line),
    )
}

fn assert_flagged(out: &[Outcome], name: &str, id: CheckId, file: &str, needle: &str) {
    let line = line_of(name, file, needle);
    assert!(
        out.iter()
            .any(|o| o.id == id && o.status == Status::Fail && at(o, file, line)),
        "{name}: expected {} fail at {file}:{line} ({needle}); got:\n{out:#?}",
        id.id()
    );
}

#[test]
fn a_called_local_workflow_is_checked_with_the_callers_grant_and_secrets() {
    let n = "reusable-local";
    let out = run(n);
    assert_flagged(
        &out,
        n,
        CheckId::SecretsNoLongLivedPat,
        "publish-images.yml",
        "secrets: inherit",
    );
    assert_flagged(
        &out,
        n,
        CheckId::WorkflowPermissions,
        "build-push.yml",
        "contents: write",
    );
    assert_flagged(
        &out,
        n,
        CheckId::WorkflowActionsPinned,
        "build-push.yml",
        "actions/checkout@v4",
    );
    assert_flagged(
        &out,
        n,
        CheckId::SecretsGithubToken,
        "build-push.yml",
        "secrets.GHCR_PAT",
    );
    assert_flagged(
        &out,
        n,
        CheckId::SecretsNoLongLivedPat,
        "build-push.yml",
        "secrets.GHCR_PAT",
    );
    // Called by the publish workflow, so its push is the publish workflow's own.
    let single: Vec<&Outcome> = out
        .iter()
        .filter(|o| o.id == CheckId::WorkflowSinglePublisher)
        .collect();
    assert!(
        single.iter().all(|o| o.status == Status::Pass),
        "{single:#?}"
    );
    // No pass sits next to a failure of the same id.
    for id in [CheckId::WorkflowPermissions, CheckId::WorkflowActionsPinned] {
        assert!(
            out.iter()
                .filter(|o| o.id == id)
                .all(|o| o.status != Status::Pass),
            "{out:#?}"
        );
    }
}

#[test]
fn a_secret_the_caller_sets_to_github_token_is_github_token() {
    let out = run("reusable-token-alias");
    for id in IDS.iter().chain(REPO_IDS) {
        let mine: Vec<&Outcome> = out.iter().filter(|o| o.id == *id).collect();
        assert!(!mine.is_empty(), "no outcome for {}", id.id());
        for o in mine {
            assert_eq!(
                o.status,
                Status::Pass,
                "{}: {} {:?}",
                id.id(),
                o.message,
                o.evidence
            );
        }
    }
    // The login and publish of the called workflow are the evidence.
    let token = out
        .iter()
        .find(|o| o.id == CheckId::SecretsGithubToken)
        .unwrap();
    assert!(
        at(
            token,
            "publish-reusable.yml",
            line_of(
                "reusable-token-alias",
                "publish-reusable.yml",
                "docker login"
            )
        ),
        "{token:#?}"
    );
}

#[test]
fn other_workflows_that_push_or_move_latest_fail_with_file_and_line() {
    let n = "other-pushers";
    let out = run(n);
    let single = CheckId::WorkflowSinglePublisher;
    assert_flagged(&out, n, single, "nightly.yml", "docker push");
    assert_flagged(&out, n, single, "nightly.yml", "packages: write");
    assert_flagged(&out, n, single, "retag.yml", "crane tag");
    assert_flagged(&out, n, single, "retag.yml", "write-all");
    assert_flagged(&out, n, single, "mirror.yml", "docker/build-push-action");
    // A remote reusable workflow must be pinned, and gets no `secrets: inherit`.
    assert_flagged(
        &out,
        n,
        CheckId::WorkflowActionsPinned,
        "shared.yml",
        "@main",
    );
    assert_flagged(
        &out,
        n,
        CheckId::SecretsNoLongLivedPat,
        "shared.yml",
        "secrets: inherit",
    );
    // A registry login with a long-lived token, even one that only pulls.
    assert_flagged(
        &out,
        n,
        CheckId::SecretsGithubToken,
        "login.yml",
        "docker login",
    );
    // Ordinary CI is not a finding, and neither is the publish workflow itself.
    let ci = PathBuf::from(".github/workflows/ci.yml");
    let publish = PathBuf::from(PUBLISH);
    for o in out.iter().filter(|o| o.status == Status::Fail) {
        for e in &o.evidence {
            if let Evidence::File { path, .. } = e {
                assert!(*path != ci && *path != publish, "{o:#?}");
            }
        }
    }
}

#[test]
fn preflight_reads_every_workflow_of_the_checkout() {
    // End to end: the other-pushers fixture as a checkout's .github/workflows.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::copy(src.join("release.toml"), root.join("release.toml")).unwrap();
    std::fs::create_dir_all(root.join(".github/workflows")).unwrap();
    for e in std::fs::read_dir(repo("other-pushers").join(".github/workflows")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), root.join(".github/workflows").join(e.file_name())).unwrap();
    }
    crate::git(root, &["init", "-q", "-b", "main"]);
    crate::git(root, &["add", "."]);
    crate::git(root, &["commit", "-qm", "initial"]);
    let out = crate::support::Xtask::new()
        .args([
            "--repo",
            root.to_str().unwrap(),
            "preflight",
            "--only",
            "workflow-single-publisher",
        ])
        .output();
    let t = crate::support::text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let line = line_of("other-pushers", "nightly.yml", "docker push");
    assert!(
        t.contains(&format!(".github/workflows/nightly.yml:{line}")),
        "{t}"
    );
}
