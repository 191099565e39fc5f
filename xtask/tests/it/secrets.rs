//! The token never leaves the process: every command, in every format and verbosity, on its
//! success and its error paths, runs with one recognisable fake token as `GITHUB_TOKEN`, as
//! the registry password and in a docker config, and the token must appear in no output and
//! no file written (the workspace, the remote, HOME, TMPDIR, `$GITHUB_OUTPUT`,
//! `$GITHUB_STEP_SUMMARY`). A panic is forced through the product's panic hook too.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use xtask::secrets::Secret;
use xtask::standin::github::{self as standin, Role, TokenSeed, World};
use xtask::standin::registry::{HarnessOptions, RegistryHarness};

use crate::git;
use crate::reliability::{Repo, Run, xtask_async};

/// The fake token. Its middle part is searched for too, in case something prints a slice.
const FAKE: &str = "ghp_FAKE0000SECRET1111TOKEN";
const FAKE_PART: &str = "SECRET1111";

/// Every place a leak could hide: the token, its distinctive middle, and the base64 forms a
/// Basic header or a docker config would carry.
fn leaks(text: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut needles = vec![FAKE.to_string(), FAKE_PART.to_string(), b64.encode(FAKE)];
    for user in ["x-access-token", "aisopsflow-ci", "anyone"] {
        needles.push(b64.encode(format!("{user}:{FAKE}")));
    }
    needles
        .into_iter()
        .filter(|n| text.contains(n.as_str()))
        .collect()
}

/// Every file under `dir` whose content carries the token.
fn files_with_token(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            files_with_token(&p, out);
        } else if ft.is_file() {
            let bytes = std::fs::read(&p).unwrap_or_default();
            if !leaks(&String::from_utf8_lossy(&bytes)).is_empty() {
                out.push(p);
            }
        }
    }
}

fn assert_clean(what: &str, run: &Run) {
    let found = leaks(&run.text());
    assert!(
        found.is_empty(),
        "[{what}] the token leaked ({found:?}):\nstdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    assert!(
        !run.text().contains("panicked"),
        "[{what}] panicked:\n{}",
        run.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_never_appears_in_output_or_files() {
    let Some(h) = registry_with_fake_password().await else {
        return;
    };
    // GitHub knows the fake token as a repository admin's classic token.
    let mut world = World::compliant("aisopsflow", "aisopsflow-enterprise", "aisopsflow");
    world.tokens.insert(
        FAKE.to_string(),
        TokenSeed::classic(
            "release-bot",
            9001,
            Role::Admin,
            &["repo", "read:packages", "workflow"],
        ),
    );
    let gh = standin::start(world).await.unwrap();
    // A second GitHub that rejects it, for the error paths.
    let gh_rejects = standin::start(World::compliant(
        "aisopsflow",
        "aisopsflow-enterprise",
        "aisopsflow",
    ))
    .await
    .unwrap();

    let repo = Repo::new();
    let work = repo.work();
    git(
        &work,
        &[
            "tag",
            "-a",
            "-m",
            "release 1.4.0\n\ncomponents: core,runner",
            "v1.4.0",
        ],
    );
    // On the remote too, so promote goes as far as dispatching with the token.
    git(&work, &["push", "-q", "origin", "v1.4.0"]);
    let sha7 = git(&work, &["rev-parse", "--short=7", "HEAD"]);
    crate::registry::seed_previous_latest(&h).await;
    crate::registry::seed_release(&h, &sha7, false).await;
    let sha = git(&work, &["rev-parse", "HEAD"]);

    // Files the product may write, all inside one directory we scan afterwards.
    let scan = tempfile::tempdir().unwrap();
    let home = scan.path().join("home");
    let tmp = scan.path().join("tmp");
    let docker = scan.path().join("docker");
    for d in [&home, &tmp, &docker] {
        std::fs::create_dir_all(d).unwrap();
    }
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("aisopsflow-ci:{FAKE}"));
    std::fs::write(
        docker.join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, h.host),
    )
    .unwrap();
    // The docker config holds the token on purpose; it is ours, not written by the product.
    let docker_config = std::fs::read(docker.join("config.json")).unwrap();
    let out_file = scan.path().join("github_output");
    let summary = scan.path().join("step_summary");

    let work_s = work.display().to_string();
    let base_env = |api: &str| -> Vec<(String, String)> {
        vec![
            ("GITHUB_TOKEN".into(), FAKE.into()),
            ("GITHUB_API_URL".into(), api.into()),
            ("AISOPSFLOW_REGISTRY".into(), h.host.clone()),
            ("HOME".into(), home.display().to_string()),
            ("TMPDIR".into(), tmp.display().to_string()),
            ("DOCKER_CONFIG".into(), docker.display().to_string()),
            ("GITHUB_OUTPUT".into(), out_file.display().to_string()),
            ("GITHUB_STEP_SUMMARY".into(), summary.display().to_string()),
            ("GITHUB_ACTOR".into(), "aisopsflow-ci".into()),
        ]
    };
    let ok_api = gh.base_url.clone();
    let bad_api = gh_rejects.base_url.clone();
    type Invocation<'a> = (String, Vec<&'a str>, Vec<(String, String)>);
    let mut runs: Vec<Invocation> = Vec::new();
    for api in [&ok_api, &bad_api] {
        let which = if api == &ok_api {
            "token accepted"
        } else {
            "token rejected"
        };
        for format in ["human", "json", "sarif"] {
            runs.push((
                format!("preflight --format {format} ({which})"),
                vec!["preflight", "--format", format, "--deny-warnings"],
                base_env(api),
            ));
        }
        for v in ["-v", "-vv"] {
            runs.push((
                format!("preflight {v} ({which})"),
                vec!["preflight", v],
                base_env(api),
            ));
        }
    }
    for format in ["human", "json", "sarif"] {
        runs.push((
            format!("verify --format {format}"),
            vec!["verify", "1.4.0", "--format", format],
            base_env(&ok_api),
        ));
    }
    runs.push((
        "verify --delivery -vv".into(),
        vec!["verify", "1.4.0", "--delivery", "-vv"],
        base_env(&ok_api),
    ));
    // The registry password from the docker config only.
    let mut docker_only = base_env(&ok_api);
    docker_only.retain(|(k, _)| k != "GITHUB_TOKEN");
    runs.push((
        "verify with the docker config".into(),
        vec!["verify", "1.4.0", "-v"],
        docker_only,
    ));
    // Wrong password at the registry: the error path names the source, never the value.
    let mut wrong = base_env(&ok_api);
    wrong.push(("GITHUB_TOKEN".into(), format!("{FAKE}x")));
    runs.push((
        "verify with a rejected token".into(),
        vec!["verify", "1.4.0"],
        wrong,
    ));
    for format in ["human", "json"] {
        runs.push((
            format!("release --dry-run --format {format}"),
            vec!["release", "1.4.0", "--dry-run", "--format", format],
            base_env(&ok_api),
        ));
    }
    runs.push((
        "publish --dry-run".into(),
        vec![
            "publish",
            "--dry-run",
            "--ref",
            "refs/tags/v1.4.0",
            "--sha",
            &sha,
            "--event",
            "push",
        ],
        base_env(&ok_api),
    ));
    runs.push((
        "promote".into(),
        vec!["promote", "1.4.0", "--yes", "--timeout", "5"],
        base_env(&ok_api),
    ));
    runs.push((
        "error: bad version".into(),
        vec!["release", "v1.4.0", "--dry-run"],
        base_env(&ok_api),
    ));
    runs.push((
        "error: GitHub unreachable".into(),
        vec!["preflight", "--only", "repo-private"],
        base_env("http://127.0.0.1:9"),
    ));

    let mut ran = 0;
    for (what, args, env) in runs {
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.extend(["--repo".to_string(), work_s.clone()]);
        let run = xtask_async(work.clone(), args, env).await;
        println!("[{what}] exit {}", run.code);
        assert_clean(&what, &run);
        ran += 1;
    }
    assert!(ran >= 20, "only {ran} runs");
    // The stand-ins saw the token (so it was really in use) ...
    assert!(gh.requests().iter().any(|r| r.authenticated));
    assert!(
        h.token_counts().kind("authenticated") > 0,
        "{:?}",
        h.token_counts()
    );
    // ... and no file anywhere carries it, except the docker config we wrote ourselves.
    assert_eq!(
        std::fs::read(docker.join("config.json")).unwrap(),
        docker_config
    );
    std::fs::remove_file(docker.join("config.json")).unwrap();
    let mut found = Vec::new();
    files_with_token(repo.dir.path(), &mut found);
    files_with_token(scan.path(), &mut found);
    assert!(found.is_empty(), "files carry the token: {found:?}");
}

