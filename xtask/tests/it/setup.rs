//! Provisioning (`xtask/src/setup.rs`) on the real machine: a stopped engine is started as a
//! child and stopped again, and `--no-install` refuses, naming the command, changing nothing.
//!
//! The machine's own engine is shared and never stopped: "no engine answers" is made real by
//! pointing `DOCKER_HOST` at a fresh unix socket of this test's own, on which setup starts a
//! second `dockerd` (with its own data root, exec root and pidfile beside the socket).

use crate::support::{repo_root, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

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
    // The shared engine's default bridge: a second dockerd must leave it alone (with
    // `--bridge=none`, dockerd deletes it).
    let bridge_before = Path::new("/sys/class/net/docker0").exists();
    let started = Instant::now();
    // The closed environment, with the toolchain (the rehearsal builds images).
    let out = crate::support::Xtask::new()
        .arg("--repo")
        .arg(repo_root())
        .args(["rehearse", "0.1.0"])
        .env("DOCKER_HOST", &host)
        .envs(crate::git_identity())
        .toolchain()
        .pass("USER")
        .output();
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
    assert_eq!(
        Path::new("/sys/class/net/docker0").exists(),
        bridge_before,
        "the other engine's docker0 is as it was"
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
        let mut cmd = crate::support::Xtask::new()
            .arg("--repo")
            .arg(repo_root())
            .args(&args)
            .env("PATH", &bin)
            .env("TMPDIR", &tmp);
        if let Some((k, v)) = env {
            cmd = cmd.env(k, v);
        }
        let out = cmd.output();
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
    let out = crate::support::Xtask::new()
        .arg("--repo")
        .arg(repo_root())
        .args(["test", "--no-install", "--lib"])
        .env("PATH", &bin)
        .output();
    let text = text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("apt-get install -y skopeo") && text.contains("brew install skopeo"),
        "{text}"
    );
    assert!(!text.contains("setup: tests: running"), "{text}");
}

/// An image of Debian's `docker-registry` (CNCF distribution 2.8, the program `registry:2`
/// runs) with the libraries it links, built here because this machine cannot pull `registry:2`.
/// Its entrypoint is the binary, so `serve CONFIG` reaches it as it reaches `registry:2`'s.
fn local_registry_image() -> String {
    let tag = "aisopsflow-it/registry:setup-fallback".to_string();
    let ctx = tempfile::tempdir().unwrap();
    let bin = which("docker-registry");
    let ldd = Command::new("ldd").arg(&bin).output().unwrap();
    let mut files = vec![bin.clone()];
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        if let Some(p) = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(PathBuf::from)
        {
            files.push(p);
        }
    }
    for f in &files {
        let dst = ctx.path().join(f.strip_prefix("/").unwrap());
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(f, &dst).unwrap();
    }
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY . /\nENTRYPOINT [\"{}\"]\n",
            bin.display()
        ),
    )
    .unwrap();
    let out = Command::new("docker")
        .args(["build", "--quiet", "--tag", &tag])
        .arg(ctx.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    tag
}

