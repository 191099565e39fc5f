//! Provisioning (`xtask/src/setup.rs`) on the real machine: a stopped engine is started as a
//! child and stopped again, and `--no-install` refuses, naming the command, changing nothing.
//!
//! The machine's own engine is shared and never stopped: "no engine answers" is made real by
//! pointing `DOCKER_HOST` at a fresh unix socket of this test's own, on which setup starts a
//! second `dockerd` (with its own data root, exec root and pidfile beside the socket).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A directory of symlinks to the named tools only: a PATH on which everything else is absent.
fn path_with(dir: &Path, tools: &[&str]) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in tools {
        let found = std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("`{tool}` is on this machine's PATH"));
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    bin
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// Acceptance of issue 12: with no engine answering, the main job starts one, rehearses, and
/// stops it.
#[test]
fn with_no_engine_the_rehearsal_starts_one_and_stops_it() {
    crate::docker_required!();
    let scratch = tempfile::Builder::new()
        .prefix("aisopsflow-setup-it.")
        .tempdir()
        .unwrap();
    let socket = scratch.path().join("docker.sock");
    let host = format!("unix://{}", socket.display());
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--repo")
        .arg(repo_root())
        .args(["rehearse", "0.1.0"])
        .env("DOCKER_HOST", &host)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_API_URL")
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .env_remove("AISOPSFLOW_REGISTRY")
        .env_remove(xtask::setup::ENV_NO_INSTALL)
        .envs(crate::git_identity())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = text(&out);
    eprintln!("rehearsal on a private engine: {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(0), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("setup: engine: none answered at"))
        .unwrap_or_else(|| panic!("setup says it started an engine:\n{text}"));
    assert!(line.contains(&host), "{line}");
    assert!(text.contains("released 0.1.0 as v0.1.0"), "{text}");
    assert!(text.contains("verify passed"), "{text}");
    let pid: u32 = line
        .split("(pid ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("a pid in {line}"));
    assert!(
        text.contains(&format!(
            "setup: engine: stopped the dockerd it started (pid {pid})"
        )),
        "{text}"
    );
    // Stopped: the process is gone and nothing answers on the socket.
    assert!(!pid_alive(pid), "dockerd {pid} still runs");
    let probe = Command::new("docker")
        .args(["-H", &host, "version"])
        .output()
        .unwrap();
    assert!(!probe.status.success(), "an engine still answers at {host}");
    // Its own data root and exec root were used, and no mount is left under them.
    let own = PathBuf::from(format!("{}.d", socket.display()));
    assert!(own.join("data").is_dir(), "{}", own.display());
    assert!(
        xtask::setup::mounts_under(scratch.path()).is_empty(),
        "mounts left: {:?}",
        xtask::setup::mounts_under(scratch.path())
    );
    // The shared engine still answers: setup never touched it.
    let shared = Command::new("docker")
        .env_remove("DOCKER_HOST")
        .arg("version")
        .output()
        .unwrap();
    assert!(shared.status.success(), "{}", self::text(&shared));
}

/// Acceptance of issue 12: with `--no-install` on a machine that lacks the registry, the main
/// job exits 3 naming the install command, and changes nothing (no rehearsal directory, no
/// install). `AISOPSFLOW_NO_INSTALL=1` is the same.
#[test]
fn no_install_refuses_to_install_the_missing_registry_and_changes_nothing() {
    crate::docker_required!();
    let scratch = tempfile::tempdir().unwrap();
    // A machine with apt-get and git, but without docker-registry (the engine still answers).
    let bin = path_with(scratch.path(), &["apt-get", "git"]);
    let tmp = scratch.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    for (args, env) in [
        (vec!["rehearse", "--no-install"], None),
        (
            vec!["release", "0.1.0", "--rehearse", "--yes"],
            Some((xtask::setup::ENV_NO_INSTALL, "1")),
        ),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
        cmd.arg("--repo")
            .arg(repo_root())
            .args(&args)
            .env("PATH", &bin)
            .env("TMPDIR", &tmp)
            .env_remove(xtask::setup::ENV_NO_INSTALL)
            .env_remove(xtask::setup::ENV_REGISTRY_IMAGE)
            .stdin(Stdio::null());
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let text = text(&out);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {text}");
        for want in [
            "would install docker-registry",
            "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y docker-registry",
            "nothing was installed or started",
        ] {
            assert!(text.contains(want), "{args:?}: no {want:?} in\n{text}");
        }
        assert!(!text.contains("installing: running"), "{text}");
        // Nothing was started or written: the rehearsal never made its scratch directory.
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
        assert!(left.is_empty(), "{args:?} wrote {left:?}");
    }
}

/// A part the tests need and cannot get fails naming the command (here: skopeo, with
/// installing refused), through `cargo xtask test`, before any test runs.
#[test]
fn the_test_command_names_what_it_cannot_get() {
    crate::docker_required!();
    let scratch = tempfile::tempdir().unwrap();
    let bin = path_with(scratch.path(), &["apt-get", "git", "docker-registry"]);
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--repo")
        .arg(repo_root())
        .args(["test", "--no-install", "--lib"])
        .env("PATH", &bin)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("apt-get install -y skopeo") && text.contains("brew install skopeo"),
        "{text}"
    );
    assert!(!text.contains("setup: tests: running"), "{text}");
}
