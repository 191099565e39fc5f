//! The reliability suite: bad inputs, malformed answers from GitHub and the registry, faults
//! injected into every external system, and Ctrl-C, each run against the real binary.
//!
//! Every case asserts three things: the documented exit code, a message that names the problem
//! and the fix, and that nothing changed (the work tree, the local and remote refs, no notes
//! file). Fault cases also rerun without the fault and assert that the rerun completes.
//! `docs/reliability.md` lists the classes and outcomes; keep the two in step.

use crate::support::copy_tree as copy_dir;
use crate::support::repo_root;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use crate::git;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use xtask::standin::github::{self as standin, ADMIN_TOKEN, FaultAction, StandInHandle, World};

const OWNER: &str = "aisopsflow";
const REPO: &str = "aisopsflow-enterprise";
/// Nothing listens on the discard port: the default for every system a case does not need,
/// so no case can reach the internet or a stray local service.
const CLOSED: &str = "127.0.0.1:9";

/// A committed copy of the repository's release layout with a bare `origin` it was pushed to.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        let real = repo_root();
        std::fs::copy(real.join("release.toml"), work.join("release.toml")).unwrap();
        std::fs::write(work.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        copy_dir(&real.join("docs"), &work.join("docs"));
        std::fs::create_dir_all(work.join(".github/workflows")).unwrap();
        std::fs::copy(
            real.join(".github/workflows/publish-images.yml"),
            work.join(".github/workflows/publish-images.yml"),
        )
        .unwrap();
        for c in ["core", "runner", "console"] {
            std::fs::create_dir_all(work.join(c)).unwrap();
            std::fs::write(work.join(c).join("Dockerfile"), "FROM scratch\n").unwrap();
        }
        git(&work, &["-c", "init.defaultBranch=main", "init", "-q"]);
        git(&work, &["add", "."]);
        git(&work, &["commit", "-qm", "release layout"]);
        let remote = dir.path().join("remote.git");
        git(
            dir.path(),
            &[
                "-c",
                "init.defaultBranch=main",
                "init",
                "-q",
                "--bare",
                "remote.git",
            ],
        );
        git(
            &work,
            &["remote", "add", "origin", remote.to_str().unwrap()],
        );
        git(&work, &["push", "-q", "origin", "main"]);
        Repo { dir }
    }

    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    pub fn remote(&self) -> PathBuf {
        self.dir.path().join("remote.git")
    }

    pub fn head(&self) -> String {
        git(&self.work(), &["rev-parse", "HEAD"])
    }

    /// Replaces `from` with `to` in release.toml (asserting it was there).
    pub fn edit_config(&self, from: &str, to: &str) {
        let path = self.work().join("release.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "release.toml has no {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    /// Everything a command could change: refs here and in the remote, git status, and every
    /// file of the work tree (and the notes directory) by content hash.
    pub fn snapshot(&self) -> Snapshot {
        let work = self.work();
        let mut files = BTreeMap::new();
        walk(&work, &work, &mut files);
        Snapshot {
            local_refs: git(
                &work,
                &["for-each-ref", "--format=%(refname) %(objectname)"],
            ),
            remote_refs: git(
                &self.remote(),
                &["for-each-ref", "--format=%(refname) %(objectname)"],
            ),
            status: git(&work, &["status", "--porcelain", "--untracked-files=all"]),
            files,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub local_refs: String,
    pub remote_refs: String,
    pub status: String,
    pub files: BTreeMap<String, String>,
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
        if rel == ".git" {
            continue;
        }
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            walk(root, &p, out);
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&p).unwrap();
            out.insert(rel, format!("symlink {}", target.display()));
        } else {
            let bytes = std::fs::read(&p).unwrap_or_default();
            out.insert(rel, xtask::effects::registry::sha256_digest(&bytes));
        }
    }
}

/// One run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// A command for the real binary with the closed environment of `support::Xtask` (an empty
/// temporary HOME, no token), GitHub and the registry at a closed loopback port, no docker
/// config or engine, and the test identity, unless `env` says otherwise.
pub fn xtask_cmd(
    cwd: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> crate::support::Closed<Command> {
    let scratch = std::env::temp_dir().join("aisopsflow-reliability-home");
    crate::support::Xtask::new()
        .args(args)
        .current_dir(cwd)
        .env("DOCKER_CONFIG", scratch.join("no-docker-config"))
        .env("GITHUB_API_URL", format!("http://{CLOSED}"))
        .env("AISOPSFLOW_REGISTRY", CLOSED)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        // Registry retries stay real but wait milliseconds, so persistent faults end fast.
        .env("AISOPSFLOW_REGISTRY_BACKOFF_MS", "5")
        .envs(crate::git_identity())
        .pass("USER")
        .envs(env.iter().copied())
        .into_std()
}

pub fn xtask(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = xtask_cmd(cwd, args, env)
        .stdin(Stdio::null())
        .output()
        .expect("running the xtask binary");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

/// Asserts a run's exit code and that its output names every needle.
fn expect(class: &str, run: &Run, code: i32, needles: &[&str]) {
    // One line per case for docs/reliability.md (`-- --nocapture` shows them).
    let first = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or_else(|| run.stdout.lines().next().unwrap_or(""));
    println!(
        "| {class} | {} | {} |",
        run.code,
        first.chars().take(160).collect::<String>()
    );
    assert_eq!(
        run.code, code,
        "[{class}] exit code\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let text = run.text();
    for n in needles {
        assert!(
            text.contains(n),
            "[{class}] output does not name {n:?}:\n{text}"
        );
    }
    assert!(
        !text.contains("internal error") && !text.contains("panicked"),
        "[{class}] panicked:\n{text}"
    );
}

// --- Bad inputs ---------------------------------------------------------------------------

/// A version string, the class it belongs to, and what the message must name (problem, fix).
const BAD_VERSIONS: &[(&str, &str, &[&str])] = &[
    (
        "two components",
        "1.2",
        &["`1.2` is not semver", "pass MAJOR.MINOR.PATCH"],
    ),
    (
        "leading zero",
        "01.2.3",
        &["leading zero", "without leading zeros"],
    ),
    (
        "leading v",
        "v1.2.3",
        &["leading `v`", "pass the bare version `1.2.3`"],
    ),
    (
        "build metadata",
        "1.2.3+build",
        &["build metadata", "so pass `1.2.3`"],
    ),
    (
        "full-width unicode digits",
        "１.２.３",
        &["outside [0-9A-Za-z.-]", "pass a semver version"],
    ),
    (
        "unicode letter in prerelease",
        "1.2.3-ß",
        &["outside [0-9A-Za-z.-]", "pass a semver version"],
    ),
    (
        "shell: command separator",
        "1.2.3;rm -rf /",
        &["outside [0-9A-Za-z.-]", "pass a semver version"],
    ),
    (
        "shell: command substitution",
        "$(id)",
        &["outside [0-9A-Za-z.-]", "pass a semver version"],
    ),
    (
        "shell: backticks and pipe",
        "1.2.3`id`|sh",
        &["outside [0-9A-Za-z.-]", "pass a semver version"],
    ),
    (
        "embedded newline",
        "1.2.3\nv9.9.9",
        &["outside [0-9A-Za-z.-]", "pass a semver version"],
    ),
    (
        "empty",
        "",
        &["empty version", "pass a semver version such as 1.2.3"],
    ),
    (
        "too long for an image tag",
        "",
        &["characters", "at most 128"],
    ),
    (
        "prerelease with empty identifier",
        "1.2.3-",
        &["is not semver", "pass MAJOR.MINOR.PATCH"],
    ),
];

fn long_version() -> String {
    format!("1.2.3-{}", "a".repeat(200))
}

/// Versions for `verify` and `preflight --release`: exit 2, the problem and the fix named, and
/// nothing changed. (`release --dry-run` and `promote` are in `release_bad_versions`.)
#[test]
fn bad_versions_are_usage_errors_that_name_the_fix() {
    let repo = Repo::new();
    let work = repo.work();
    let before = repo.snapshot();
    for (class, v, needles) in BAD_VERSIONS {
        let v = if *class == "too long for an image tag" {
            long_version()
        } else {
            v.to_string()
        };
        for args in [
            vec!["verify", v.as_str()],
            vec![
                "preflight",
                "--offline",
                "--only",
                "workflow",
                "--release",
                v.as_str(),
            ],
        ] {
            let run = xtask(&work, &args, &[]);
            expect(&format!("{class}: {}", args[0]), &run, 2, needles);
            // Untrusted input is shown escaped, never raw: a newline cannot forge a line.
            assert!(!run.stderr.contains("\nv9.9.9"), "{class}: {}", run.stderr);
        }
    }
    // A version that starts with a dash is refused by the parser before any work.
    let run = xtask(&work, &["verify", "-1.2.3"], &[]);
    expect("leading dash", &run, 2, &["unexpected argument", "--"]);
    assert_eq!(
        repo.snapshot(),
        before,
        "a bad version changed the repository"
    );
}

/// `release.toml` broken in one way per case: `preflight` refuses it (exit 2) naming the file,
/// the key and the fix, before touching anything.
#[test]
fn bad_release_toml_is_refused_naming_the_key_and_the_fix() {
    type Edit = (&'static str, &'static str);
    let cases: &[(&str, &[Edit], &[&str])] = &[
        (
            "missing key",
            &[("latest = \"latest\"\n", "")],
            &["missing field `latest`", "fix:"],
        ),
        (
            "unknown key",
            &[("[tags]\n", "[tags]\ncolour = \"blue\"\n")],
            &["unknown field `colour`", "fix:"],
        ),
        (
            "unknown table",
            &[("[notes]\n", "[extras]\nx = 1\n[notes]\n")],
            &["unknown field `extras`", "fix:"],
        ),
        (
            "wrong type: bool as string",
            &[(
                "prerelease_moves_latest = false",
                "prerelease_moves_latest = \"no\"",
            )],
            &["prerelease_moves_latest", "invalid type", "fix:"],
        ),
        (
            "wrong type: list as string",
            &[("features = []", "features = \"\"")],
            &["features", "invalid type", "fix:"],
        ),
        (
            "unknown enum value",
            &[("scope = \"when-in-scope\"", "scope = \"sometimes\"")],
            &["unknown variant `sometimes`", "fix:"],
        ),
        (
            "toml syntax error",
            &[("[registry]\n", "[registry\n")],
            &["release.toml", "fix:"],
        ),
        (
            "package name collision",
            &[(
                "package = \"aisopsflow-{component}-commercial\"",
                "package = \"aisopsflow-{component}\"",
            )],
            &[
                "produced by both",
                "fix: give each edition a distinct package pattern",
            ],
        ),
        (
            "allowlist violation",
            &[(
                "package = \"aisopsflow-{component}-commercial\"",
                "package = \"aisopsflow-{component}-pro\"",
            )],
            &["not in the allowlist", "[[packages.exceptions]]"],
        ),
        (
            "allowlist entry outside the checklist",
            &[(
                "  \"aisopsflow-console-commercial\",\n]",
                "  \"aisopsflow-console-commercial\",\n  \"aisopsflow-extra\",\n]",
            )],
            &[
                "`aisopsflow-extra` is not one of the checklist's six packages",
                "fix:",
            ],
        ),
        (
            "exception without a reason",
            &[(
                "[customer]\n",
                "[[packages.exceptions]]\nname = \"aisopsflow-extra\"\nreason = \"x\"\n\n[customer]\n",
            )],
            &["has no real reason", "fix: explain in `reason`"],
        ),
        (
            "tag pattern without {semver}",
            &[("release = \"v{semver}\"", "release = \"v{version}\"")],
            &["key `tags.release`", "no `{semver}` placeholder", "fix:"],
        ),
        (
            "release and release_latest equal",
            &[(
                "release_latest = \"release-v{semver}\"",
                "release_latest = \"v{semver}\"",
            )],
            &["tags.release_latest", "same pattern", "fix:"],
        ),
        (
            "image tag with `+`",
            &[(
                "image_tags = [\"{semver}\", \"sha-{sha7}\"]",
                "image_tags = [\"{semver}+x\", \"sha-{sha7}\"]",
            )],
            &["does not expand to a valid image tag", "fix:"],
        ),
        (
            "image tag with unknown placeholder",
            &[(
                "image_tags = [\"{semver}\", \"sha-{sha7}\"]",
                "image_tags = [\"{semver}\", \"{branch}\"]",
            )],
            &["`{branch}` does not expand", "fix:"],
        ),
        (
            "no image tags",
            &[(
                "image_tags = [\"{semver}\", \"sha-{sha7}\"]",
                "image_tags = []",
            )],
            &["tags.image_tags", "is empty", "fix:"],
        ),
        (
            "latest not a tag",
            &[("latest = \"latest\"", "latest = \"la test\"")],
            &["tags.latest", "not a valid image tag", "fix:"],
        ),
        (
            "enterprise URL as SDK link",
            &[(
                "sdk_repository = \"https://github.com/aisopsflow/aisopsflow-sdk\"",
                "sdk_repository = \"https://github.com/aisopsflow/aisopsflow-enterprise\"",
            )],
            &[
                "customer.sdk_repository",
                "points at the enterprise repository",
                "fix:",
            ],
        ),
        (
            "SDK link not https",
            &[(
                "sdk_repository = \"https://github.com/aisopsflow/aisopsflow-sdk\"",
                "sdk_repository = \"http://github.com/aisopsflow/aisopsflow-sdk\"",
            )],
            &["not an https URL", "fix:"],
        ),
        (
            "bad glob",
            &[(
                "docs = [\"docs/customer/**/*.md\"]",
                "docs = [\"docs/[customer/**/*.md\"]",
            )],
            &["bad glob", "fix: use a glob"],
        ),
        (
            "registry host with a path",
            &[("host = \"ghcr.io\"", "host = \"ghcr.io/aisopsflow\"")],
            &["registry.host", "fix:"],
        ),
        (
            "organisation in upper case",
            &[("org = \"aisopsflow\"", "org = \"AisOpsFlow\"")],
            &["registry.org", "fix:"],
        ),
        (
            "repository not owner/name",
            &[(
                "name = \"aisopsflow/aisopsflow-enterprise\"",
                "name = \"aisopsflow-enterprise\"",
            )],
            &["repository.name", "not `owner/name`", "fix:"],
        ),
        (
            "workflow outside .github/workflows",
            &[(
                "publish_workflow = \".github/workflows/publish-images.yml\"",
                "publish_workflow = \"publish-images.yml\"",
            )],
            &["repository.publish_workflow", "fix:"],
        ),
        (
            "no release operators",
            &[(
                "release_operators = [\"Team:release-operators\"]",
                "release_operators = []",
            )],
            &["release_operators", "is empty", "fix:"],
        ),
        (
            "unknown bypass actor type",
            &[(
                "release_operators = [\"Team:release-operators\"]",
                "release_operators = [\"Squad:ops\"]",
            )],
            &["unknown actor type `Squad`", "fix: use `Team:<slug>`"],
        ),
        (
            "API URL not http(s)",
            &[(
                "github = \"https://api.github.com\"",
                "github = \"ftp://api.github.com\"",
            )],
            &["api.github", "not an http(s) URL", "fix:"],
        ),
        (
            "component dir escapes the workspace",
            &[("dir = \"core\"", "dir = \"../core\"")],
            &[
                "components.core.dir",
                "not a directory inside the workspace",
                "fix:",
            ],
        ),
        (
            "component dir absolute",
            &[("dir = \"core\"", "dir = \"/etc\"")],
            &["components.core.dir", "fix:"],
        ),
        (
            "edition without {component}",
            &[(
                "package = \"aisopsflow-{component}\"",
                "package = \"aisopsflow-core\"",
            )],
            &["no `{component}` placeholder", "fix:"],
        ),
        (
            // The commercial edition made public is refused first, as what it is.
            "two public editions",
            &[("visibility = \"private\"", "visibility = \"public\"")],
            &["commercial images must never be public", "fix:"],
        ),
        (
            "package README pattern without {package}",
            &[(
                "package_readmes = \"docs/packages/{package}.md\"",
                "package_readmes = \"docs/packages/README.md\"",
            )],
            &["customer.package_readmes", "fix:"],
        ),
        (
            "empty dispatch input",
            &[(
                "dispatch_input = \"publish_latest\"",
                "dispatch_input = \"\"",
            )],
            &["tags.dispatch_input", "fix:"],
        ),
    ];
    let repo = Repo::new();
    let work = repo.work();
    let path = work.join("release.toml");
    let original = std::fs::read_to_string(&path).unwrap();
    for (class, edits, needles) in cases {
        std::fs::write(&path, &original).unwrap();
        for (from, to) in *edits {
            repo.edit_config(from, to);
        }
        let before = repo.snapshot();
        let run = xtask(
            &work,
            &["preflight", "--offline", "--only", "workflow"],
            &[],
        );
        expect(class, &run, 2, needles);
        assert!(
            run.stderr.contains("release.toml"),
            "[{class}] names no file: {}",
            run.stderr
        );
        assert_eq!(repo.snapshot(), before, "[{class}] changed the repository");
    }
    // Not text at all, and empty.
    for (class, bytes) in [
        ("release.toml not UTF-8", &b"\xff\xfe[registry]\x00"[..]),
        ("release.toml empty", &b""[..]),
    ] {
        std::fs::write(&path, bytes).unwrap();
        let run = xtask(
            &work,
            &["preflight", "--offline", "--only", "workflow"],
            &[],
        );
        expect(class, &run, 2, &["release.toml"]);
    }
}

/// Flags, paths and files given wrong.
#[test]
fn bad_invocations_are_usage_errors() {
    let repo = Repo::new();
    let work = repo.work();
    let before = repo.snapshot();
    let head = repo.head();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("att.toml"), "[[attestation]\nid = ").unwrap();
    std::fs::write(
        outside.path().join("att-unknown.toml"),
        "[[attestation]]\nid = \"manual-no-such-thing\"\nby = \"me\"\nnote = \"checked it by hand\"\n",
    )
    .unwrap();
    let att = outside.path().join("att.toml");
    let att_unknown = outside.path().join("att-unknown.toml");
    let missing = outside.path().join("missing.toml");
    type Case<'a> = (&'a str, &'a Path, Vec<&'a str>, i32, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "--repo does not exist",
            &work,
            vec!["preflight", "--repo", "/nonexistent/checkout"],
            2,
            vec![
                "/nonexistent/checkout",
                "pass the path of an aisopsflow-enterprise checkout",
            ],
        ),
        (
            "--repo without release.toml",
            &work,
            vec!["preflight", "--repo", outside.path().to_str().unwrap()],
            2,
            vec!["no release.toml there", "pass the root"],
        ),
        (
            "no workspace above the cwd",
            outside.path(),
            vec!["preflight", "--offline"],
            2,
            vec!["no aisopsflow-enterprise workspace", "pass --repo DIR"],
        ),
        (
            "unknown component",
            &work,
            vec!["preflight", "--offline", "--components", "gui"],
            2,
            vec![
                "unknown component `gui`",
                "known components: console, core, runner",
            ],
        ),
        (
            "unknown --only prefix",
            &work,
            vec!["preflight", "--offline", "--only", "nosuch"],
            2,
            vec!["--only nosuch selects no preflight check", "check ids are:"],
        ),
        (
            "unknown attestation id",
            &work,
            vec![
                "preflight",
                "--offline",
                "--only",
                "manual",
                "--attest",
                "manual-no-such-thing",
            ],
            2,
            vec!["manual-no-such-thing"],
        ),
        (
            "attestations file malformed",
            &work,
            vec![
                "preflight",
                "--offline",
                "--only",
                "manual",
                "--attestations",
                att.to_str().unwrap(),
            ],
            2,
            vec!["att.toml"],
        ),
        (
            "attestations file with an unknown id",
            &work,
            vec![
                "preflight",
                "--offline",
                "--only",
                "manual",
                "--attestations",
                att_unknown.to_str().unwrap(),
            ],
            2,
            vec!["manual-no-such-thing"],
        ),
        (
            "attestations file missing",
            &work,
            vec![
                "preflight",
                "--offline",
                "--only",
                "manual",
                "--attestations",
                missing.to_str().unwrap(),
            ],
            2,
            vec!["missing.toml"],
        ),
        (
            "unknown subcommand",
            &work,
            vec!["deploy"],
            2,
            vec!["unrecognized subcommand 'deploy'"],
        ),
        (
            "unknown format",
            &work,
            vec!["preflight", "--format", "xml"],
            2,
            vec!["invalid value 'xml'", "possible values"],
        ),
        (
            "release without a version",
            &work,
            vec!["release"],
            2,
            vec!["<VERSION>"],
        ),
        (
            "promote without a version",
            &work,
            vec!["promote"],
            2,
            vec!["<VERSION>"],
        ),
        (
            "--keep without --rehearse",
            &work,
            vec!["release", "1.2.3", "--keep"],
            2,
            vec!["--rehearse"],
        ),
        (
            "GitHub API URL not a URL",
            &work,
            vec!["preflight", "--only", "repo-private"],
            2,
            vec!["not a valid GitHub API URL", "GITHUB_API_URL"],
        ),
        (
            "verify: release tag does not exist",
            &work,
            vec!["verify", "9.9.9"],
            2,
            vec![
                "neither release-v9.9.9 nor v9.9.9 exists",
                "git fetch --tags",
            ],
        ),
        (
            "publish: a branch instead of a tag",
            &work,
            vec![
                "publish",
                "--dry-run",
                "--ref",
                "refs/heads/main",
                "--sha",
                &head,
                "--event",
                "push",
            ],
            2,
            vec![
                "`refs/heads/main` is not a tag",
                "published only from release tags",
            ],
        ),
        (
            "publish: an event that cannot publish",
            &work,
            vec![
                "publish",
                "--dry-run",
                "--ref",
                "refs/tags/v1.2.3",
                "--sha",
                &head,
                "--event",
                "schedule",
            ],
            2,
            vec!["event `schedule` cannot publish", "only `push`"],
        ),
        (
            "publish: a short commit",
            &work,
            vec![
                "publish",
                "--dry-run",
                "--ref",
                "refs/tags/v1.2.3",
                "--sha",
                "ABC",
                "--event",
                "push",
            ],
            2,
            vec!["`ABC` is not a full 40-hex lower-case SHA"],
        ),
        (
            "publish: publish_latest not a boolean",
            &work,
            vec![
                "publish",
                "--dry-run",
                "--ref",
                "refs/tags/v1.2.3",
                "--sha",
                &head,
                "--event",
                "workflow_dispatch",
                "--publish-latest",
                "yes",
            ],
            2,
            vec!["`publish_latest` is `yes`", "true or false"],
        ),
        (
            "publish: no ref and no GITHUB_REF",
            &work,
            vec!["publish", "--dry-run", "--sha", &head, "--event", "push"],
            2,
            vec!["no ref", "pass --ref or set GITHUB_REF"],
        ),
        (
            "publish: a tag with build metadata",
            &work,
            vec![
                "publish",
                "--dry-run",
                "--ref",
                "refs/tags/v1.2.3+b",
                "--sha",
                &head,
                "--event",
                "push",
            ],
            2,
            vec!["build metadata", "so pass `1.2.3`"],
        ),
    ];
    for (class, cwd, args, code, needles) in cases {
        let env: Vec<(&str, &str)> = if class == "GitHub API URL not a URL" {
            vec![
                ("GITHUB_API_URL", "not a url"),
                ("GITHUB_TOKEN", "ghp_notused000"),
            ]
        } else {
            vec![]
        };
        let run = xtask(cwd, &args, &env);
        expect(class, &run, code, &needles);
    }
    assert_eq!(repo.snapshot(), before);
}

/// The publish workflow broken in several ways: preflight reports a failed `workflow-present`
/// (exit 1, a policy failure with the file named), never a crash or a pass.
#[test]
fn malformed_workflows_fail_workflow_present() {
    let repo = Repo::new();
    let work = repo.work();
    let wf = work.join(".github/workflows/publish-images.yml");
    let cases: &[(&str, Option<&[u8]>)] = &[
        (
            "workflow YAML malformed",
            Some(b"on: [push\njobs:\n  build: {runs-on: x\n"),
        ),
        (
            "workflow YAML truncated",
            Some(b"name: publish\non:\n  push:\n    tags: ['v*'\n"),
        ),
        ("workflow not UTF-8", Some(b"name: \xff\xfe\n")),
        ("workflow is a YAML list", Some(b"- a\n- b\n")),
        ("workflow empty", Some(b"")),
        ("workflow missing", None),
    ];
    for (class, content) in cases {
        match content {
            Some(c) => std::fs::write(&wf, c).unwrap(),
            None => {
                let _ = std::fs::remove_file(&wf);
            }
        }
        let before = repo.snapshot();
        let run = xtask(
            &work,
            &[
                "preflight",
                "--offline",
                "--only",
                "workflow",
                "--format",
                "json",
            ],
            &[],
        );
        expect(class, &run, 1, &["workflow-present", "publish-images.yml"]);
        let json: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("[{class}] report is not JSON ({e}):\n{}", run.stdout));
        let present = json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "workflow-present")
            .unwrap_or_else(|| panic!("[{class}] no workflow-present:\n{json:#}"));
        assert_eq!(present["status"], "fail", "[{class}] {present:#}");
        assert_eq!(repo.snapshot(), before, "[{class}] changed the repository");
    }
}

