//! git under hostile operator configuration (issue #15 §2): each row of the issue sets the
//! configuration in the test repository (repository config outranks ~/.gitconfig, as an
//! operator's global config would) and drives the product's own git reads and writes.
//! Every test here failed on the adapter that parsed git's human output.

use crate::support::Xtask;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{git, git_identity};
use xtask::effects::git as product_git;

/// A committed workspace layout: release.toml and one Dockerfile per component.
pub(crate) fn workspace() -> tempfile::TempDir {
    let dir = crate::support::Layout::new().commit();
    // The product's own git calls run in this process, without the test identity's
    // variables: give the repository an identity, or `git tag -a` fails on a machine with no
    // global one (a fresh machine).
    git(dir.path(), &["config", "user.name", "release tester"]);
    git(dir.path(), &["config", "user.email", "tester@example.test"]);
    dir
}

/// The binary on the workspace at `root`, with the closed environment of `support::Xtask`,
/// the test git identity and `env`.
pub(crate) fn xtask(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Xtask::new()
        .arg("--repo")
        .arg(root)
        .args(args)
        .envs(git_identity())
        .envs(env.iter().copied())
        .output()
}

pub(crate) use crate::support::text;

#[test]
fn column_ui_always_does_not_hide_earlier_releases() {
    let dir = workspace();
    let root = dir.path();
    git(root, &["tag", "-a", "-m", "release 1.0.0", "v1.0.0"]);
    git(root, &["tag", "-a", "-m", "release 1.0.1", "v1.0.1"]);
    git(root, &["config", "column.ui", "always"]);
    // The hostile config is live: `git tag --merged` now prints both tags on one line.
    assert_eq!(git(root, &["tag", "--merged", "HEAD"]).lines().count(), 1);
    std::fs::write(root.join("console/Dockerfile"), "FROM scratch\nLABEL x=1\n").unwrap();
    git(root, &["commit", "-qam", "change console"]);

    let mut tags = product_git::tags_merged_into_head(root).unwrap();
    tags.sort();
    assert_eq!(tags, ["v1.0.0", "v1.0.1"]);
    // So changes-match-release sees the previous release, not a first release.
    let out = xtask(root, &["preflight", "--only", "changes"], &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("console: 1 input file(s) changed since v1.0.1"),
        "{t}"
    );
    assert!(!t.contains("first release"), "{t}");
}

#[test]
fn quoted_non_ascii_paths_count_as_changed() {
    let dir = workspace();
    let root = dir.path();
    git(root, &["tag", "-a", "-m", "release 1.0.0", "v1.0.0"]);
    git(root, &["config", "core.quotepath", "true"]);
    std::fs::write(root.join("console/überblick.txt"), "neu\n").unwrap();
    std::fs::write(root.join("runner/tab\there.txt"), "x\n").unwrap();
    git(root, &["add", "."]);
    git(root, &["commit", "-qm", "non-ASCII and tab paths"]);
    // The hostile config is live: git's own listing quotes the path.
    assert!(git(root, &["diff", "--name-only", "v1.0.0..HEAD"]).contains("\"console/"));

    let changed = product_git::changed_files(root, "v1.0.0", "HEAD").unwrap();
    assert!(
        changed.contains(&"console/überblick.txt".to_string()),
        "{changed:?}"
    );
    assert!(
        changed.contains(&"runner/tab\there.txt".to_string()),
        "{changed:?}"
    );
    let status_root = root.join("core/ß.txt");
    std::fs::write(&status_root, "x").unwrap();
    let st = product_git::status(root).unwrap();
    assert_eq!(st, vec!["?? core/ß.txt".to_string()]);

    let out = xtask(root, &["preflight", "--only", "changes"], &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("console: 1 input file(s) changed since v1.0.0"),
        "{t}"
    );
    assert!(t.contains("console/überblick.txt"), "{t}");
}

