//! The reliability suite: bad inputs, malformed answers from GitHub and the registry, faults
//! injected into every external system, and Ctrl-C, each run against the real binary.
//!
//! Every case asserts three things: the documented exit code, a message that names the problem
//! and the fix, and that nothing changed (the work tree, the local and remote refs, no notes
//! file). Fault cases also rerun without the fault and assert that the rerun completes.
//! `docs/reliability.md` lists the classes and outcomes; keep the two in step. One file per
//! fault source.

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
        crate::support::Layout::new()
            .cargo_stub()
            .docs()
            .workflow(repo_root().join(".github/workflows/publish-images.yml"))
            .commit_in(&work, "release layout");
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

pub use crate::support::Run;

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
    Run::from(&out)
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
    run.expect_for(class, code, needles);
    let text = run.text();
    assert!(
        !text.contains("internal error") && !text.contains("panicked"),
        "[{class}] panicked:\n{text}"
    );
}

mod answers;
mod docker;
mod github_faults;
mod inputs;
mod interrupts;
mod planning;
mod registry_faults;
mod release_faults;

// What more than one fault source uses, from where it is defined.
pub(crate) use answers::xtask_async;
use answers::{Canned, envs, strings};
use github_faults::SETTINGS_ONLY;
use inputs::{BAD_VERSIONS, long_version};
use interrupts::{ended_by_sigint, interrupt_when};
use registry_faults::{Action, FaultProxy, Rule, registry_state, verify_via};