// --- The release path through planning, with a real repository and bare remote -----------

/// What `execute` will observe before planning, read through the same git adapter.
fn observe(repo: &Repo, version: &semver::Version) -> anyhow::Result<xtask::plan::World> {
    use xtask::effects::git;
    use xtask::policy::{TagKind, git_tag};
    let root = repo.work();
    let config = xtask::config::Config::load(&root)?;
    let rules = &config.raw.tags;
    let tags = [
        git_tag(rules, version, TagKind::Release),
        git_tag(rules, version, TagKind::ReleaseLatest),
    ];
    let mut patterns = vec![format!(
        "refs/heads/{}",
        config.raw.repository.default_branch
    )];
    patterns.extend(tags.iter().map(|t| format!("refs/tags/{t}")));
    let remote = git::ls_remote(&root, &config.raw.repository.remote, &patterns)?;
    let notes_dir = config.raw.notes.dir.clone();
    let mut world = xtask::plan::World {
        head: git::head(&root)?,
        branch: git::branch(&root)?,
        dirty: git::status(&root)?
            .into_iter()
            .filter(|l| !l[3..].starts_with(&notes_dir))
            .collect(),
        remote_default: remote.get(&patterns[0]).cloned(),
        notes_exist: config.notes_dir().join(format!("{version}.md")).is_file(),
        ..Default::default()
    };
    for t in &tags {
        if let Some(sha) = git::try_rev_parse(&root, &format!("refs/tags/{t}"))? {
            world.local_tags.insert(t.clone(), sha);
            world
                .tag_messages
                .insert(t.clone(), git::tag_message(&root, t)?);
        }
        if let Some(sha) = remote.get(&format!("refs/tags/{t}")) {
            world.remote_tags.insert(t.clone(), sha.clone());
        }
    }
    Ok(world)
}