fn which(tool: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{tool}` is on PATH"))
}

/// The laptop fallback: the registry as a container, behind the same token service, on a
/// published loopback port; removed when the harness is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_runs_as_a_container_behind_the_same_token_service() {
    crate::docker_required!();
    use xtask::standin::registry::{HarnessOptions, RegistryHarness};
    let image = local_registry_image();
    let h = RegistryHarness::start(HarnessOptions {
        image: Some(image.clone()),
        public: vec!["aisopsflow/aisopsflow-core".into()],
        ..HarnessOptions::default()
    })
    .await
    .expect("the registry container starts");
    assert!(h.host.starts_with("127.0.0.1:"), "{}", h.host);
    let http = xtask::effects::http::client();
    let v2 = http
        .get(format!("http://{}/v2/", h.host))
        .send()
        .await
        .unwrap();
    assert_eq!(v2.status(), 401);
    let challenge = v2.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains(&format!("realm=\"{}\"", h.token_url)),
        "{challenge}"
    );
    // Anonymous callers are refused a package that does not exist with 403 DENIED, as by
    // ghcr.io (docs/registry-standin.md).
    let anon = http
        .get(format!(
            "{}?service={}&scope=repository:aisopsflow/aisopsflow-core-commercial:pull",
            h.token_url, h.service
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 403);
    // Credentials get a token the registry in the container accepts.
    let tok: serde_json::Value = http
        .get(format!(
            "{}?service={}&scope=repository:aisopsflow/aisopsflow-core:pull,push",
            h.token_url, h.service
        ))
        .basic_auth(&h.user, Some(h.password.expose()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ok = http
        .get(format!(
            "http://{}/v2/aisopsflow/aisopsflow-core/tags/list",
            h.host
        ))
        .bearer_auth(tok["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    // Authorised; the repository is unknown until something is pushed.
    assert_eq!(ok.status(), 404, "{}", h.registry_log());
    // The container's logs are the harness's access log; `docker logs -f` delivers them a
    // little later than the binary's own file would, so wait (bounded) for the lines.
    let mut counts = h.requests_since(0);
    for _ in 0..100 {
        if counts.kind("GET /v2/") >= 1 && counts.kind("GET tags/list") >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        counts = h.requests_since(0);
    }
    assert!(counts.kind("GET /v2/") >= 1, "{counts:?}");
    assert!(counts.kind("GET tags/list") >= 1, "{counts:?}");
    let name_filter = format!("label={}", xtask::effects::docker::CONTAINER_LABEL);
    let before = Command::new("docker")
        .args(["ps", "-q", "--filter", &name_filter, "--filter"])
        .arg(format!("ancestor={image}"))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&before.stdout).trim().is_empty());
    drop(h);
    let after = Command::new("docker")
        .args(["ps", "-aq", "--filter", &name_filter, "--filter"])
        .arg(format!("ancestor={image}"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&after.stdout).trim().is_empty(),
        "the registry container is removed with the harness"
    );
}

/// Where the image is neither in the engine nor pullable (this machine has no internet), the
/// harness fails with exit 3 naming both ways out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpullable_registry_image_fails_naming_the_install_command() {
    crate::docker_required!();
    use xtask::standin::registry::{HarnessOptions, RegistryHarness};
    let image = "registry.invalid/aisopsflow/registry:absent";
    let err = match RegistryHarness::start(HarnessOptions {
        image: Some(image.into()),
        ..HarnessOptions::default()
    })
    .await
    {
        Ok(_) => panic!("{image} cannot be pulled here"),
        Err(e) => e,
    };
    assert_eq!(xtask::exit::code_for(&err), xtask::exit::EXTERNAL);
    let msg = format!("{err:#}");
    assert!(
        msg.contains("apt-get install docker-registry")
            && msg.contains(&format!("docker pull {image}")),
        "{msg}"
    );
}

/// Not root: nothing is installed or started, and an engine socket this user cannot use is
/// named as a group problem. Runs the binary as `nobody` (a copy in a world-readable dir).
#[test]
fn as_another_user_setup_starts_and_installs_nothing() {
    crate::docker_required!();
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("xtask");
    std::fs::copy(env!("CARGO_BIN_EXE_xtask"), &bin).unwrap();
    let setpriv = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("setpriv"))
        .find(|p| p.is_file())
        .expect("setpriv (util-linux) is on PATH");
    let out = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["--repo", "/nonexistent", "test"])
        // The closed environment of `support::Xtask`, by hand: the binary runs through
        // setpriv as another user, so the runner cannot start it.
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(!text.contains("installing: running"), "{text}");
    assert!(!text.contains("started /"), "{text}");
    let socket = Path::new("/var/run/docker.sock");
    if socket.exists() {
        assert!(text.contains("sudo usermod -aG docker $USER"), "{text}");
    } else {
        assert!(
            text.contains("only root can start it") || text.contains("not root"),
            "{text}"
        );
    }
}