#[test]
fn show_signature_stays_out_of_the_created_label() {
    let dir = workspace();
    let root = dir.path();
    // A commit carrying an SSH signature block. git tries to verify it whenever
    // log.showSignature is on and prints the result on stdout, before the format. (Written
    // with hash-object so the test needs no signing key or ssh-keygen.)
    let tree = git(root, &["rev-parse", "HEAD^{tree}"]);
    let parent = git(root, &["rev-parse", "HEAD"]);
    let object = format!(
        "tree {tree}\nparent {parent}\nauthor a <a@example.test> 1700000000 +0000\ncommitter a <a@example.test> 1700000000 +0000\ngpgsig -----BEGIN SSH SIGNATURE-----\n U1NIU0lHAAAAAQ==\n -----END SSH SIGNATURE-----\n\nsigned\n"
    );
    let mut child = Command::new("git")
        .args(["hash-object", "-t", "commit", "-w", "--stdin"])
        .current_dir(root)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(object.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
    git(root, &["update-ref", "refs/heads/main", &commit]);
    git(root, &["config", "log.showSignature", "true"]);
    git(root, &["config", "gpg.format", "ssh"]);
    // The hostile config is live: git's own output has more than the date.
    let raw = Command::new("git")
        .args(["show", "-s", "--format=%cI", "HEAD"])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&raw.stdout).lines().count() > 1,
        "{}",
        String::from_utf8_lossy(&raw.stdout)
    );

    let info = product_git::head_info(root).unwrap();
    assert_eq!(info.commit, commit);
    assert_eq!(info.time, "2023-11-14T22:13:20Z");
}

#[test]
fn comment_char_does_not_strip_the_components_line() {
    for comment in ["c", "auto"] {
        let dir = workspace();
        let root = dir.path();
        git(root, &["config", "core.commentChar", comment]);
        let head = git(root, &["rev-parse", "HEAD"]);
        let message = format!(
            "aisopsflow 1.0.0\n\nversion: 1.0.0\ncomponents: core,runner,console\ncommit: {head}\nlatest: stays\n"
        );
        product_git::create_annotated_tag(root, "v1.0.0", &head, &message).unwrap();
        let back = product_git::tag_message(root, "v1.0.0").unwrap().unwrap();
        assert!(
            back.contains("components: core,runner,console"),
            "{comment}: {back}"
        );
        assert!(
            back.contains(&format!("commit: {head}")),
            "{comment}: {back}"
        );
        assert_eq!(
            xtask::publish::components_from_tag_message(&back),
            ["core", "runner", "console"]
        );
    }
}

/// A bare remote and a work clone of the workspace, with `tag` pushed as given by `make_tag`.
fn remote_with_tag(make_tag: &[&str]) -> (tempfile::TempDir, PathBuf, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let remote = dir.path().join("remote.git");
    let ws = workspace();
    git(
        dir.path(),
        &["init", "-q", "--bare", remote.to_str().unwrap()],
    );
    let work = dir.path().join("work");
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            ws.path().to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    git(
        &work,
        &["remote", "set-url", "origin", remote.to_str().unwrap()],
    );
    git(&work, &["push", "-q", "origin", "HEAD:main"]);
    if !make_tag.is_empty() {
        git(&work, make_tag);
        git(&work, &["push", "-q", "origin", "refs/tags/v1.0.0"]);
    }
    let sha = git(&work, &["rev-parse", "HEAD"]);
    (dir, remote, work, sha)
}

/// A CI checkout as actions/checkout leaves it: the tagged commit, and the tag as a
/// lightweight ref to it (`+<sha>:refs/tags/<tag>`), whatever the remote holds.
fn ci_checkout(base: &Path, remote: &Path, sha: &str, tag: Option<&str>) -> PathBuf {
    let ci = base.join("ci");
    git(base, &["init", "-q", ci.to_str().unwrap()]);
    git(&ci, &["remote", "add", "origin", remote.to_str().unwrap()]);
    git(
        &ci,
        &["fetch", "-q", "--no-tags", "--depth=1", "origin", sha],
    );
    git(
        &ci,
        &["-c", "advice.detachedHead=false", "checkout", "-q", sha],
    );
    if let Some(t) = tag {
        git(&ci, &["tag", t, sha]);
    }
    ci
}