/// The message `cargo xtask release 1.2.3` writes for core and runner at HEAD.
fn ours(r: &Repo) -> String {
    xtask::plan::tag_message_for(
        "1.2.3",
        &["core".to_string(), "runner".to_string()],
        &r.head(),
        false,
    )
}

fn plan_for(repo: &Repo, version: &str, latest: bool) -> anyhow::Result<xtask::plan::Plan> {
    let version = xtask::policy::parse_version(version)?;
    let world = observe(repo, &version)?;
    let config = xtask::config::Config::load(&repo.work())?;
    xtask::plan::plan(
        &config,
        &xtask::plan::Request {
            version,
            latest,
            components: vec![],
            draft_release: false,
            allow_downgrade: false,
        },
        &world,
    )
}

/// Every refusal of the release path, on a real repository: the exit code, the fix, and no
/// tag created or pushed. Resumable states plan with the finished steps marked done.
#[test]
fn release_path_refusals_and_resumes_through_the_planner() {
    use xtask::plan::StepKind;
    type Setup = fn(&Repo);
    type Expected = Result<(), (u8, &'static [&'static str])>;
    let cases: &[(&str, Setup, bool, Expected)] = &[
        (
            "dirty tree: modified file",
            |r| {
                std::fs::write(
                    r.work().join("core/Dockerfile"),
                    "FROM scratch\nLABEL x=y\n",
                )
                .unwrap()
            },
            false,
            Err((
                2,
                &["uncommitted changes", "core/Dockerfile", "git stash -u"],
            )),
        ),
        (
            "dirty tree: untracked file",
            |r| std::fs::write(r.work().join("stray.txt"), "x").unwrap(),
            false,
            Err((2, &["uncommitted changes", "stray.txt"])),
        ),
        (
            "dirty tree: staged file",
            |r| {
                std::fs::write(r.work().join("new.txt"), "x").unwrap();
                git(&r.work(), &["add", "new.txt"]);
            },
            false,
            Err((2, &["uncommitted changes", "new.txt"])),
        ),
        (
            "detached HEAD",
            |r| git(&r.work(), &["checkout", "-q", "--detach"]).truncate(0),
            false,
            Err((2, &["HEAD is detached", "git switch main"])),
        ),
        (
            "HEAD ahead of the remote",
            |r| git(&r.work(), &["commit", "-q", "--allow-empty", "-m", "local"]).truncate(0),
            false,
            Err((
                2,
                &[
                    "is not the remote default branch",
                    "git pull --ff-only origin main",
                ],
            )),
        ),
        (
            "remote has no default branch",
            |r| git(&r.remote(), &["update-ref", "-d", "refs/heads/main"]).truncate(0),
            false,
            Err((2, &["has no branch main", "git remote -v"])),
        ),
        (
            "tag exists locally at another commit",
            |r| {
                let w = r.work();
                git(&w, &["commit", "-q", "--allow-empty", "-m", "x"]);
                git(&w, &["tag", "v1.2.3"]);
                git(&w, &["reset", "-q", "--hard", "HEAD~1"]);
            },
            false,
            Err((
                1,
                &[
                    "tag v1.2.3 already exists (local) at commit",
                    "releases are immutable",
                ],
            )),
        ),
        (
            "tag exists remotely at another commit",
            |r| {
                let w = r.work();
                git(&w, &["commit", "-q", "--allow-empty", "-m", "x"]);
                git(&w, &["tag", "v1.2.3"]);
                git(&w, &["push", "-q", "origin", "refs/tags/v1.2.3"]);
                git(&w, &["tag", "-d", "v1.2.3"]);
                git(&w, &["reset", "-q", "--hard", "HEAD~1"]);
            },
            false,
            Err((
                1,
                &[
                    "tag v1.2.3 already exists (remote) at commit",
                    "releases are immutable",
                ],
            )),
        ),
        (
            "released before as the other kind",
            |r| {
                git(&r.work(), &["tag", "v1.2.3"]);
            },
            true,
            Err((
                2,
                &["already released as v1.2.3", "cargo xtask promote 1.2.3"],
            )),
        ),
        (
            "released before as release-v, asked without --latest",
            |r| {
                git(&r.work(), &["tag", "release-v1.2.3"]);
            },
            false,
            Err((
                2,
                &["already released as release-v1.2.3", "rerun with --latest"],
            )),
        ),
        (
            "remote unreachable",
            |r| {
                git(
                    &r.work(),
                    &["remote", "set-url", "origin", "/nonexistent/remote.git"],
                )
                .truncate(0)
            },
            false,
            Err((
                3,
                &["listing refs of remote `origin` failed", "git remote -v"],
            )),
        ),
        (
            // Made by hand: the publish run would read no components from it.
            "tag exists locally at HEAD, made by hand",
            |r| git(&r.work(), &["tag", "-a", "-m", "v1.2.3", "v1.2.3"]).truncate(0),
            false,
            Err((
                2,
                &[
                    "exists locally at HEAD",
                    "no `components:` line",
                    "git tag -d v1.2.3",
                ],
            )),
        ),
        (
            "tag exists locally at HEAD, lightweight",
            |r| git(&r.work(), &["tag", "v1.2.3"]).truncate(0),
            false,
            Err((2, &["lightweight", "git tag -d v1.2.3"])),
        ),
        (
            "tag pushed at HEAD, made by hand",
            |r| {
                git(&r.work(), &["tag", "-a", "-m", "v1.2.3", "v1.2.3"]);
                git(&r.work(), &["push", "-q", "origin", "refs/tags/v1.2.3"]);
            },
            false,
            Err((
                1,
                &[
                    "exists on `origin` at HEAD",
                    "cannot finish",
                    "git push origin :refs/tags/v1.2.3",
                ],
            )),
        ),
        (
            "tag pushed at HEAD naming other components",
            |r| {
                let m = ours(r).replace("components: core,runner", "components: core");
                git(&r.work(), &["tag", "-a", "-m", &m, "v1.2.3"]);
                git(&r.work(), &["push", "-q", "origin", "refs/tags/v1.2.3"]);
            },
            false,
            Err((
                1,
                &["names components core, but this release asks for core,runner"],
            )),
        ),
        (
            // The tool writes its resume record before it creates the tag.
            "tag exists locally at HEAD with this tool's message, but no resume record",
            |r| git(&r.work(), &["tag", "-a", "-m", &ours(r), "v1.2.3"]).truncate(0),
            false,
            Err((2, &["no resume record", "git tag -d v1.2.3"])),
        ),
        (
            "tag pushed at HEAD, made by this tool (resume)",
            |r| {
                git(&r.work(), &["tag", "-a", "-m", &ours(r), "v1.2.3"]);
                git(&r.work(), &["push", "-q", "origin", "refs/tags/v1.2.3"]);
            },
            false,
            Ok(()),
        ),
        (
            "detached HEAD at the pushed tag (resume)",
            |r| {
                git(&r.work(), &["tag", "-a", "-m", &ours(r), "v1.2.3"]);
                git(&r.work(), &["push", "-q", "origin", "refs/tags/v1.2.3"]);
                git(&r.work(), &["checkout", "-q", "v1.2.3"]);
            },
            false,
            Ok(()),
        ),
    ];
    for (class, setup, latest, expected) in cases {
        let repo = Repo::new();
        setup(&repo);
        let before = repo.snapshot();
        let got = plan_for(&repo, "1.2.3", *latest);
        assert_eq!(
            repo.snapshot(),
            before,
            "[{class}] planning changed the repository"
        );
        match (got, expected) {
            (Err(e), Err((code, needles))) => {
                let msg = format!("{e:#}");
                assert_eq!(xtask::exit::code_for(&e), *code, "[{class}] {msg}");
                for n in *needles {
                    assert!(msg.contains(n), "[{class}] {msg:?} does not name {n:?}");
                }
            }
            (Ok(plan), Ok(())) => {
                let local = git(&repo.work(), &["tag", "-l", "v1.2.3"]) == "v1.2.3";
                let remote = git(&repo.remote(), &["tag", "-l", "v1.2.3"]) == "v1.2.3";
                assert_eq!(
                    plan.step(StepKind::CreateTag).unwrap().done.is_some(),
                    local || remote,
                    "[{class}]"
                );
                assert_eq!(
                    plan.step(StepKind::PushTag).unwrap().done.is_some(),
                    remote,
                    "[{class}]"
                );
                assert!(
                    plan.step(StepKind::Verify).unwrap().done.is_none(),
                    "[{class}]"
                );
                assert_eq!(plan.commit, repo.head(), "[{class}]");
            }
            (got, want) => panic!("[{class}] got {:?}, want {want:?}", got.map(|p| p.tag)),
        }
    }
}

// --- Malformed answers from GitHub and the registry --------------------------------------

/// One canned answer.
#[derive(Clone, Debug)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Canned {
        Canned {
            status,
            headers: vec![("content-type", content_type.to_string())],
            body: body.into(),
        }
    }
    pub fn header(mut self, k: &'static str, v: impl Into<String>) -> Canned {
        self.headers.push((k, v.into()));
        self
    }
}

