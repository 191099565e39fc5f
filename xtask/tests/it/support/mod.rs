//! The one test-support layer of the integration tests: the workspace root, a tree copy, git
//! with the test identity and the one Docker gate here; the binary runner with a closed
//! environment and its run result (`xtask.rs`); the one release-layout builder (`layout.rs`);
//! images over the registry API and skopeo (`registry.rs`); and the one world of the release
//! tests, a bare remote, the GitHub stand-in and the registry harness (`world.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

mod layout;
pub mod registry;
pub mod world;
mod xtask;

pub use layout::Layout;
pub use world::World;
pub use xtask::{Closed, Run, Xtask, text};

/// The root of this workspace (the directory holding release.toml).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent: the workspace root")
        .to_path_buf()
}

/// Copies the tree at `from` to `to` (directories and regular files), creating `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// The identity test commits and tags are made with, whatever the machine's git config says.
pub fn git_identity() -> Vec<(&'static str, &'static str)> {
    vec![
        ("GIT_AUTHOR_NAME", "release tester"),
        ("GIT_AUTHOR_EMAIL", "tester@example.test"),
        ("GIT_COMMITTER_NAME", "release tester"),
        ("GIT_COMMITTER_EMAIL", "tester@example.test"),
        ("GIT_CONFIG_NOSYSTEM", "1"),
    ]
}

/// Runs git in `dir` with the test identity; fails the test with git's stderr on error and
/// returns stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .envs(git_identity())
        .output()
        .expect("git is installed (apt-get install git)");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The one gate of the tests that need the local parts. Returns `true` (the test returns at
/// once) only when `AISOPSFLOW_SKIP_DOCKER=1`, and says so loudly with `what` it skips;
/// otherwise fails the test, naming how to get it, when one of `parts` is missing: a program on
/// `PATH`, or `"engine"` for a Docker engine that answers. `cargo xtask test` provisions them
/// all first (`xtask/src/setup.rs`), so this fails only under a bare `cargo test` on a machine
/// that lacks them.
pub fn skip_docker(what: &str, parts: &[&str]) -> bool {
    if std::env::var("AISOPSFLOW_SKIP_DOCKER").as_deref() == Ok("1") {
        eprintln!("\n!!!! SKIPPED {what}: AISOPSFLOW_SKIP_DOCKER=1 !!!!\n");
        return true;
    }
    for part in parts {
        if *part == "engine" {
            let engine = Command::new("docker").arg("info").output();
            assert!(
                engine.is_ok_and(|o| o.status.success()),
                "no Docker engine answers: run the tests with `cargo xtask test`, which starts one (as root) or names the install command (or set AISOPSFLOW_SKIP_DOCKER=1 to skip, loudly)"
            );
            continue;
        }
        // Where the binary is missing, setup may run the registry as an image instead.
        let found = (*part == "docker-registry"
            && std::env::var_os(::xtask::setup::ENV_REGISTRY_IMAGE).is_some())
            || std::env::var_os("PATH")
                .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(part).is_file()));
        assert!(
            found,
            "`{part}` is not on PATH: run the tests with `cargo xtask test`, which installs it (as root on Debian/Ubuntu) or names the install command (or set AISOPSFLOW_SKIP_DOCKER=1 to skip, loudly)"
        );
    }
    false
}
