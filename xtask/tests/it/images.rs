//! Image builds against the real Docker engine: all six images build and smoke-run, a broken
//! Dockerfile names its failing step, an escaping symlink is refused, the context we send
//! equals what the docker CLI sends, and an unreachable engine exits 3 with a clear message.
//!
//! These tests need a running engine. Without one they fail and say how to get it; set
//! `AISOPSFLOW_SKIP_DOCKER=1` to skip them (loudly).

use crate::support::repo_root as root;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use xtask::config::Visibility;
use xtask::effects::docker::{BuildFailure, BuildRequest, Docker};
use xtask::images::{self, Progress, context};
use xtask::workspace::Global;

const TEST_VERSION: &str = "0.0.0-test";
const TEST_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// The engine, or `None` when the operator asked to skip Docker tests.
async fn docker() -> Option<Docker> {
    if crate::support::skip_docker("an image test: image builds are NOT tested", &["engine"]) {
        return None;
    }
    match Docker::connect().await {
        Ok(d) => Some(d),
        Err(e) => panic!(
            "this test needs a Docker engine: {e:#}\ninstall one with `apt-get install docker.io docker-registry skopeo` and start `dockerd`, or set AISOPSFLOW_SKIP_DOCKER=1 to skip"
        ),
    }
}

fn unique(prefix: &str) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_six_images_build_and_smoke_run() {
    let Some(docker) = docker().await else { return };
    let ws = Global {
        repo: Some(root()),
        verbose: 0,
    }
    .workspace()
    .unwrap();
    let components: Vec<String> = ["core", "runner", "console"].map(String::from).to_vec();
    let specs = ws.config.images_for(&components);
    assert_eq!(specs.len(), 6, "three components in two editions");
    let hidden = Progress::hidden();
    let set = images::BuildSet {
        ws: &ws,
        docker: &docker,
        images: &specs,
        version: TEST_VERSION,
        commit: TEST_COMMIT,
        created: "2020-01-01T00:00:00Z",
        progress: &hidden,
    };
    let results = images::build_each(&set).await;
    let mut built = Vec::new();
    for (spec, r) in results {
        let b = r.unwrap_or_else(|e| panic!("building {}: {e:#}", spec.package));
        built.push(b);
    }
    let mut forbidden = ws.config.enterprise_markers();
    forbidden.extend(ws.config.commercial_only_defaults());
    for b in &built {
        let report = images::smoke::smoke(&docker, b, TEST_VERSION, TEST_COMMIT)
            .await
            .unwrap_or_else(|e| panic!("smoke-running {}: {e:#}", b.tag));
        assert_eq!(
            report.version_line,
            format!(
                "{} {TEST_VERSION} (commit {TEST_COMMIT}, edition {})",
                b.spec.krate, b.spec.edition
            )
        );
        assert_eq!(report.health.is_some(), b.spec.component == "core");
        let facts = docker.image(&b.tag).await.unwrap().expect("image exists");
        assert_eq!(
            facts.labels.get(images::EDITION_LABEL),
            Some(&b.spec.edition)
        );
        assert_eq!(
            facts
                .labels
                .get("org.opencontainers.image.version")
                .map(String::as_str),
            Some(TEST_VERSION)
        );
        assert_eq!(
            facts
                .labels
                .get("org.opencontainers.image.revision")
                .map(String::as_str),
            Some(TEST_COMMIT)
        );
        let source = facts.labels.get("org.opencontainers.image.source");
        let hits = xtask::checks::build::forbidden_in(&facts, &forbidden);
        match b.spec.visibility {
            Visibility::Public => {
                assert!(hits.is_empty(), "public image {} leaks: {hits:?}", b.tag);
                assert_eq!(source, None);
            }
            Visibility::Private => {
                assert!(
                    source.is_some_and(|s| s.contains("github.com/")),
                    "commercial image {} names its source",
                    b.tag
                );
                assert!(
                    !hits.is_empty(),
                    "the scanner finds the commercial source label"
                );
            }
        }
    }
    // Nothing changed, so a second run reuses every image instead of rebuilding.
    let again = images::build_each(&set).await;
    for ((_, r), first) in again.into_iter().zip(&built) {
        let b = r.unwrap();
        assert!(b.reused, "{} was rebuilt although nothing changed", b.tag);
        assert_eq!(b.id, first.id);
    }
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

async fn build_dir(docker: &Docker, dir: &Path, tag: &str) -> anyhow::Result<String> {
    let entries = context::collect(dir)?;
    docker
        .build(
            &BuildRequest {
                tag: tag.to_string(),
                ..Default::default()
            },
            || context::stream(entries.clone()),
            |_| {},
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_dockerfile_surfaces_the_failing_step() {
    let Some(docker) = docker().await else { return };
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("Dockerfile"),
        "FROM scratch\nLABEL a=b\nCOPY does-not-exist.txt /x\n",
    );
    let tag = format!("{}:test", unique("xtask-broken"));
    let err = build_dir(&docker, dir.path(), &tag).await.unwrap_err();
    let failure = err
        .chain()
        .find_map(|c| c.downcast_ref::<BuildFailure>())
        .unwrap_or_else(|| panic!("no BuildFailure in {err:#}"));
    assert_eq!(
        failure.step.as_deref(),
        Some("Step 3/3 : COPY does-not-exist.txt /x")
    );
    assert!(
        failure.message.contains("does-not-exist.txt"),
        "engine message kept: {}",
        failure.message
    );
    assert!(docker.image(&tag).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlink_escaping_the_context_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    write(&outside.path().join("host-secret"), "secret");
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY . /ctx\n",
    );
    symlink(
        outside.path().join("host-secret"),
        dir.path().join("abs-link"),
    )
    .unwrap();
    let err = context::collect(dir.path()).unwrap_err();
    assert!(
        format!("{err:#}").contains("points outside the build context"),
        "{err:#}"
    );
    fs::remove_file(dir.path().join("abs-link")).unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    symlink("../../host-secret", dir.path().join("sub/rel-link")).unwrap();
    let err = context::collect(dir.path()).unwrap_err();
    assert!(format!("{err:#}").contains("sub/rel-link"), "{err:#}");
    // An excluded escaping link is never sent, so it is no error.
    write(&dir.path().join(".dockerignore"), "sub/rel-link\n");
    let entries = context::collect(dir.path()).unwrap();
    assert!(entries.iter().all(|e| e.rel != "sub/rel-link"));

    // Through the engine: the refused context never reaches a build.
    let Some(docker) = docker().await else { return };
    fs::remove_file(dir.path().join(".dockerignore")).unwrap();
    let err = build_dir(
        &docker,
        dir.path(),
        &format!("{}:test", unique("xtask-escape")),
    )
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("points outside the build context"));
}

/// A context that exercises the CLI's rules: comments, `**`, `!` exceptions (also inside an
/// excluded directory, and the CLI's quirk of not entering a directory for a wildcard
/// exception), a leading `/`, unclean paths, an ignored Dockerfile and `.dockerignore`, an
/// internal symlink, an empty directory, spaces in names.
fn tricky_fixture(dir: &Path) {
    write(&dir.join("Dockerfile"), "FROM scratch\nCOPY . /ctx\n");
    write(
        &dir.join(".dockerignore"),
        "# a comment\n*.log\n!important.log\n/build\ndocs\n!docs/keep.md\n**/*.tmp\n!**/keep.tmp\nsub/**/deep\n./cleaned/../secret.txt\n  padded.txt  \nDockerfile\n.dockerignore\n#not-ignored.txt\nexcl\n!excl/inner/*.md\n",
    );
    for f in [
        "a.log",
        "important.log",
        "nested/b.log",
        "build/out.bin",
        "build/keep.tmp",
        "nested/build/out.bin",
        "docs/a.md",
        "docs/keep.md",
        "src/main.rs",
        "src/x.tmp",
        "src/keep.tmp",
        "keep.tmp",
        "sub/a/b/deep/file",
        "sub/deep",
        "sub/deeper",
        "secret.txt",
        "cleaned/secret.txt",
        "padded.txt",
        "#not-ignored.txt",
        "with space/file name.txt",
        "excl/top.md",
        "excl/inner/x.md",
        "excl/inner/y.txt",
    ] {
        write(&dir.join(f), f);
    }
    fs::create_dir_all(dir.join("empty")).unwrap();
    symlink("src/main.rs", dir.join("link-to-main")).unwrap();
    symlink("../src", dir.join("nested/src-link")).unwrap();
}

fn under_ctx(files: Vec<String>) -> BTreeSet<String> {
    files
        .into_iter()
        .filter_map(|f| f.strip_prefix("ctx/").map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dockerignore_parity_with_the_docker_cli() {
    let Some(docker) = docker().await else { return };
    let dir = tempfile::tempdir().unwrap();
    tricky_fixture(dir.path());
    let ours = format!("{}:ours", unique("xtask-parity"));
    let cli = format!("{}:cli", unique("xtask-parity"));
    build_dir(&docker, dir.path(), &ours).await.unwrap();
    // The CLI's build, again (at most twice more) when the shared engine lost an image under
    // its cache probe, as `Docker::build` does for ours: that says nothing about the context.
    let mut attempts = 0;
    let out = loop {
        attempts += 1;
        let out = Command::new("docker")
            .args(["build", "-q", "-t", &cli])
            .arg(dir.path())
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .expect("running the docker CLI (apt-get install docker.io)");
        let lost = String::from_utf8_lossy(&out.stderr).contains("unable to find image \"sha256:");
        if out.status.success() || !lost || attempts == 3 {
            break out;
        }
    };
    assert!(
        out.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours_files = under_ctx(docker.list_files(&ours).await.unwrap());
    let cli_files = under_ctx(docker.list_files(&cli).await.unwrap());
    for t in [&ours, &cli] {
        docker.remove_image(t).await.unwrap();
    }
    assert_eq!(
        ours_files, cli_files,
        "the files we send differ from the CLI's"
    );
    // And the fixture really is tricky: spot-check decisions on both sides.
    // The Dockerfile and .dockerignore are always sent (the build needs them) even though the
    // patterns name them; the engine then leaves them out of `COPY .`, on both sides.
    let sent_names: Vec<String> = context::collect(dir.path())
        .unwrap()
        .into_iter()
        .map(|e| e.rel)
        .collect();
    assert!(sent_names.iter().any(|n| n == "Dockerfile"));
    assert!(sent_names.iter().any(|n| n == ".dockerignore"));
    for sent in [
        "important.log",
        // `*.log` has no `**`, so it only matches at the top.
        "nested/b.log",
        "docs/keep.md",
        "keep.tmp",
        "src/keep.tmp",
        "cleaned/secret.txt",
        "nested/build/out.bin",
        "sub/deeper",
        "#not-ignored.txt",
        "with space/file name.txt",
        "link-to-main",
        "nested/src-link",
        "empty",
        "excl/inner/x.md",
    ] {
        assert!(
            ours_files.contains(sent),
            "{sent} must be sent: {ours_files:?}"
        );
    }
    for left_out in [
        "a.log",
        "build/out.bin",
        "docs/a.md",
        "src/x.tmp",
        // The CLI's quirk: `!**/keep.tmp` would re-include it, but `build` is skipped whole
        // because no exception starts with `build/`.
        "build/keep.tmp",
        "sub/a/b/deep/file",
        "sub/deep",
        "secret.txt",
        "padded.txt",
        "excl/top.md",
        "excl/inner/y.txt",
    ] {
        assert!(
            !ours_files.contains(left_out),
            "{left_out} must not be sent"
        );
    }
}

#[test]
fn unreachable_docker_host_exits_3_naming_it() {
    let out = crate::support::Xtask::new()
        .arg("--repo")
        .arg(root())
        .args(["preflight", "--offline", "--only", "build"])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr: {stderr}");
    assert!(stderr.contains("DOCKER_HOST"), "{stderr}");
    assert!(stderr.contains("unix:///nonexistent.sock"), "{stderr}");
    assert!(stderr.contains("start an engine"), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1
    );
}

/// A `docker-registry` child process on a kernel-chosen loopback port; killed on drop.
struct LocalRegistry {
    child: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl LocalRegistry {
    fn start() -> LocalRegistry {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:0\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let log = dir.path().join("registry.log");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .env_clear()
            .stdout(std::process::Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting docker-registry (apt-get install docker-registry)");
        let mut addr = None;
        for _ in 0..200 {
            let text = fs::read_to_string(&log).unwrap_or_default();
            if let Some(rest) = text.split("listening on ").nth(1) {
                addr = rest
                    .split(|c: char| c == '"' || c.is_whitespace())
                    .next()
                    .map(str::to_string);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        let addr = addr.unwrap_or_else(|| {
            panic!(
                "docker-registry did not start: {}",
                fs::read_to_string(&log).unwrap_or_default()
            )
        });
        LocalRegistry {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_returns_the_digest_the_registry_stored() {
    let Some(docker) = docker().await else { return };
    let registry = LocalRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY hello /hello\n",
    );
    write(&dir.path().join("hello"), &unique("hello"));
    let local = format!("{}:test", unique("xtask-push"));
    let id = build_dir(&docker, dir.path(), &local).await.unwrap();
    let repository = format!("{}/aisopsflow/push-test", registry.addr);
    let digest = docker.push(&id, &repository, "1.0.0", None).await.unwrap();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    // The registry serves that manifest under that digest.
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{repository}:1.0.0"))
        .output()
        .expect("running skopeo (apt-get install skopeo)");
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), digest);
    for t in [local, format!("{repository}:1.0.0")] {
        docker.remove_image(&t).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_console_is_skipped_when_console_is_out_of_scope() {
    use xtask::checks::{CheckId, Ctx, Status};
    let ws = Global {
        repo: Some(root()),
        verbose: 0,
    }
    .workspace()
    .unwrap();
    let components = ws.config.scope(&[]).unwrap();
    assert!(!components.contains(&"console".to_string()));
    let ctx = Ctx {
        ws,
        components,
        only: vec!["build-console".to_string()],
        offline: true,
        release: None,
    };
    let outcomes = xtask::checks::build::run(&ctx).await.unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].id, CheckId::BuildConsole);
    assert_eq!(outcomes[0].status, Status::Skip);
    assert!(
        outcomes[0]
            .message
            .contains("console not in scope; to run it: pass --components core,runner,console"),
        "{}",
        outcomes[0].message
    );

    // And an area with none of its ids selected does nothing at all.
    let ctx = Ctx {
        only: vec!["workflow".to_string()],
        ..ctx
    };
    assert!(xtask::checks::build::run(&ctx).await.unwrap().is_empty());
}