/// What a canned server saw: method, path and query, and whether credentials came along.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: bool,
}

/// A tiny HTTP server on 127.0.0.1 answering every request with `answer(method, uri)`.
pub async fn canned_server(
    answer: impl Fn(&Method, &Uri) -> Canned + Send + Sync + 'static,
) -> (String, Arc<std::sync::Mutex<Vec<Seen>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let answer = Arc::new(answer);
    let app = {
        let seen = seen.clone();
        axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
            let (seen, answer) = (seen.clone(), answer.clone());
            async move {
                seen.lock().unwrap().push(Seen {
                    method: method.to_string(),
                    path: uri.to_string(),
                    authorization: headers.contains_key("authorization"),
                });
                let c = answer(&method, &uri);
                let mut h = HeaderMap::new();
                for (k, v) in &c.headers {
                    h.insert(*k, HeaderValue::from_str(v).unwrap());
                }
                let body = if method == Method::HEAD {
                    Vec::new()
                } else {
                    c.body
                };
                (StatusCode::from_u16(c.status).unwrap(), h, body)
            }
        })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, seen)
}

/// Runs the binary off the async runtime (the servers live on it).
pub async fn xtask_async(cwd: PathBuf, args: Vec<String>, env: Vec<(String, String)>) -> Run {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        xtask(&cwd, &args, &env)
    })
    .await
    .unwrap()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn envs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, s)| (k.to_string(), s.to_string()))
        .collect()
}

const REPO_JSON: &str = r#"{"id":1,"full_name":"aisopsflow/aisopsflow-enterprise","private":true,"default_branch":"main","owner":{"login":"aisopsflow","type":"Organization"}}"#;

/// GitHub answers that are not what the API promises: each ends in exit 3 naming the endpoint
/// and the fix, never a panic or a pass, and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_github_answers_are_reported_not_trusted() {
    let repo = Repo::new();
    let cases: Vec<(&str, Canned, i32, Vec<&str>)> = vec![
        (
            "GitHub: truncated JSON",
            Canned::new(200, "application/json", &REPO_JSON[..40]),
            3,
            vec![
                "GET /repos/aisopsflow/aisopsflow-enterprise",
                "JSON we cannot read",
                "fix: check GITHUB_API_URL",
            ],
        ),
        (
            "GitHub: wrong types",
            Canned::new(
                200,
                "application/json",
                r#"{"id":"one","full_name":7,"private":"yes","default_branch":null,"owner":[]}"#,
            ),
            3,
            vec!["JSON we cannot read", "invalid type"],
        ),
        (
            "GitHub: HTML page with 200",
            Canned::new(
                200,
                "text/html",
                "<html><body>Sign in to your network</body></html>",
            ),
            3,
            vec!["JSON we cannot read", "fix: check GITHUB_API_URL"],
        ),
        (
            "GitHub: empty body with 200",
            Canned::new(200, "application/json", ""),
            3,
            vec!["JSON we cannot read"],
        ),
        (
            "GitHub: array instead of object",
            Canned::new(200, "application/json", "[]"),
            3,
            vec!["JSON we cannot read"],
        ),
        (
            "GitHub: HTML 502 from a proxy, every time",
            Canned::new(502, "text/html", "<html>Bad Gateway</html>"),
            3,
            vec![
                "502",
                "GitHub kept failing after 5 attempts",
                "fix: retry later",
            ],
        ),
        (
            "GitHub: 429 with an absurd Retry-After",
            Canned::new(429, "application/json", r#"{"message":"slow down"}"#)
                .header("retry-after", u64::MAX.to_string()),
            3,
            vec!["secondary rate limit", "fix: retry after"],
        ),
        (
            "GitHub: 403 with garbage rate-limit headers",
            Canned::new(403, "application/json", r#"{"message":"Forbidden"}"#)
                .header("x-ratelimit-remaining", "lots")
                .header("x-ratelimit-reset", "-1"),
            // Not a rate limit: a permission answer, so the check could not run (not ready).
            4,
            vec!["repo-private", "403 Forbidden", "not ready"],
        ),
    ];
    for (class, canned, code, needles) in cases {
        let c = canned.clone();
        let (addr, seen) = canned_server(move |_, _| c.clone()).await;
        let before = repo.snapshot();
        let run = xtask_async(
            repo.work(),
            strings(&["preflight", "--only", "repo-private"]),
            envs(&[
                ("GITHUB_API_URL", &format!("http://{addr}")),
                ("GITHUB_TOKEN", "ghp_notarealtoken0000"),
            ]),
        )
        .await;
        expect(class, &run, code, &needles);
        let seen = seen.lock().unwrap().clone();
        assert!(
            seen.iter().any(|r| r.method == "GET"
                && r.path
                    .starts_with("/repos/aisopsflow/aisopsflow-enterprise")
                && r.authorization),
            "[{class}] the server saw no authenticated request: {seen:?}"
        );
        assert_eq!(repo.snapshot(), before, "[{class}] changed the repository");
    }
}

/// A `Link: rel="next"` that points at another origin is not followed: the token would go
/// with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_pagination_never_sends_the_token_to_another_origin() {
    let (thief, stolen) = canned_server(|_, _| Canned::new(200, "application/json", "[]")).await;
    let next = format!("<http://{thief}/steal?page=2>; rel=\"next\"");
    let (addr, _) = canned_server(move |_, _| {
        Canned::new(200, "application/json", "[]").header("link", next.clone())
    })
    .await;
    let gh = xtask::effects::github::Github::new(
        format!("http://{addr}"),
        xtask::effects::github::API_2022,
        Some(xtask::secrets::Secret::new("ghp_notarealtoken0000")),
    )
    .unwrap();
    let err = gh.rulesets(OWNER, REPO).await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        stolen.lock().unwrap().is_empty(),
        "followed a foreign Link: {msg}"
    );
    assert_eq!(xtask::exit::code_for(&err), xtask::exit::EXTERNAL, "{msg}");
    assert!(
        msg.contains("another origin") && msg.contains(&thief),
        "{msg}"
    );
}

// --- A fault-injecting proxy in front of the real registry -------------------------------

/// What the proxy does to a matching request.
#[derive(Clone, Debug)]
pub enum Action {
    /// Answer this instead of asking upstream.
    Answer(Canned),
    /// Answer this body with upstream's status and headers, digest header recomputed.
    Body(&'static str, Vec<u8>),
    /// Forward, then flip a byte of the body and keep upstream's digest header.
    CorruptBody,
    /// Forward, then send half the body and reset the connection.
    ResetMidBody,
    /// Wait, then forward.
    Delay(Duration),
    /// Never answer (until the test ends): a hung registry, for Ctrl-C.
    Hold,
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub method: Option<&'static str>,
    pub path_contains: String,
    /// Matching requests let through before the rule fires.
    pub skip: u32,
    /// Requests the rule fires for.
    pub count: u32,
    pub action: Action,
}

impl Rule {
    pub fn new(method: Option<&'static str>, path: &str, action: Action) -> Rule {
        Rule {
            method,
            path_contains: path.to_string(),
            skip: 0,
            count: 1,
            action,
        }
    }
    pub fn skip(mut self, n: u32) -> Rule {
        self.skip = n;
        self
    }
    pub fn times(mut self, n: u32) -> Rule {
        self.count = n;
        self
    }
}

/// An HTTP proxy on 127.0.0.1 in front of a registry. It rewrites the Bearer challenge so
/// token requests come through it too, which lets rules fault the token service.
pub struct FaultProxy {
    pub addr: String,
    pub rules: Arc<std::sync::Mutex<Vec<Rule>>>,
    /// Requests that fired a rule: (rule path, method, path).
    pub fired: Arc<std::sync::Mutex<Vec<String>>>,
    /// Requests currently held by `Action::Hold`.
    pub held: Arc<AtomicUsize>,
    /// Requests seen in total.
    pub seen: Arc<AtomicU32>,
}

impl FaultProxy {
    pub async fn start(upstream: &str, token_url: &str) -> FaultProxy {
        let rules: Arc<std::sync::Mutex<Vec<Rule>>> = Arc::default();
        let fired: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let held = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(AtomicU32::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let app = {
            let (rules, fired, held, seen) =
                (rules.clone(), fired.clone(), held.clone(), seen.clone());
            let upstream = upstream.to_string();
            let token_url = token_url.to_string();
            let me = addr.clone();
            axum::Router::new().fallback(
                move |method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
                    let (rules, fired, held, seen) =
                        (rules.clone(), fired.clone(), held.clone(), seen.clone());
                    let (upstream, token_url, me) =
                        (upstream.clone(), token_url.clone(), me.clone());
                    async move {
                        seen.fetch_add(1, Ordering::SeqCst);
                        let path = uri.to_string();
                        let action = {
                            let mut rules = rules.lock().unwrap();
                            let mut hit = None;
                            for r in rules.iter_mut() {
                                let matches = match r.path_contains.strip_prefix('=') {
                                    Some(exact) => path == exact,
                                    None => path.contains(&r.path_contains),
                                };
                                if r.count == 0
                                    || !matches
                                    || r.method.is_some_and(|m| m != method.as_str())
                                {
                                    continue;
                                }
                                if r.skip > 0 {
                                    r.skip -= 1;
                                    continue;
                                }
                                r.count -= 1;
                                hit = Some(r.action.clone());
                                fired.lock().unwrap().push(format!("{method} {path}"));
                                break;
                            }
                            hit
                        };
                        if let Some(Action::Answer(c)) = &action {
                            return canned_response(&method, c.clone());
                        }
                        if let Some(Action::Hold) = &action {
                            held.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_secs(600)).await;
                        }
                        if let Some(Action::Delay(d)) = &action {
                            tokio::time::sleep(*d).await;
                        }
                        // Token requests go to the real token service, everything else upstream.
                        let url = if uri.path() == "/token" {
                            format!("{token_url}?{}", uri.query().unwrap_or(""))
                        } else {
                            format!("http://{upstream}{path}")
                        };
                        let mut req = xtask::effects::http::client().request(
                            reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
                            url,
                        );
                        for (k, v) in headers.iter() {
                            if k != "host" {
                                req = req.header(k.as_str(), v.as_bytes());
                            }
                        }
                        let res = match req.body(body).send().await {
                            Ok(r) => r,
                            Err(_) => {
                                return canned_response(
                                    &method,
                                    Canned::new(502, "text/plain", "upstream down"),
                                );
                            }
                        };
                        let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
                        let mut out = HeaderMap::new();
                        for (k, v) in res.headers() {
                            let name =
                                axum::http::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap();
                            let mut v = HeaderValue::from_bytes(v.as_bytes()).unwrap();
                            if k == "www-authenticate" {
                                let s = v
                                    .to_str()
                                    .unwrap()
                                    .replace(&token_url, &format!("http://{me}/token"));
                                v = HeaderValue::from_str(&s).unwrap();
                            }
                            out.insert(name, v);
                        }
                        let mut bytes = res.bytes().await.unwrap_or_default().to_vec();
                        match action {
                            Some(Action::CorruptBody) if !bytes.is_empty() => {
                                let i = bytes.len() / 2;
                                bytes[i] ^= 0x20;
                            }
                            Some(Action::Body(ct, b)) => {
                                out.insert("content-type", HeaderValue::from_static(ct));
                                out.insert(
                                    "docker-content-digest",
                                    HeaderValue::from_str(
                                        &xtask::effects::registry::sha256_digest(&b),
                                    )
                                    .unwrap(),
                                );
                                out.remove("content-length");
                                bytes = b;
                            }
                            Some(Action::ResetMidBody) => {
                                let half = bytes[..bytes.len() / 2].to_vec();
                                let stream = futures_util::stream::iter(vec![
                                    Ok::<_, std::io::Error>(axum::body::Bytes::from(half)),
                                    Err(std::io::Error::new(
                                        std::io::ErrorKind::ConnectionReset,
                                        "fault: reset",
                                    )),
                                ]);
                                return (status, out, axum::body::Body::from_stream(stream))
                                    .into_response_parts();
                            }
                            _ => {}
                        }
                        if method == Method::HEAD {
                            bytes.clear();
                        }
                        (status, out, axum::body::Body::from(bytes)).into_response_parts()
                    }
                },
            )
        };
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultProxy {
            addr,
            rules,
            fired,
            held,
            seen,
        }
    }

