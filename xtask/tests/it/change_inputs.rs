//! Inputs as the real tools read them (issue #16 §5): change detection in a shallow clone and
//! in a clone without tags, made with real `git clone` from a bare remote. Both used to look
//! like a first release, which passes `changes-match-release` whatever changed.

use std::path::{Path, PathBuf};

use crate::git;
use crate::hostile_git::{text, workspace, xtask};

/// A bare remote whose main has two commits: `v1.0.0` (annotated) on the first, and a change
/// to console on the second. Returns (temp dir, remote path).
fn remote_with_history() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let ws = workspace();
    let remote = dir.path().join("remote.git");
    git(
        dir.path(),
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            remote.to_str().unwrap(),
        ],
    );
    let w = ws.path();
    git(
        w,
        &[
            "tag",
            "-a",
            "-m",
            "aisopsflow 1.0.0\n\ncomponents: core,runner",
            "v1.0.0",
        ],
    );
    std::fs::write(
        w.join("console/Dockerfile"),
        "FROM scratch\nLABEL changed=1\n",
    )
    .unwrap();
    git(w, &["commit", "-qam", "change console"]);
    git(w, &["remote", "add", "origin", remote.to_str().unwrap()]);
    git(
        w,
        &["push", "-q", "origin", "HEAD:main", "refs/tags/v1.0.0"],
    );
    (dir, remote)
}

fn changes(root: &Path) -> (Option<i32>, String) {
    let out = xtask(root, &["preflight", "--only", "changes"], &[]);
    (out.status.code(), text(&out))
}

#[test]
fn a_shallow_clone_refuses_naming_the_unshallow_fetch() {
    let (dir, remote) = remote_with_history();
    let clone = dir.path().join("shallow");
    // file:// so that --depth applies to a local remote, as it does to GitHub.
    let url = format!("file://{}", remote.display());
    git(
        dir.path(),
        &["clone", "-q", "--depth", "1", &url, clone.to_str().unwrap()],
    );
    assert_eq!(
        git(&clone, &["rev-parse", "--is-shallow-repository"]),
        "true"
    );
    let (code, t) = changes(&clone);
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("this clone is shallow"), "{t}");
    assert!(t.contains("git fetch --tags --unshallow"), "{t}");
    assert!(!t.contains("first release"), "{t}");

    // The fix it names works: afterwards the change since v1.0.0 is seen.
    git(&clone, &["fetch", "-q", "--tags", "--unshallow"]);
    let (code, t) = changes(&clone);
    assert_eq!(code, Some(1), "{t}");
    assert!(
        t.contains("console: 1 input file(s) changed since v1.0.0"),
        "{t}"
    );
}

#[test]
fn a_clone_without_tags_refuses_naming_the_tag_fetch() {
    let (dir, remote) = remote_with_history();
    let clone = dir.path().join("notags");
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            "--no-tags",
            remote.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    assert_eq!(git(&clone, &["tag", "--list"]), "");
    let (code, t) = changes(&clone);
    assert_eq!(code, Some(1), "{t}");
    assert!(
        t.contains("release tag(s) of `origin` are not in this clone (v1.0.0)"),
        "{t}"
    );
    assert!(t.contains("git fetch --tags origin"), "{t}");
    assert!(!t.contains("first release"), "{t}");

    git(&clone, &["fetch", "-q", "--tags", "origin"]);
    let (code, t) = changes(&clone);
    assert_eq!(code, Some(1), "{t}");
    assert!(
        t.contains("console: 1 input file(s) changed since v1.0.0"),
        "{t}"
    );
}

#[test]
fn a_real_first_release_still_passes_and_says_what_it_compared() {
    let dir = tempfile::tempdir().unwrap();
    let ws = workspace();
    let remote = dir.path().join("remote.git");
    git(
        dir.path(),
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            remote.to_str().unwrap(),
        ],
    );
    git(
        ws.path(),
        &["remote", "add", "origin", remote.to_str().unwrap()],
    );
    git(ws.path(), &["push", "-q", "origin", "HEAD:main"]);
    let (code, t) = changes(ws.path());
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("first release"), "{t}");
}

#[test]
fn no_local_release_tag_and_an_unreachable_remote_is_not_a_pass() {
    let ws = workspace();
    git(
        ws.path(),
        &["remote", "add", "origin", "/nonexistent/remote.git"],
    );
    let (code, t) = changes(ws.path());
    assert!(t.contains("skip"), "{t}");
    assert!(
        t.contains("cannot be told from a clone without tags"),
        "{t}"
    );
    assert!(!t.contains("pass   changes-match-release"), "{code:?} {t}");
}