fn publish_dry_run(ci: &Path, sha: &str) -> Output {
    xtask(
        ci,
        &[
            "publish",
            "--dry-run",
            "--ref",
            "refs/tags/v1.0.0",
            "--sha",
            sha,
            "--event",
            "push",
            "--format",
            "json",
        ],
        &[("CI", "true")],
    )
}

#[test]
fn lightweight_tag_in_ci_is_replaced_by_the_annotated_one() {
    let (dir, remote, _work, sha) = remote_with_tag(&[
        "tag",
        "-a",
        "-m",
        "aisopsflow 1.0.0\n\ncomponents: core,runner,console\n",
        "v1.0.0",
    ]);
    let ci = ci_checkout(dir.path(), &remote, &sha, Some("v1.0.0"));
    assert_eq!(git(&ci, &["cat-file", "-t", "refs/tags/v1.0.0"]), "commit");
    let out = publish_dry_run(&ci, &sha);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("aisopsflow-console"),
        "console is in the tag's components: {t}"
    );
    assert_eq!(git(&ci, &["cat-file", "-t", "refs/tags/v1.0.0"]), "tag");
}

#[test]
fn missing_tag_in_ci_is_fetched() {
    let (dir, remote, _work, sha) = remote_with_tag(&[
        "tag",
        "-a",
        "-m",
        "aisopsflow 1.0.0\n\ncomponents: core,runner,console\n",
        "v1.0.0",
    ]);
    let ci = ci_checkout(dir.path(), &remote, &sha, None);
    let out = publish_dry_run(&ci, &sha);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("aisopsflow-console"), "{t}");
}

#[test]
fn lightweight_missing_or_listless_tag_refuses_instead_of_default_components() {
    // The remote holds only a lightweight tag.
    let (dir, remote, _work, sha) = remote_with_tag(&["tag", "v1.0.0"]);
    let ci = ci_checkout(dir.path(), &remote, &sha, Some("v1.0.0"));
    let out = publish_dry_run(&ci, &sha);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("tag v1.0.0 is a lightweight tag here"), "{t}");
    assert!(t.contains("--components"), "{t}");
    assert!(!t.contains("aisopsflow-core\""), "nothing planned: {t}");

    // No tag anywhere.
    let (dir, remote, _work, sha) = remote_with_tag(&[]);
    let ci = ci_checkout(dir.path(), &remote, &sha, None);
    let out = publish_dry_run(&ci, &sha);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("tag v1.0.0 does not exist in this checkout"),
        "{t}"
    );
    assert!(t.contains("fetching it from `origin` failed"), "{t}");

    // Annotated, but made by hand without the components line.
    let (dir, remote, _work, sha) =
        remote_with_tag(&["tag", "-a", "-m", "hand-made release", "v1.0.0"]);
    let ci = ci_checkout(dir.path(), &remote, &sha, Some("v1.0.0"));
    let out = publish_dry_run(&ci, &sha);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("no `components:` line"), "{t}");

    // An explicit --components needs no tag message.
    let out = xtask(
        &ci,
        &[
            "publish",
            "--dry-run",
            "--ref",
            "refs/tags/v1.0.0",
            "--sha",
            &sha,
            "--event",
            "push",
            "--components",
            "core,runner",
        ],
        &[("CI", "true")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn dubious_ownership_names_the_safe_directory_fix() {
    let dir = workspace();
    let root = dir.path();
    // git's own test switch for "owned by someone else" (t0033-safe-directory.sh), so the
    // test needs no second user.
    let out = xtask(
        root,
        &["preflight", "--only", "changes"],
        &[("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")],
    );
    let t = text(&out);
    assert_ne!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("dubious ownership"), "{t}");
    assert!(
        t.contains("git config --global --add safe.directory"),
        "{t}"
    );
    assert!(!t.contains("is not a git work tree"), "{t}");
}