    pub fn add(&self, rule: Rule) {
        self.rules.lock().unwrap().push(rule);
    }

    pub fn clear(&self) {
        self.rules.lock().unwrap().clear();
        self.fired.lock().unwrap().clear();
    }

    pub fn fired(&self) -> Vec<String> {
        self.fired.lock().unwrap().clone()
    }
}

trait IntoParts {
    fn into_response_parts(self) -> axum::response::Response;
}

impl IntoParts for (StatusCode, HeaderMap, axum::body::Body) {
    fn into_response_parts(self) -> axum::response::Response {
        use axum::response::IntoResponse;
        self.into_response()
    }
}

fn canned_response(method: &Method, c: Canned) -> axum::response::Response {
    let mut h = HeaderMap::new();
    for (k, v) in &c.headers {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    let body = if method == Method::HEAD {
        Vec::new()
    } else {
        c.body
    };
    (
        StatusCode::from_u16(c.status).unwrap(),
        h,
        axum::body::Body::from(body),
    )
        .into_response_parts()
}

/// The digests `latest` and the release's tags have in the harness, read around the proxy.
async fn registry_state(fx: &crate::registry::Fixture) -> BTreeMap<String, String> {
    let c = crate::registry::harness_client(&fx.h);
    let mut out = BTreeMap::new();
    for pkg in crate::registry::PUBLIC
        .iter()
        .chain(crate::registry::COMMERCIAL.iter())
    {
        let repo = format!("{}/{pkg}", crate::registry::ORG);
        for tag in ["latest", crate::registry::VERSION] {
            let d = c.resolve(&repo, tag).await.unwrap().map(|r| r.digest);
            out.insert(format!("{repo}:{tag}"), d.unwrap_or_default());
        }
    }
    out
}

/// Runs `verify` through the proxy: (exit code, stdout JSON or null, stderr).
async fn verify_via(fx: &crate::registry::Fixture, proxy: &FaultProxy) -> Run {
    let root = fx.root().to_path_buf();
    let (addr, pw) = (proxy.addr.clone(), fx.h.password.expose().to_string());
    let api = fx.gh.base_url.clone();
    tokio::task::spawn_blocking(move || {
        let repo_arg = root.to_str().unwrap().to_string();
        let out = xtask_cmd(
            &root,
            &[
                "verify",
                crate::registry::VERSION,
                "--components",
                "console",
                "--format",
                "json",
                "--repo",
                &repo_arg,
            ],
            &[
                ("AISOPSFLOW_REGISTRY", addr.as_str()),
                ("GITHUB_TOKEN", pw.as_str()),
                ("GITHUB_API_URL", api.as_str()),
            ],
        )
        .output()
        .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    })
    .await
    .unwrap()
}

const HTML: &str = "<!doctype html><html><body>Please sign in to the network</body></html>";

/// Registry answers that are not what the distribution spec promises, and faults in the
/// middle of `verify`: each ends in the documented exit code with the problem named, changes
/// nothing (no file, no tag moved in the registry), and the rerun without the fault passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_faults_and_malformed_answers_then_the_rerun_passes() {
    let Some(fx) = crate::registry::Fixture::new(&format!("v{}", crate::registry::VERSION)).await
    else {
        return;
    };
    let proxy = FaultProxy::start(&fx.h.host, &fx.h.token_url).await;
    // The baseline: through the proxy, with no fault, verify passes.
    let base = verify_via(&fx, &proxy).await;
    expect(
        "baseline through the proxy",
        &base,
        0,
        &["verify-semver-tag"],
    );
    assert!(
        proxy.seen.load(Ordering::SeqCst) > 0,
        "verify bypassed the proxy"
    );
    let files_before = {
        let mut m = BTreeMap::new();
        walk(fx.root(), fx.root(), &mut m);
        m
    };
    let state_before = registry_state(&fx).await;
    let manifest = "/manifests/";
    let cases: Vec<(&str, Vec<Rule>, i32, Vec<&str>)> = vec![
        // One 503, 429 or reset is retried (with backoff, honouring Retry-After): verify
        // passes. Faults that persist past the retries end in exit 3.
        (
            "registry: one 503 in the middle of verify (retried)",
            vec![
                Rule::new(
                    Some("HEAD"),
                    manifest,
                    Action::Answer(Canned::new(503, "text/plain", "busy")),
                )
                .skip(7),
            ],
            0,
            vec!["verify-semver-tag"],
        ),
        (
            "registry: 503 in the middle of verify, persisting",
            vec![
                Rule::new(
                    Some("HEAD"),
                    manifest,
                    Action::Answer(Canned::new(503, "text/plain", "busy")),
                )
                .skip(7)
                .times(1000),
            ],
            3,
            vec!["503", "after 6 attempts", "retry later"],
        ),
        (
            "registry: 502 on every manifest read",
            vec![
                Rule::new(
                    Some("HEAD"),
                    manifest,
                    Action::Answer(Canned::new(502, "text/html", HTML)),
                )
                .times(1000),
            ],
            3,
            vec!["502", "retry later"],
        ),
        (
            "registry: one 429 with Retry-After on a manifest (retried)",
            vec![
                Rule::new(
                    Some("HEAD"),
                    manifest,
                    Action::Answer(
                        Canned::new(429, "application/json", "{}").header("retry-after", "1"),
                    ),
                )
                .skip(3),
            ],
            0,
            vec!["verify-semver-tag"],
        ),
        (
            "registry: 429 on every manifest, persisting",
            vec![
                Rule::new(
                    Some("HEAD"),
                    manifest,
                    Action::Answer(Canned::new(429, "application/json", "{}")),
                )
                .times(1000),
            ],
            3,
            vec!["429", "retry later"],
        ),
        (
            "registry: one connection reset mid-body (retried)",
            vec![Rule::new(Some("GET"), manifest, Action::ResetMidBody)],
            0,
            vec!["verify-semver-tag"],
        ),
        (
            "registry: connection reset mid-body, persisting",
            vec![Rule::new(Some("GET"), manifest, Action::ResetMidBody).times(1000)],
            3,
            vec!["check that the registry is reachable"],
        ),
        (
            "registry: manifest body does not match its digest",
            vec![Rule::new(Some("GET"), manifest, Action::CorruptBody).times(100)],
            1,
            vec!["does not match its digest", "verify-public-metadata-clean"],
        ),
        (
            "registry: HTML instead of a manifest",
            vec![
                Rule::new(
                    Some("HEAD"),
                    "aisopsflow-core/manifests/",
                    Action::Answer(Canned::new(200, "text/html", HTML)),
                ),
                Rule::new(
                    Some("GET"),
                    "aisopsflow-core/manifests/",
                    Action::Answer(Canned::new(200, "text/html", HTML)),
                )
                .times(100),
            ],
            3,
            vec!["text/html", "not a manifest"],
        ),
        (
            "registry: 401 without a challenge",
            vec![Rule::new(
                Some("GET"),
                "=/v2/",
                Action::Answer(Canned::new(401, "text/plain", "no")),
            )],
            3,
            vec!["without a WWW-Authenticate challenge", "OCI registry"],
        ),
        (
            "registry: challenge without a realm",
            vec![Rule::new(
                Some("GET"),
                "=/v2/",
                Action::Answer(
                    Canned::new(401, "text/plain", "no")
                        .header("www-authenticate", "Bearer service=\"x\""),
                ),
            )],
            3,
            vec!["names no realm"],
        ),
        (
            "token service: truncated JSON",
            vec![
                Rule::new(
                    None,
                    "/token",
                    Action::Body("application/json", br#"{"token":"eyJhbGciOi"#.to_vec()),
                )
                .times(100),
            ],
            3,
            vec!["reading the token", "token service"],
        ),
        (
            "token service: HTML with 200",
            vec![
                Rule::new(
                    None,
                    "/token",
                    Action::Body("text/html", HTML.as_bytes().to_vec()),
                )
                .times(100),
            ],
            3,
            vec!["reading the token", "token service"],
        ),
        (
            "token service: JSON without a token",
            vec![
                Rule::new(
                    None,
                    "/token",
                    Action::Body("application/json", br#"{"expires_in":300}"#.to_vec()),
                )
                .times(100),
            ],
            3,
            vec!["answered without a token"],
        ),
        (
            "token service: one 503 (retried)",
            vec![Rule::new(
                None,
                "/token",
                Action::Answer(Canned::new(503, "text/plain", "down")),
            )],
            0,
            vec!["verify-semver-tag"],
        ),
        (
            "token service: 503, persisting",
            vec![
                Rule::new(
                    None,
                    "/token",
                    Action::Answer(Canned::new(503, "text/plain", "down")),
                )
                .times(1000),
            ],
            3,
            vec!["503", "retry later"],
        ),
        (
            "token service: 429, persisting",
            vec![
                Rule::new(
                    None,
                    "/token",
                    Action::Answer(Canned::new(429, "text/plain", "slow down")),
                )
                .times(1000),
            ],
            3,
            vec!["429", "retry later"],
        ),
        (
            "token service: wrong password",
            vec![
                Rule::new(
                    None,
                    "/token",
                    Action::Answer(Canned::new(
                        401,
                        "application/json",
                        r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#,
                    )),
                )
                .times(100),
            ],
            2,
            vec!["refused the credentials from GITHUB_TOKEN", "read:packages"],
        ),
        (
            "registry: 403 on a manifest",
            vec![Rule::new(
                Some("HEAD"),
                manifest,
                Action::Answer(Canned::new(403, "application/json", "{}")),
            )],
            2,
            vec!["403", "use a token with read:packages"],
        ),
        (
            "registry: slow answers",
            vec![Rule::new(None, "/v2/", Action::Delay(Duration::from_millis(1500))).times(4)],
            0,
            vec!["verify-semver-tag"],
        ),
    ];
    for (class, rules, code, needles) in cases {
        proxy.clear();
        for r in rules {
            proxy.add(r);
        }
        let run = verify_via(&fx, &proxy).await;
        expect(class, &run, code, &needles);
        assert!(!proxy.fired().is_empty(), "[{class}] the fault never fired");
        let mut files = BTreeMap::new();
        walk(fx.root(), fx.root(), &mut files);
        assert_eq!(
            files, files_before,
            "[{class}] verify wrote or changed a file"
        );
        assert_eq!(
            registry_state(&fx).await,
            state_before,
            "[{class}] a tag moved"
        );
        // The rerun without the fault completes.
        proxy.clear();
        let rerun = verify_via(&fx, &proxy).await;
        expect(
            &format!("{class} (rerun)"),
            &rerun,
            0,
            &["verify-semver-tag"],
        );
    }

    // No token at all: the private (commercial) packages refuse an anonymous pull, and the
    // message names the variable to set.
    let root = fx.root().to_str().unwrap().to_string();
    let run = xtask_async(
        fx.root().to_path_buf(),
        strings(&[
            "verify",
            crate::registry::VERSION,
            "--components",
            "console",
            "--repo",
            &root,
        ]),
        envs(&[
            ("AISOPSFLOW_REGISTRY", &fx.h.host),
            ("GITHUB_API_URL", &fx.gh.base_url),
        ]),
    )
    .await;
    expect(
        "registry: no token",
        &run,
        2,
        &[
            "anonymously was refused",
            "set GITHUB_TOKEN to a token with read:packages",
        ],
    );
}

// --- Faults in GitHub, through the stand-in's fault hooks ----------------------------------

const SETTINGS_ONLY: &[&str] = &[
    "preflight",
    "--only",
    "repo",
    "--only",
    "actions",
    "--only",
    "packages-registry",
];

async fn preflight_against(h_base: &str, token: &str) -> Run {
    let mut args = strings(SETTINGS_ONLY);
    args.extend(["--repo".to_string(), repo_root().display().to_string()]);
    xtask_async(
        repo_root(),
        args,
        envs(&[("GITHUB_API_URL", h_base), ("GITHUB_TOKEN", token)]),
    )
    .await
}

/// Transient GitHub faults (502, 503, dropped connections, slow answers, secondary rate
/// limits with Retry-After, a primary limit that resets soon) are retried and preflight
/// completes; persistent ones end in exit 3 naming the fix, and the rerun completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_faults_are_retried_or_reported_and_the_rerun_completes() {
    let h = standin::start(World::compliant(OWNER, REPO, OWNER))
        .await
        .unwrap();
    let base = h.base_url.clone();
    let baseline = preflight_against(&base, ADMIN_TOKEN).await;
    expect("GitHub baseline", &baseline, 0, &["repo-private"]);

    type Inject = fn(&StandInHandle);
    let transient: &[(&str, Inject, &[u16])] = &[
        (
            "GitHub: 502 then 503",
            |h| {
                h.inject("/repos/", 1, FaultAction::Status(502));
                h.inject("/repos/", 1, FaultAction::Status(503));
            },
            &[502, 503],
        ),
        (
            "GitHub: connection reset twice",
            |h| h.inject("/repos/", 2, FaultAction::Drop),
            &[0],
        ),
        (
            "GitHub: slow answer",
            |h| {
                h.inject(
                    "/repos/",
                    1,
                    FaultAction::Delay(Duration::from_millis(1500)),
                )
            },
            &[],
        ),
        (
            "GitHub: secondary limit, 429 with Retry-After",
            |h| h.secondary_limit(1, 429, 1),
            &[429],
        ),
        (
            "GitHub: secondary limit, 403 with Retry-After",
            |h| h.secondary_limit(1, 403, 1),
            &[403],
        ),
        (
            // Six seconds, not one: the reset must still be ahead when the binary's first
            // request arrives on a loaded machine, or the fault never fires.
            "GitHub: primary limit exhausted, resets in 6 s",
            |h| h.exhaust_primary(429, Duration::from_secs(6)),
            &[429],
        ),
    ];
    for (class, inject, statuses) in transient {
        h.clear_log();
        inject(&h);
        let run = preflight_against(&base, ADMIN_TOKEN).await;
        expect(class, &run, 0, &["repo-private"]);
        let seen: Vec<u16> = h.requests().iter().map(|r| r.status).collect();
        for s in *statuses {
            assert!(
                seen.contains(s),
                "[{class}] the fault never fired: {seen:?}"
            );
        }
        h.clear_faults();
    }

    type Fix = fn(&StandInHandle);
    let persistent: &[(&str, Inject, Fix, &[&str])] = &[
        (
            "GitHub: 503 on every attempt",
            |h| h.inject("/repos/", 1000, FaultAction::Status(503)),
            |h| h.clear_faults(),
            &[
                "503",
                "GitHub kept failing after 5 attempts",
                "fix: retry later",
            ],
        ),
        (
            "GitHub: every connection reset",
            |h| h.inject("/repos/", 1000, FaultAction::Drop),
            |h| h.clear_faults(),
            &[
                "GitHub API at",
                "after 5 attempts",
                "fix: check the network",
            ],
        ),
        (
            "GitHub: primary limit exhausted for an hour",
            |h| h.exhaust_primary(403, Duration::from_secs(3600)),
            |h| h.with_world(|w| w.rate.exhausted = None),
            &["primary rate limit exceeded until", "fix: retry after"],
        ),
    ];
    for (class, inject, fix, needles) in persistent {
        inject(&h);
        let run = preflight_against(&base, ADMIN_TOKEN).await;
        expect(class, &run, 3, needles);
        fix(&h);
        let rerun = preflight_against(&base, ADMIN_TOKEN).await;
        expect(&format!("{class} (rerun)"), &rerun, 0, &["repo-private"]);
    }

    // A token that is missing, rejected or lacks a permission: checks that could not run,
    // naming the fix; preflight is then not ready (exit 4), never ok.
    let no_token = xtask_async(
        repo_root(),
        [
            strings(SETTINGS_ONLY),
            strings(&["--repo", repo_root().to_str().unwrap()]),
        ]
        .concat(),
        envs(&[("GITHUB_API_URL", &base)]),
    )
    .await;
    expect(
        "GitHub: no token",
        &no_token,
        4,
        &["no GitHub token", "GITHUB_TOKEN"],
    );
    let bad = preflight_against(&base, "ghp_rejected0000000000000000000000000000").await;
    expect(
        "GitHub: token rejected (401)",
        &bad,
        4,
        &["answered 401", "GITHUB_TOKEN"],
    );
    // A writer's token: admin settings are skipped naming the permission, and as the writer
    // is no release operator, the tag ruleset check fails (its tag push would be refused).
    let weak = preflight_against(&base, standin::NO_ADMIN_TOKEN).await;
    expect(
        "GitHub: token lacks administration:read",
        &weak,
        1,
        &["administration=read", "current_user_can_bypass: never"],
    );
    let weak = preflight_against(&base, standin::NO_PACKAGES_TOKEN).await;
    expect(
        "GitHub: token lacks read:packages",
        &weak,
        4,
        &["read:packages"],
    );
}

// --- Ctrl-C --------------------------------------------------------------------------------

/// Starts the binary, waits (bounded) until `in_flight()` says it is blocked in the stage
/// under test, sends SIGINT, and returns how it ended.
async fn interrupt_when(
    mut cmd: crate::support::Closed<Command>,
    in_flight: impl Fn() -> bool,
) -> std::process::ExitStatus {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reached = false;
    for _ in 0..600 {
        if in_flight() {
            reached = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !reached {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "the binary never reached the stage to interrupt:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(xtask::setup::signal(child.id(), xtask::setup::SIGINT));
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let status = child.wait().unwrap();
    assert!(
        !stderr.contains("internal error") && !stderr.contains("panicked"),
        "{stderr}"
    );
    status
}

fn ended_by_sigint(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(2) || status.code() == Some(130)
}

/// SIGINT while preflight waits on GitHub and while verify waits on the registry: the process
/// ends at once, nothing changed, and the rerun completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_preflight_and_verify_leaves_nothing_behind() {
    // Preflight, held inside a GitHub request.
    let h = standin::start(World::compliant(OWNER, REPO, OWNER))
        .await
        .unwrap();
    let proxy = FaultProxy::start(
        h.base_url.trim_start_matches("http://"),
        "http://unused/token",
    )
    .await;
    proxy.add(Rule::new(None, "/repos/", Action::Hold));
    let repo = Repo::new();
    let before = repo.snapshot();
    let base = format!("http://{}", proxy.addr);
    let mut args = strings(SETTINGS_ONLY);
    args.extend(["--repo".to_string(), repo.work().display().to_string()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let cmd = xtask_cmd(
        &repo.work(),
        &argv,
        &[("GITHUB_API_URL", &base), ("GITHUB_TOKEN", ADMIN_TOKEN)],
    );
    let held = proxy.held.clone();
    let status = interrupt_when(cmd, || held.load(Ordering::SeqCst) > 0).await;
    assert!(ended_by_sigint(&status), "preflight: {status:?}");
    assert_eq!(
        repo.snapshot(),
        before,
        "Ctrl-C in preflight changed the repository"
    );
    proxy.clear();
    let rerun = xtask_async(
        repo.work(),
        args.clone(),
        envs(&[("GITHUB_API_URL", &base), ("GITHUB_TOKEN", ADMIN_TOKEN)]),
    )
    .await;
    expect(
        "Ctrl-C during preflight (rerun)",
        &rerun,
        0,
        &["repo-private"],
    );

    // Verify, held inside a registry request.
    let Some(fx) = crate::registry::Fixture::new(&format!("v{}", crate::registry::VERSION)).await
    else {
        return;
    };
    let proxy = FaultProxy::start(&fx.h.host, &fx.h.token_url).await;
    proxy.add(Rule::new(Some("HEAD"), "/manifests/", Action::Hold).skip(5));
    let mut files_before = BTreeMap::new();
    walk(fx.root(), fx.root(), &mut files_before);
    let state_before = registry_state(&fx).await;
    let root = fx.root().to_str().unwrap().to_string();
    let cmd = xtask_cmd(
        fx.root(),
        &[
            "verify",
            crate::registry::VERSION,
            "--components",
            "console",
            "--repo",
            &root,
        ],
        &[
            ("AISOPSFLOW_REGISTRY", &proxy.addr),
            ("GITHUB_TOKEN", fx.h.password.expose()),
            ("GITHUB_API_URL", &fx.gh.base_url),
        ],
    );
    let held = proxy.held.clone();
    let status = interrupt_when(cmd, || held.load(Ordering::SeqCst) > 0).await;
    assert!(ended_by_sigint(&status), "verify: {status:?}");
    let mut files = BTreeMap::new();
    walk(fx.root(), fx.root(), &mut files);
    assert_eq!(files, files_before, "Ctrl-C in verify wrote a file");
    assert_eq!(registry_state(&fx).await, state_before);
    proxy.clear();
    let rerun = verify_via(&fx, &proxy).await;
    expect(
        "Ctrl-C during verify (rerun)",
        &rerun,
        0,
        &["verify-semver-tag"],
    );
}

// --- Docker: an unreachable engine, a connection dropped mid-build, hostile contexts -------

/// `preflight --only build-core` with no engine behind `DOCKER_HOST`: exit 3 naming the host
/// and how to start one, before anything is compiled or built.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_unreachable_is_exit_3_naming_the_fix() {
    let repo = Repo::new();
    let before = repo.snapshot();
    // A socket that accepts and hangs up at once: an engine dying as we connect.
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("closing.sock");
    let listener = tokio::net::UnixListener::bind(&sock).unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            drop(s);
        }
    });
    let closing = format!("unix://{}", sock.display());
    for (class, host) in [
        ("Docker: no socket", "unix:///nonexistent/docker.sock"),
        ("Docker: closed TCP port", "tcp://127.0.0.1:9"),
        ("Docker: socket hangs up at once", closing.as_str()),
    ] {
        let run = xtask_async(
            repo.work(),
            strings(&["preflight", "--only", "build-core", "--release", "1.2.3"]),
            envs(&[("DOCKER_HOST", host)]),
        )
        .await;
        expect(
            class,
            &run,
            3,
            &["cannot reach the Docker engine at", "start an engine"],
        );
        assert!(
            run.stderr.contains(host),
            "[{class}] does not name {host}: {}",
            run.stderr
        );
    }
    assert_eq!(repo.snapshot(), before);
}

/// Where a socket proxy cuts the build connection.
#[derive(Clone, Copy, Debug)]
enum Cut {
    /// After this many bytes of the engine's answer to the build request.
    Answer(usize),
    /// After this many bytes of the build request (the context upload).
    Upload(usize),
}

/// A unix-socket proxy in front of the Docker engine that cuts the connection carrying the
/// build request. The shared engine is never restarted; this is how "the engine went away in
/// the middle of a build" is simulated.
async fn docker_proxy(dir: &Path, cut: Option<Cut>) -> (PathBuf, Arc<AtomicU32>) {
    let sock = dir.join(format!(
        "docker-{}.sock",
        cut.map_or("pass".into(), |c| format!("{c:?}").replace(['(', ')'], "-"))
    ));
    let listener = tokio::net::UnixListener::bind(&sock).unwrap();
    let cuts = Arc::new(AtomicU32::new(0));
    let counter = cuts.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let Ok(engine) = tokio::net::UnixStream::connect("/var/run/docker.sock").await
                else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut er, mut ew) = engine.into_split();
                let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let up_armed = armed.clone();
                let up_counter = counter.clone();
                let up = async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut sent_after = 0usize;
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if buf[..n].windows(7).any(|w| w == b"/build?") {
                            up_armed.store(true, Ordering::SeqCst);
                        }
                        if let (true, Some(Cut::Upload(limit))) =
                            (up_armed.load(Ordering::SeqCst), cut)
                        {
                            if sent_after + n > limit {
                                up_counter.fetch_add(1, Ordering::SeqCst);
                                break;
                            }
                            sent_after += n;
                        }
                        if ew.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut sent_after = 0usize;
                    loop {
                        let n = match er.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let mut n = n;
                        if let (true, Some(Cut::Answer(limit))) =
                            (armed.load(Ordering::SeqCst), cut)
                        {
                            if sent_after + n > limit {
                                n = limit - sent_after;
                                let _ = cw.write_all(&buf[..n]).await;
                                counter.fetch_add(1, Ordering::SeqCst);
                                break;
                            }
                            sent_after += n;
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                // Whichever side stops first closes both: the cut is a hard close.
                tokio::select! {
                    _ = up => {}
                    _ = down => {}
                }
            });
        }
    });
    (sock, cuts)
}