async fn registry_with_fake_password() -> Option<RegistryHarness> {
    if crate::support::skip_docker("a secrets test", &["docker-registry"]) {
        return None;
    }
    let opts = HarnessOptions {
        password: Some(Secret::new(FAKE)),
        public: crate::registry::PUBLIC
            .iter()
            .map(|p| format!("{}/{p}", crate::registry::ORG))
            .collect(),
        ..HarnessOptions::default()
    };
    Some(RegistryHarness::start(opts).await.expect(
        "starting the registry harness (apt-get install docker-registry skopeo; AISOPSFLOW_SKIP_DOCKER=1 skips loudly)",
    ))
}

/// A panic while a secret is registered goes through the product's panic hook, which prints
/// `***` in its place. The test reruns itself as a child that installs the hook and panics.
#[test]
fn a_panic_never_prints_the_token() {
    if std::env::var("AISOPSFLOW_RELIABILITY_PANIC_CHILD").as_deref() == Ok("1") {
        xtask::secrets::install_panic_hook();
        let s = Secret::new(FAKE);
        panic!("forced panic while holding token {}", s.expose());
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "secrets::a_panic_never_prints_the_token",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("AISOPSFLOW_RELIABILITY_PANIC_CHILD", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "the child did not panic:\n{text}");
    assert!(
        text.contains("internal error (a bug in xtask)") && text.contains("holding token ***"),
        "the panic hook did not run:\n{text}"
    );
    assert!(
        leaks(&text).is_empty(),
        "the panic printed the token:\n{text}"
    );

    // With stderr closed (`2>&1 | head` after head exited) the hook cannot write; it must
    // not panic again, which would abort the process (SIGABRT) instead of unwinding.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "secrets::a_panic_never_prints_the_token",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("AISOPSFLOW_RELIABILITY_PANIC_CHILD", "1")
        .stdout(std::process::Stdio::null())
        .stderr(writer)
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), None, "the panic hook aborted: {status:?}");
    assert_eq!(status.code(), Some(101), "{status:?}");
}
