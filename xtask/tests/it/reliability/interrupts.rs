//! Ctrl-C.

use super::*;

/// Starts the binary, waits (bounded) until `in_flight()` says it is blocked in the stage
/// under test, sends SIGINT, and returns how it ended.
pub(super) async fn interrupt_when(
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

pub(super) fn ended_by_sigint(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(2) || status.code() == Some(130)
}

/// SIGINT while preflight waits on GitHub and while verify waits on the registry: the process
/// ends at once, nothing changed, and the rerun completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(super) async fn ctrl_c_during_preflight_and_verify_leaves_nothing_behind() {
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