/// The engine's connection drops in the middle of a build (while it streams its answer, and
/// while the context is uploading): the build fails with exit 3 naming the engine and the fix,
/// and the rerun through a healthy connection builds the image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_connection_dropped_mid_build_then_the_rerun_builds() {
    crate::docker_required!();
    use xtask::effects::docker::{BuildRequest, Docker};
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY payload /payload\nCOPY hello /hello\n",
    )
    .unwrap();
    // A context large enough that the upload spans many reads.
    std::fs::write(ctx.join("payload"), vec![7u8; 512 * 1024]).unwrap();
    std::fs::write(ctx.join("hello"), "hello\n").unwrap();
    let tag = format!("aisopsflow-reliability/dropped:{}", std::process::id());
    let req = BuildRequest {
        tag: tag.clone(),
        build_args: Default::default(),
        labels: Default::default(),
    };
    for cut in [Cut::Answer(64), Cut::Upload(100 * 1024)] {
        let (sock, cuts) = docker_proxy(dir.path(), Some(cut)).await;
        let docker = Docker::connect_to(&format!("unix://{}", sock.display()))
            .await
            .unwrap();
        let entries = xtask::images::context::collect(&ctx).unwrap();
        let err = docker
            .build(&req, xtask::images::context::stream(entries), |_| {})
            .await
            .expect_err("a build over a cut connection cannot succeed");
        let msg = format!("{err:#}");
        println!(
            "| Docker: connection cut {cut:?} | {} | {msg} |",
            xtask::exit::code_for(&err)
        );
        assert_eq!(
            cuts.load(Ordering::SeqCst),
            1,
            "{cut:?}: the cut never happened: {msg}"
        );
        assert_eq!(
            xtask::exit::code_for(&err),
            xtask::exit::EXTERNAL,
            "{cut:?}: {msg}"
        );
        assert!(
            msg.contains(&tag) && msg.contains("docker info") && msg.contains("rerun"),
            "{cut:?}: {msg}"
        );
    }
    // The rerun, through a proxy that does not cut, builds the image.
    let (sock, cuts) = docker_proxy(dir.path(), None).await;
    let docker = Docker::connect_to(&format!("unix://{}", sock.display()))
        .await
        .unwrap();
    let entries = xtask::images::context::collect(&ctx).unwrap();
    let id = docker
        .build(&req, xtask::images::context::stream(entries), |_| {})
        .await
        .expect("the rerun builds");
    assert_eq!(cuts.load(Ordering::SeqCst), 0);
    assert!(docker.image(&tag).await.unwrap().is_some(), "{id}");
    docker.remove_image(&tag).await.unwrap();
}

/// Build contexts that try to smuggle in host files, and one of 100,000 files.
#[test]
fn hostile_and_huge_build_contexts() {
    use xtask::images::context::{EntryKind, collect, hash, write_tar};
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("secret.txt");
    std::fs::write(&outside, "host file").unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("symlink escape: absolute target", "link", "/etc/passwd"),
        (
            "symlink escape: relative, above the root",
            "link",
            "../secret.txt",
        ),
        (
            "symlink escape: deep relative",
            "a/b/link",
            "../../../secret.txt",
        ),
        (
            "symlink escape: down and back up past the root",
            "a/link",
            "b/../../../secret.txt",
        ),
    ];
    for (class, at, target) in cases {
        let ctx = dir.path().join(format!("ctx-{}", class.len() + at.len()));
        let _ = std::fs::remove_dir_all(&ctx);
        std::fs::create_dir_all(ctx.join("a/b")).unwrap();
        std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY . /\n").unwrap();
        std::os::unix::fs::symlink(target, ctx.join(at)).unwrap();
        let err = collect(&ctx).expect_err(class);
        let msg = format!("{err:#}");
        println!("| {class} | error | {msg} |");
        assert!(
            msg.contains(at.rsplit('/').next().unwrap()) && msg.contains(target),
            "[{class}] {msg}"
        );
        assert!(
            msg.contains(".dockerignore") || msg.contains("remove"),
            "[{class}] names no fix: {msg}"
        );
    }
    // An escaping symlink that .dockerignore excludes is never looked at.
    let ctx = dir.path().join("ctx-ignored");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(ctx.join(".dockerignore"), "link\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", ctx.join("link")).unwrap();
    let entries = collect(&ctx).expect("an ignored symlink is fine");
    assert!(entries.iter().all(|e| e.rel != "link"));
    // A symlink inside the context is kept as a link, never followed.
    std::fs::write(ctx.join(".dockerignore"), "").unwrap();
    std::fs::remove_file(ctx.join("link")).unwrap();
    std::fs::write(ctx.join("real"), "x").unwrap();
    std::os::unix::fs::symlink("real", ctx.join("inside")).unwrap();
    let entries = collect(&ctx).unwrap();
    assert!(entries.iter().any(|e| e.rel == "inside"
        && matches!(&e.kind, EntryKind::Symlink { target } if target == "real")));

    // 100,000 files in 100 directories: collected, hashed and streamed as a tar (into a sink,
    // so nothing is held in memory), deterministically.
    let big = dir.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    std::fs::write(big.join("Dockerfile"), "FROM scratch\nCOPY . /\n").unwrap();
    std::fs::write(big.join(".dockerignore"), "d7*/f1*\n").unwrap();
    for d in 0..100 {
        let sub = big.join(format!("d{d}"));
        std::fs::create_dir_all(&sub).unwrap();
        for f in 0..1000 {
            std::fs::write(sub.join(format!("f{f}")), format!("{d}/{f}")).unwrap();
        }
    }
    let entries = collect(&big).expect("collecting 100,000 files");
    let files = entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::File { .. }))
        .count();
    // d7 and d70..d79 exclude f1, f10..f19, f100..f199: 111 files each.
    assert_eq!(files, 100_000 - 11 * 111 + 2, "files collected");
    let counted = CountingSink::default();
    let counted = write_tar(&entries, counted).unwrap();
    assert!(counted.0 > 100_000 * 512, "tar of {} bytes", counted.0);
    assert_eq!(
        hash(&entries).unwrap(),
        hash(&collect(&big).unwrap()).unwrap(),
        "not deterministic"
    );
    println!(
        "| context of 100,000 files | ok | {files} files, tar {} bytes |",
        counted.0
    );
}

#[derive(Default)]
struct CountingSink(u64);

impl std::io::Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// --- The release path: bad versions, and faults while a release runs ----------------------

/// `release VERSION --dry-run` and `promote VERSION` refuse every bad version before reading
/// anything (exit 2, the fix named, nothing changed).
#[test]
fn release_and_promote_refuse_bad_versions() {
    let repo = Repo::new();
    let work = repo.work();
    let before = repo.snapshot();
    for (class, v, needles) in BAD_VERSIONS {
        let v = if *class == "too long for an image tag" {
            long_version()
        } else {
            v.to_string()
        };
        for args in [
            vec!["release", v.as_str(), "--dry-run"],
            vec!["release", v.as_str(), "--latest", "--yes"],
            vec!["promote", v.as_str(), "--yes"],
        ] {
            let run = xtask(&work, &args, &[("GITHUB_TOKEN", "ghp_notused000")]);
            expect(&format!("{class}: {}", args.join(" ")), &run, 2, needles);
        }
    }
    assert_eq!(
        repo.snapshot(),
        before,
        "a bad version changed the repository"
    );
}

/// Runs `release VERSION --yes` in a release test world with the registry at `registry` (the
/// harness itself, or a fault proxy in front of it).
async fn release_through(
    env: &crate::release::Env,
    version: &str,
    registry: &str,
    extra: &[&str],
) -> Run {
    let mut args = strings(&[
        "--repo",
        env.work.to_str().unwrap(),
        "release",
        version,
        "--yes",
        "--attestations",
        env.attestations.to_str().unwrap(),
        "--skip-checks",
        "build",
        // The simulated runs push stand-in images, which do not run.
        "--skip-checks",
        "verify-runs",
        "--skip-checks",
        "verify-contents",
    ]);
    args.extend(strings(extra));
    xtask_async(
        env.work.clone(),
        args,
        envs(&[
            ("GITHUB_API_URL", &env.gh.base_url),
            ("GITHUB_TOKEN", ADMIN_TOKEN),
            ("AISOPSFLOW_REGISTRY", registry),
        ]),
    )
    .await
}

/// `latest` of every package, read from the harness directly.
async fn latest_digests(env: &crate::release::Env) -> BTreeMap<String, Option<String>> {
    let all = env.all_tags().await;
    env.packages()
        .into_iter()
        .map(|p| {
            let d = all.get(&(p.clone(), "latest".to_string())).cloned();
            (p, d)
        })
        .collect()
}

/// After a release of `version` as `tag` completed: exactly one tag for it here and on the
/// remote, its notes and customer notes, no resume record.
fn assert_released(env: &crate::release::Env, version: &str, tag: &str) {
    let remote: Vec<String> = env
        .remote_tags()
        .into_iter()
        .filter(|t| t.ends_with(&format!("v{version}")))
        .collect();
    assert_eq!(
        remote,
        vec![tag.to_string()],
        "exactly one remote tag for {version}"
    );
    let files: Vec<String> = env
        .notes_files()
        .into_iter()
        .filter(|f| f.starts_with(version) || f.starts_with(&format!(".{version}")))
        .collect();
    assert_eq!(
        files,
        vec![
            format!("{version}.customer.md"),
            format!("{version}.json"),
            format!("{version}.md"),
        ],
        "the notes, the release record and nothing else for {version}"
    );
}

/// Faults while `release` runs, on GitHub (while it finds and waits for the publish run) and
/// on the registry (while it reads `latest` and while it verifies). Transient faults are
/// retried and the release completes; persistent ones stop it with exit 3, the tag pushed at
/// most once, no notes, `latest` not moved by us, and the rerun completes the release.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_faults_then_the_rerun_completes() {
    let Some(env) = crate::release::Env::start().await else {
        return;
    };
    let reg = env.reg.host.clone();
    // The runs list and the run itself: only the wait, not the gate's settings reads.
    let runs = "/repos/aisopsflow/aisopsflow-enterprise/actions/workflows/";
    let run_detail = "/repos/aisopsflow/aisopsflow-enterprise/actions/runs/";

    // Transient GitHub faults while waiting: retried, the release completes.
    env.gh.inject(runs, 1, FaultAction::Status(502));
    env.gh.inject(runs, 1, FaultAction::Status(503));
    env.gh.inject(run_detail, 2, FaultAction::Drop);
    env.gh.secondary_limit(1, 429, 1);
    let latest_before = latest_digests(&env).await;
    let run = release_through(&env, "3.0.0", &reg, &[]).await;
    expect(
        "release: transient GitHub faults while waiting",
        &run,
        0,
        &["released 3.0.0 as v3.0.0"],
    );
    let seen: Vec<u16> = env.gh.requests().iter().map(|r| r.status).collect();
    assert!(
        seen.contains(&502) && seen.contains(&503) && seen.contains(&0) && seen.contains(&429),
        "{seen:?}"
    );
    assert_released(&env, "3.0.0", "v3.0.0");
    assert_eq!(
        latest_digests(&env).await,
        latest_before,
        "a v* release moved latest"
    );
    env.gh.clear_faults();

    // GitHub down while waiting: exit 3 after the push, no notes; the rerun completes.
    env.gh.inject(runs, 1000, FaultAction::Status(503));
    env.gh.inject(run_detail, 1000, FaultAction::Status(503));
    // One commit gives one image: each version from its own commit.
    env.commit_and_push("core/fault-3.1.txt", "3.1\n");
    let run = release_through(&env, "3.1.0", &reg, &[]).await;
    expect(
        "release: GitHub 503 on every attempt while waiting",
        &run,
        3,
        &["503", "retry later"],
    );
    assert!(
        env.remote_tags().contains("v3.1.0"),
        "the tag was pushed before the wait"
    );
    assert!(env.notes("3.1.0").is_none(), "no notes after a failed wait");
    env.gh.clear_faults();
    let rerun = release_through(&env, "3.1.0", &reg, &[]).await;
    expect(
        "release: GitHub 503 while waiting (rerun)",
        &rerun,
        0,
        &["[done] push exactly one tag"],
    );
    assert_released(&env, "3.1.0", "v3.1.0");
    assert_eq!(
        latest_digests(&env).await,
        latest_before,
        "a v* release moved latest"
    );

    // The registry fails before anything is tagged: nothing happens at all.
    let proxy = FaultProxy::start(&reg, &env.reg.token_url).await;
    proxy.add(
        Rule::new(
            Some("HEAD"),
            "/manifests/latest",
            Action::Answer(Canned::new(503, "text/plain", "busy")),
        )
        .times(1000),
    );
    // One commit gives one image: each version from its own commit.
    env.commit_and_push("core/fault-3.2.txt", "3.2\n");
    let tags_before = env.remote_tags();
    let run = release_through(&env, "3.2.0", &proxy.addr, &[]).await;
    expect(
        "release: registry 503 while reading latest",
        &run,
        3,
        &["nothing was tagged"],
    );
    assert_eq!(
        env.remote_tags(),
        tags_before,
        "a tag was pushed although latest was unknown"
    );
    assert!(!env.state_exists("3.2.0") && env.notes("3.2.0").is_none());
    proxy.clear();

    // The registry fails in the middle of the release's verify (after the run published):
    // exit 3, no notes; the rerun verifies again and completes. `--latest` this time: latest
    // must end on this release, and only through the publish run.
    proxy.add(
        Rule::new(
            Some("HEAD"),
            "/manifests/3.2.0",
            Action::Answer(Canned::new(503, "text/plain", "busy")),
        )
        .times(1000),
    );
    let run = release_through(&env, "3.2.0", &proxy.addr, &["--latest"]).await;
    expect(
        "release: registry 503 in the middle of verify",
        &run,
        3,
        &["503", "retry later"],
    );
    assert!(env.notes("3.2.0").is_none(), "no partial notes");
    // The gate asks the registry what the publish run will ask (this release's version tags)
    // before tagging, so the 503 on `/manifests/3.2.0` now stops the release before the tag
    // exists: nothing to finish, and the rerun completes.
    assert!(
        !env.remote_tags().contains("release-v3.2.0"),
        "refused before tagging"
    );
    assert!(!proxy.fired().is_empty());
    proxy.clear();
    let rerun = release_through(&env, "3.2.0", &proxy.addr, &["--latest"]).await;
    expect(
        "release: registry 503 in the middle of verify (rerun)",
        &rerun,
        0,
        &["released 3.2.0 as release-v3.2.0"],
    );
    assert_released(&env, "3.2.0", "release-v3.2.0");
    let all = env.all_tags().await;
    for p in env.packages() {
        assert_eq!(
            all.get(&(p.clone(), "latest".to_string())),
            all.get(&(p.clone(), "3.2.0".to_string())),
            "{p}: latest is not on 3.2.0"
        );
    }

    // A connection reset while reading a manifest during verify, then slow answers: the
    // first run stops with exit 3, the rerun completes despite the slowness.
    proxy.add(Rule::new(Some("GET"), "/manifests/sha256:", Action::ResetMidBody).times(1000));
    // One commit gives one image: each version from its own commit.
    env.commit_and_push("core/fault-3.3.txt", "3.3\n");
    let run = release_through(&env, "3.3.0", &proxy.addr, &[]).await;
    expect(
        "release: connection reset during verify",
        &run,
        3,
        &["check that the registry is reachable"],
    );
    assert!(!proxy.fired().is_empty() && env.notes("3.3.0").is_none());
    proxy.clear();
    proxy.add(Rule::new(None, "/v2/", Action::Delay(Duration::from_millis(700))).times(6));
    let rerun = release_through(&env, "3.3.0", &proxy.addr, &[]).await;
    expect(
        "release: slow registry (rerun)",
        &rerun,
        0,
        &["released 3.3.0 as v3.3.0"],
    );
    assert_released(&env, "3.3.0", "v3.3.0");

    // Ctrl-C while verify waits on a hung registry: exit 130 naming the rerun, the tag pushed
    // once, no notes; the rerun completes.
    // One commit gives one image: each version from its own commit.
    env.commit_and_push("core/fault-3.4.txt", "3.4\n");
    // The hold goes in once the tag is pushed: before it, the gate asks the registry about
    // 3.4.0 too (what the publish run will ask), and that is not the stage under test.
    let cmd = xtask_cmd(
        &env.work,
        &[
            "--repo",
            env.work.to_str().unwrap(),
            "release",
            "3.4.0",
            "--yes",
            "--attestations",
            env.attestations.to_str().unwrap(),
            "--skip-checks",
            "build",
            "--skip-checks",
            "verify-runs",
            "--skip-checks",
            "verify-contents",
        ],
        &[
            ("GITHUB_API_URL", &env.gh.base_url),
            ("GITHUB_TOKEN", ADMIN_TOKEN),
            ("AISOPSFLOW_REGISTRY", &proxy.addr),
        ],
    );
    let held = proxy.held.clone();
    let armed = std::sync::atomic::AtomicBool::new(false);
    let status = interrupt_when(cmd, || {
        if !armed.load(Ordering::SeqCst) && env.remote_tags().contains("v3.4.0") {
            proxy.add(Rule::new(Some("HEAD"), "/manifests/3.4.0", Action::Hold));
            armed.store(true, Ordering::SeqCst);
        }
        held.load(Ordering::SeqCst) > 0
    })
    .await;
    assert!(ended_by_sigint(&status), "release: {status:?}");
    assert!(env.remote_tags().contains("v3.4.0") && env.notes("3.4.0").is_none());
    proxy.clear();
    let rerun = release_through(&env, "3.4.0", &proxy.addr, &[]).await;
    expect(
        "release: Ctrl-C during verify (rerun)",
        &rerun,
        0,
        &["released 3.4.0 as v3.4.0"],
    );
    assert_released(&env, "3.4.0", "v3.4.0");
    // `latest` stayed on 3.2.0, the last `release-v*`, through every v* release and fault.
    let all = env.all_tags().await;
    for p in env.packages() {
        assert_eq!(
            all.get(&(p.clone(), "latest".to_string())),
            all.get(&(p.clone(), "3.2.0".to_string())),
            "{p}: latest moved off 3.2.0"
        );
    }
}

/// Faults while `promote` dispatches and waits: a dispatch answered 502 is not repeated (a POST
/// may have taken effect) and ends in exit 3 with `latest` where it was; the rerun dispatches
/// once and moves only `latest`. GitHub failing while promote waits ends in exit 3 too, and
/// the rerun completes without a second dispatch when the first one's run finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_faults_then_the_rerun_completes() {
    let Some(env) = crate::release::Env::start().await else {
        return;
    };
    let reg = env.reg.host.clone();
    let run = release_through(&env, "5.0.0", &reg, &["--latest"]).await;
    expect(
        "promote setup: release-v5.0.0",
        &run,
        0,
        &["released 5.0.0"],
    );
    env.commit_and_push("core/CHANGE.txt", "a fix\n");
    let run = release_through(&env, "5.1.0", &reg, &[]).await;
    expect("promote setup: v5.1.0", &run, 0, &["released 5.1.0"]);
    let before = env.all_tags().await;
    let dispatches = || {
        env.gh.with_world(|w| {
            w.runs
                .iter()
                .filter(|r| r.event == "workflow_dispatch")
                .count()
        })
    };

    // The dispatch itself answered 502: not repeated, exit 3, nothing moved.
    env.gh.inject(
        "/repos/aisopsflow/aisopsflow-enterprise/actions/workflows/publish-images.yml/dispatches",
        1,
        FaultAction::Status(502),
    );
    let run = xtask_async(
        env.work.clone(),
        strings(&[
            "--repo",
            env.work.to_str().unwrap(),
            "promote",
            "5.1.0",
            "--yes",
        ]),
        envs(&[
            ("GITHUB_API_URL", &env.gh.base_url),
            ("GITHUB_TOKEN", ADMIN_TOKEN),
            ("AISOPSFLOW_REGISTRY", &reg),
        ]),
    )
    .await;
    expect("promote: dispatch answered 502", &run, 3, &["502"]);
    let posts = env
        .gh
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("/dispatches"))
        .count();
    assert_eq!(
        posts, 1,
        "a dispatch that may have taken effect was repeated"
    );
    assert_eq!(dispatches(), 0);
    assert_eq!(
        env.all_tags().await,
        before,
        "a failed dispatch moved a tag"
    );

    // The rerun dispatches once and moves exactly `latest` to 5.1.0.
    let run = xtask_async(
        env.work.clone(),
        strings(&[
            "--repo",
            env.work.to_str().unwrap(),
            "promote",
            "5.1.0",
            "--yes",
        ]),
        envs(&[
            ("GITHUB_API_URL", &env.gh.base_url),
            ("GITHUB_TOKEN", ADMIN_TOKEN),
            ("AISOPSFLOW_REGISTRY", &reg),
        ]),
    )
    .await;
    expect(
        "promote: dispatch answered 502 (rerun)",
        &run,
        0,
        &["5.1.0"],
    );
    assert_eq!(dispatches(), 1);
    let after = env.all_tags().await;
    for (k, d) in &after {
        if k.1 == "latest" {
            assert_eq!(
                Some(d),
                after.get(&(k.0.clone(), "5.1.0".to_string())),
                "{k:?}"
            );
        } else {
            assert_eq!(before.get(k), Some(d), "{k:?} moved");
        }
    }

    // GitHub fails while promote waits for the run of its dispatch: exit 3. The run still
    // finishes; the rerun sees `latest` already on 5.0.0 and dispatches nothing more.
    let waits = "/repos/aisopsflow/aisopsflow-enterprise/actions/workflows/publish-images.yml/runs";
    env.gh.inject(waits, 1000, FaultAction::Status(503));
    env.gh.inject(
        "/repos/aisopsflow/aisopsflow-enterprise/actions/runs/",
        1000,
        FaultAction::Status(503),
    );
    let promote = |v: &'static str| {
        xtask_async(
            env.work.clone(),
            // 5.0.0 is older than the 5.1.0 `latest` holds: explicitly allowed.
            strings(&[
                "--repo",
                env.work.to_str().unwrap(),
                "promote",
                v,
                "--yes",
                "--allow-downgrade",
            ]),
            envs(&[
                ("GITHUB_API_URL", &env.gh.base_url),
                ("GITHUB_TOKEN", ADMIN_TOKEN),
                ("AISOPSFLOW_REGISTRY", &reg),
            ]),
        )
    };
    let run = promote("5.0.0").await;
    expect(
        "promote: GitHub 503 while waiting",
        &run,
        3,
        &["503", "retry later"],
    );
    assert_eq!(dispatches(), 2);
    env.gh.clear_faults();
    // The dispatched run completes on its own (the stand-in plays it); wait for it, bounded.
    for _ in 0..300 {
        let done = env.gh.with_world(|w| {
            w.runs
                .iter()
                .filter(|r| r.event == "workflow_dispatch")
                .all(|r| r.status == "completed")
        });
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run = promote("5.0.0").await;
    expect(
        "promote: GitHub 503 while waiting (rerun)",
        &run,
        0,
        &["nothing to do"],
    );
    assert_eq!(dispatches(), 2, "the rerun dispatched again");
    let last = env.all_tags().await;
    for p in env.packages() {
        assert_eq!(
            last.get(&(p.clone(), "latest".to_string())),
            last.get(&(p.clone(), "5.0.0".to_string())),
            "{p}: latest is not on 5.0.0"
        );
    }
}
