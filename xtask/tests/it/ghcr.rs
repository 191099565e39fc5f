//! The six ways ghcr.io differs from a forgiving registry (issue #13), each against the real
//! distribution registry behind the stand-in's GHCR-like front (docs/registry-standin.md):
//!
//! 1. `403 DENIED` at `/token` for a package that does not exist reads as "absent";
//! 2. a rate limit is never a visibility verdict;
//! 3. 429 and 5xx are retried;
//! 4. opaque tokens expire, and a 401 on a cached token refreshes it once;
//! 5. `permission_denied: write_package` at the write names Manage Actions access;
//! 6. a workflow's first push creates a private package (the first release's admin flip).
//!
//! No timed assertions: short token lifetimes, `expire_tokens()` and counters.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::registry::{
    COMMERCIAL, Fixture, ORG, PUBLIC, VERSION, evidence_of, harness_client, ids_with, push_image,
};
use xtask::effects::registry::{Credentials, RegistryClient};
use xtask::exit::{EXTERNAL, POLICY, code_for};
use xtask::secrets::Secret;
use xtask::standin::registry::{Faults, HarnessOptions, Principal, RegistryHarness};

const ENTERPRISE: &str = "aisopsflow/aisopsflow-enterprise";

fn skip() -> bool {
    crate::support::skip_docker("a ghcr test", &["docker-registry", "skopeo"])
}

/// A harness with an operator PAT (the password), a workflow token of the enterprise
/// repository, a customer credential for one package, and nothing public.
async fn world() -> Option<(RegistryHarness, Secret, Secret)> {
    if skip() {
        return None;
    }
    let actions = Secret::new("ghs_ghcrTESTworkflowTOKEN000000000000000");
    let customer = Secret::new("ghp_ghcrTESTcustomerTOKEN00000000000000");
    let h = RegistryHarness::start(HarnessOptions {
        credentials: vec![
            (
                actions.clone(),
                Principal::ActionsToken {
                    repository: ENTERPRISE.into(),
                    write: true,
                },
            ),
            (
                customer.clone(),
                Principal::Customer {
                    package: format!("{ORG}/aisopsflow-core-commercial"),
                },
            ),
        ],
        ..HarnessOptions::default()
    })
    .await
    .expect("starting the registry harness (apt-get install docker-registry)");
    Some((h, actions, customer))
}

fn client_with(h: &RegistryHarness, password: &Secret) -> RegistryClient {
    RegistryClient::new(
        &h.host,
        Credentials::Basic {
            user: "x-access-token".into(),
            password: password.clone(),
            source: "GITHUB_TOKEN".into(),
        },
    )
    .unwrap()
    .with_actions_repository(ENTERPRISE)
    .with_backoff(Duration::from_millis(5), Duration::from_secs(20))
}

async fn token_status(
    h: &RegistryHarness,
    repo: &str,
    actions: &str,
    creds: Option<&str>,
) -> (u16, String) {
    let mut req = xtask::effects::http::client().get(format!(
        "{}?scope=repository:{repo}:{actions}&service={}",
        h.token_url, h.service
    ));
    if let Some(pw) = creds {
        req = req.basic_auth("anyone", Some(pw));
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// From outside, the token service answers like ghcr.io (acceptance of #13): 403 DENIED for a
/// package that does not exist, 401 for anonymous access to a private one, 403 for bad
/// credentials, and an opaque token (no `expires_in`) for anonymous access to a public one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_service_answers_like_ghcr() {
    let Some((h, actions, customer)) = world().await else {
        return;
    };
    let public = format!("{ORG}/aisopsflow-core");
    let private = format!("{ORG}/aisopsflow-core-commercial");
    let other = format!("{ORG}/aisopsflow-runner-commercial");
    for r in [&public, &private, &other] {
        push_image(&h, r, "1.0.0", r, &BTreeMap::new()).await;
    }
    h.admin_make_public(&public).unwrap();
    let missing = format!("{ORG}/aisopsflow-never-published");
    let pat = h.password.expose().to_string();

    let (status, body) = token_status(&h, &missing, "pull", None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("DENIED") && body.contains("requested access to the resource is denied"));
    let (status, body) = token_status(&h, &missing, "pull", Some(&pat)).await;
    assert_eq!((status, body.contains("DENIED")), (403, true), "{body}");
    let (status, body) = token_status(&h, &private, "pull", None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("UNAUTHORIZED") && body.contains("authentication required"));
    let (status, body) = token_status(&h, &private, "pull", Some("not-the-token")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains(r#""message":"denied""#), "{body}");
    let (status, body) = token_status(&h, &public, "pull", None).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 1, "only `token`: {body}");
    let opaque = v["token"].as_str().unwrap();
    let decoded = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, opaque)
        .expect("base64, like ghcr.io's djE6… tokens");
    assert!(
        String::from_utf8_lossy(&decoded).starts_with(&format!("v1:{public}:")),
        "{}",
        String::from_utf8_lossy(&decoded)
    );
    // Anonymous push is never granted.
    assert_eq!(token_status(&h, &public, "pull,push", None).await.0, 401);
    // A customer reads its package only.
    assert_eq!(
        token_status(&h, &private, "pull", Some(customer.expose()))
            .await
            .0,
        200
    );
    let (status, body) = token_status(&h, &other, "pull", Some(customer.expose())).await;
    assert_eq!((status, body.contains("DENIED")), (403, true), "{body}");
    // A workflow token reads packages that grant its repository access.
    h.set_actions_access(&other, ENTERPRISE, None);
    let (status, body) = token_status(&h, &other, "pull", Some(actions.expose())).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("installation not allowed to Read organization package"),
        "{body}"
    );
    // The settings page goes one way only.
    let page = |what: &str, body: &str| {
        xtask::effects::http::client()
            .post(format!(
                "http://{}/_ui/orgs/{ORG}/packages/container/aisopsflow-core/{what}",
                h.host
            ))
            .basic_auth("admin", Some(&pat))
            .body(body.to_string())
            .send()
    };
    assert_eq!(
        page("visibility", r#"{"visibility":"private"}"#)
            .await
            .unwrap()
            .status(),
        422
    );
    assert_eq!(
        page("visibility", r#"{"visibility":"public"}"#)
            .await
            .unwrap()
            .status(),
        200
    );
    let c = h.token_counts();
    assert_eq!(
        (
            c.kind("absent"),
            c.kind("anonymous-denied"),
            c.kind("bad-credentials")
        ),
        (2, 2, 1),
        "{c:?}"
    );
}

/// A kept rehearsal world, stopped with Ctrl-C (SIGINT) when dropped, and killed if it does
/// not stop.
struct Kept {
    child: std::process::Child,
    _home: tempfile::TempDir,
}

impl Drop for Kept {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            xtask::setup::signal(self.child.id(), xtask::setup::SIGINT);
            for _ in 0..100 {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The processes whose parent is `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces, so split after the last `)`.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(p);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
    })
}

/// Pushes a one-blob image to `repo:tag` from outside, as an operator's client does, with the
/// `pull,push` token `token`.
async fn push_from_outside(host: &str, repo: &str, tag: &str, token: &str) {
    let http = xtask::effects::http::client();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let digest = xtask::effects::registry::sha256_digest(config);
    let res = http
        .post(format!("http://{host}/v2/{repo}/blobs/uploads/"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "{repo}");
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    let sep = if loc.contains('?') { '&' } else { '?' };
    let res = http
        .put(format!("{loc}{sep}digest={digest}"))
        .bearer_auth(token)
        .body(config.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{repo}");
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": config.len()},
        "layers": [],
    });
    let res = http
        .put(format!("http://{host}/v2/{repo}/manifests/{tag}"))
        .bearer_auth(token)
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(serde_json::to_vec(&manifest).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{repo}");
}

/// Acceptance of #13, from outside: the world `release --rehearse --keep` leaves running (here
/// with `--dry-run`, the same `rehearse` path and the same kept world, without building) is
/// reached only through what it prints; its token service answers like ghcr.io: 403 DENIED for
/// a package that does not exist, 401 UNAUTHORIZED for anonymous access to a private one, 403
/// for bad credentials, and a token for anonymous pulls of a public one. Ctrl-C stops the world
/// and every process it started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kept_worlds_token_service_answers_like_ghcr_from_outside() {
    crate::docker_required!();
    let mut run = crate::support::Xtask::new()
        .arg("--repo")
        .arg(crate::support::repo_root())
        .args([
            "release",
            "0.1.0",
            "--rehearse",
            "--keep",
            "--dry-run",
            "--yes",
        ])
        .envs(crate::support::git_identity());
    if let Some(host) = std::env::var_os("DOCKER_HOST") {
        run = run.env("DOCKER_HOST", host);
    }
    let (mut child, home) = run.spawn();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let pid = child.id();
    let kept = Kept { child, _home: home };
    let err_text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = err_text.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let mut s = sink.lock().unwrap();
            s.push_str(&l);
            s.push('\n');
        }
    });
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    // What an operator sees: everything up to the line that says how to stop it.
    let mut shown = String::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(600)) {
            Ok(l) => {
                shown.push_str(&l);
                shown.push('\n');
                if l.starts_with("stop: press Ctrl-C") {
                    break;
                }
            }
            Err(e) => panic!(
                "the kept world never said how to reach it ({e}):\n{shown}\n{}",
                err_text.lock().unwrap()
            ),
        }
    }
    let field = |name: &str| -> String {
        shown
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.trim().split(' ').next().unwrap().to_string())
            .unwrap_or_else(|| panic!("no `{name}` line:\n{shown}"))
    };
    let host = field("registry:");
    let token_file = std::path::PathBuf::from(field("token:"));
    let scratch = token_file.parent().unwrap().to_path_buf();
    assert!(
        shown.contains(&format!("then remove {}", scratch.display())),
        "{shown}"
    );
    let pat = std::fs::read_to_string(&token_file).expect("the kept world's token file");
    assert!(
        !shown.contains(&pat),
        "the token is never printed:\n{shown}"
    );
    assert!(!err_text.lock().unwrap().contains(&pat), "nor on stderr");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&scratch).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "only its owner may read the token");
    }
    // The processes the kept world runs (the registry among them), to prove Ctrl-C stops them.
    let started = children_of(pid);
    assert!(
        started
            .iter()
            .any(|p| std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.trim() == "docker-registry")),
        "the kept world runs the registry: {started:?}"
    );

    // From outside, as a client finds it: the challenge names the realm and service.
    let http = xtask::effects::http::client();
    let res = http.get(format!("http://{host}/v2/")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let ch = xtask::effects::registry::parse_challenge(
        res.headers()["www-authenticate"].to_str().unwrap(),
    );
    let (realm, service) = (ch["realm"].clone(), ch["service"].clone());
    assert!(
        shown.contains(&format!("token service {realm}")),
        "{realm}\n{shown}"
    );
    let token = |repo: &str, actions: &str, creds: Option<String>| {
        let mut req = http.get(format!(
            "{realm}?scope=repository:{repo}:{actions}&service={service}"
        ));
        if let Some(pw) = creds {
            req = req.basic_auth("operator", Some(pw));
        }
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let public = format!("{ORG}/aisopsflow-core");
    let private = format!("{ORG}/aisopsflow-core-commercial");
    let missing = format!("{ORG}/aisopsflow-runner");
    // A rehearsal starts from an empty registry: nothing exists yet.
    for repo in [&public, &private, &missing] {
        let (status, body) = token(repo, "pull", None).await;
        assert_eq!(status, 403, "{repo}: {body}");
    }
    // The operator (the token file: a PAT with write:packages) pushes two packages; both are
    // created private, and one is made public on its settings page, as an org admin would.
    for repo in [&public, &private] {
        let (status, body) = token(repo, "pull,push", Some(pat.clone())).await;
        assert_eq!(status, 200, "{body}");
        let t: serde_json::Value = serde_json::from_str(&body).unwrap();
        push_from_outside(&host, repo, "0.1.0", t["token"].as_str().unwrap()).await;
    }
    let res = http
        .post(format!(
            "http://{host}/_ui/orgs/{ORG}/packages/container/aisopsflow-core/visibility"
        ))
        .basic_auth("admin", Some(&pat))
        .body(r#"{"visibility":"public"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // 403 DENIED for a package that does not exist, anonymous or not.
    let (status, body) = token(&missing, "pull", None).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains(r#""code":"DENIED""#)
            && body.contains("requested access to the resource is denied"),
        "{body}"
    );
    let (status, body) = token(&missing, "pull", Some(pat.clone())).await;
    assert_eq!((status, body.contains("DENIED")), (403, true), "{body}");
    // 401 UNAUTHORIZED for anonymous access to a private one.
    let (status, body) = token(&private, "pull", None).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains(r#""code":"UNAUTHORIZED""#) && body.contains("authentication required"),
        "{body}"
    );
    // 403 for bad credentials (not the spec's 401).
    let (status, body) = token(&private, "pull", Some("ghp_notTheToken".into())).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains(r#""message":"denied""#), "{body}");
    // A token for anonymous pulls of a public one: only `token`, opaque, no `expires_in`; and
    // it pulls.
    let (status, body) = token(&public, "pull", None).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 1, "only `token`: {body}");
    let anon = v["token"].as_str().unwrap();
    let res = http
        .head(format!("http://{host}/v2/{public}/manifests/0.1.0"))
        .bearer_auth(anon)
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Anonymous push is never granted, even on a public package.
    assert_eq!(token(&public, "pull,push", None).await.0, 401);

    // Ctrl-C: the world stops, and so does every process it started.
    let mut kept = kept;
    assert!(xtask::setup::signal(pid, xtask::setup::SIGINT));
    let mut code = None;
    for _ in 0..300 {
        if let Some(s) = kept.child.try_wait().unwrap() {
            code = Some(s.code());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let code = code.unwrap_or_else(|| panic!("Ctrl-C did not stop the kept world"));
    let err = err_text.lock().unwrap().clone();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("stopping the rehearsal world"), "{err}");
    let left: Vec<u32> = started.iter().copied().filter(|p| alive(*p)).collect();
    assert!(
        left.is_empty(),
        "processes left behind: {left:?} (of {started:?})"
    );
    assert!(
        http.get(format!("http://{host}/v2/")).send().await.is_err(),
        "the registry front still answers"
    );
    // What the operator removes by hand.
    assert!(
        scratch
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("aisopsflow-rehearsal-")
    );
    std::fs::remove_dir_all(&scratch).unwrap();
}

/// Difference 1: a package that does not exist is refused at `/token` with DENIED, and the
/// client reads that as "absent" (publish then creates it), not as refused credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_for_a_missing_package_reads_as_absent() {
    let Some((h, actions, _)) = world().await else {
        return;
    };
    let repo = format!("{ORG}/aisopsflow-core");
    for creds in [&h.password.clone(), &actions] {
        let c = client_with(&h, creds);
        assert!(c.resolve(&repo, "1.0.0").await.unwrap().is_none());
        assert_eq!(c.list_tags(&repo).await.unwrap(), None);
        assert!(
            c.absence(&repo).unwrap().contains("403"),
            "{:?}",
            c.absence(&repo)
        );
    }
    // The absence is never cached: once the package exists, the same client sees it.
    let c = client_with(&h, &actions);
    assert!(c.resolve(&repo, "1.0.0").await.unwrap().is_none());
    let (_, digest) = push_image(&h, &repo, "1.0.0", "x", &BTreeMap::new()).await;
    assert_eq!(
        c.resolve(&repo, "1.0.0").await.unwrap().unwrap().digest,
        digest
    );
}

/// Difference 1 through `verify`: a package that was never published fails
/// `verify-packages-exist` with "not published" (exit 1), not a credentials error (exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_a_never_published_package_as_not_published() {
    let Some(fx) = Fixture::new(&format!("v{VERSION}")).await else {
        return;
    };
    let toml = fx.root().join("release.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, text.replace("[components.console]", "[components.docs]\ncrate = \"aisopsflow-docs\"\ndir = \"docs-c\"\nscope = \"when-in-scope\"\n\n[components.console]").replace("allowed = [", "exceptions = [{ name = \"aisopsflow-docs\", reason = \"test-only component for a missing package\" }, { name = \"aisopsflow-docs-commercial\", reason = \"test-only component for a missing package\" }]\nallowed = [")).unwrap();
    let (code, json, stderr) = fx.verify(&["--components", "docs"]);
    assert_eq!(code, 1, "{json:#}\n{stderr}");
    let ev = evidence_of(&json, "verify-packages-exist");
    assert!(
        ev.contains("aisopsflow-docs is not published")
            && ev.contains("403")
            && ev.contains("DENIED"),
        "{ev}"
    );
    // The visibility half knows too: the Packages API does not list it.
    let ev = evidence_of(&json, "verify-visibility");
    assert!(ev.contains("aisopsflow-docs is not published"), "{ev}");
}

/// Difference 2: the anonymous probe never turns a rate limit into a verdict. A public
/// package behind one 429 is still "allowed" (retried); a commercial package made public by
/// mistake behind persistent 429s is an error (exit 3), never "private".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_is_never_a_visibility_verdict() {
    let Some((h, _, _)) = world().await else {
        return;
    };
    let public = format!("{ORG}/aisopsflow-core");
    let leaked = format!("{ORG}/aisopsflow-core-commercial");
    push_image(&h, &public, VERSION, "p", &BTreeMap::new()).await;
    push_image(&h, &leaked, VERSION, "c", &BTreeMap::new()).await;
    h.admin_make_public(&public).unwrap();
    h.admin_make_public(&leaked).unwrap();
    let c = harness_client(&h).with_backoff(Duration::from_millis(5), Duration::from_secs(20));

    // One 429 (with Retry-After) on the probe's HEAD: retried, and the verdict is right.
    h.inject(Some(
        Faults::next(1, 429).retry_after("0").matching("HEAD /v2/"),
    ));
    let p = c.anonymous_pull_allowed(&public, VERSION).await.unwrap();
    assert!(p.allowed, "{p:?}");
    // 429 on every HEAD: no verdict, for either package.
    h.inject(Some(Faults::one_in(1, 429).matching("HEAD /v2/")));
    for repo in [&public, &leaked] {
        let err = c.anonymous_pull_allowed(repo, VERSION).await.unwrap_err();
        assert_eq!(code_for(&err), EXTERNAL, "{err:#}");
        assert!(format!("{err:#}").contains("no verdict"), "{err:#}");
    }
    // 429 at the token service, without Retry-After: no verdict either.
    h.inject(Some(Faults::one_in(1, 429).matching("GET /token")));
    let err = c
        .anonymous_pull_allowed(&leaked, VERSION)
        .await
        .unwrap_err();
    assert_eq!(code_for(&err), EXTERNAL, "{err:#}");
    // A 5xx is no verdict either.
    h.inject(Some(Faults::one_in(1, 503).matching("HEAD /v2/")));
    let err = c
        .anonymous_pull_allowed(&leaked, VERSION)
        .await
        .unwrap_err();
    assert_eq!(code_for(&err), EXTERNAL, "{err:#}");
    h.inject(None);
    assert!(
        c.anonymous_pull_allowed(&leaked, VERSION)
            .await
            .unwrap()
            .allowed
    );
    assert!(h.front_counts().get("fault 429").copied().unwrap_or(0) >= 6);
}

/// Difference 3, as the acceptance asks: with one request in three answered 429, `verify`
/// gives the same verdicts as without faults, and `-v` shows the retries. The same with 503
/// and Retry-After.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_gives_the_same_verdicts_with_one_request_in_three_rate_limited() {
    let Some(fx) = Fixture::new(&format!("v{VERSION}")).await else {
        return;
    };
    let verdicts = |json: &serde_json::Value| -> BTreeSet<String> {
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| {
                let id = c["id"].as_str().unwrap_or("").to_string();
                let status = c["status"].as_str().unwrap_or("").to_string();
                std::iter::once(format!("{id} {status}"))
            })
            .collect()
    };
    let fast = [("AISOPSFLOW_REGISTRY_BACKOFF_MS", "20")];
    let (code, clean, stderr) = fx.verify_env(&[], &fast);
    assert_eq!(code, 0, "{clean:#}\n{stderr}");
    assert!(!ids_with(&clean, "pass").is_empty());
    for faults in [
        Faults::one_in(3, 429),
        Faults::one_in(3, 503).retry_after("0"),
        Faults::one_in(3, 429).retry_after("1"),
    ] {
        fx.h.inject(Some(faults.clone()));
        let before = fx.h.front_counts();
        let (code, json, stderr) = fx.verify_env(&["-v"], &fast);
        fx.h.inject(None);
        assert_eq!(code, 0, "{faults:?}\n{json:#}\n{stderr}");
        assert_eq!(verdicts(&json), verdicts(&clean), "{faults:?}");
        assert_eq!(
            ids_with(&json, "pass"),
            ids_with(&clean, "pass"),
            "{faults:?}"
        );
        let fired =
            fx.h.front_counts()
                .get(&format!("fault {}", faults.status))
                .copied()
                .unwrap_or(0)
                - before
                    .get(&format!("fault {}", faults.status))
                    .copied()
                    .unwrap_or(0);
        assert!(fired > 0, "no fault fired: {faults:?}");
        assert!(
            stderr.contains(&format!("answered {}", faults.status)) && stderr.contains("retry 1/5"),
            "-v shows each retry:\n{stderr}"
        );
    }
}

/// Difference 4: tokens are opaque and expire (ghcr.io sends no `expires_in`; 60 s by the
/// spec). A token that expired between two reads is refreshed once, not reported as a scope
/// problem; tokens are requested again once older than their lifetime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_once() {
    let Some((h, _, _)) = world().await else {
        return;
    };
    let repo = format!("{ORG}/aisopsflow-core-commercial");
    push_image(&h, &repo, VERSION, "c", &BTreeMap::new()).await;
    let c = harness_client(&h);
    assert!(c.resolve(&repo, VERSION).await.unwrap().is_some());
    let tokens = h.token_counts().kind("authenticated");
    // The build took longer than the token lives.
    h.expire_tokens();
    let r = c.resolve(&repo, VERSION).await.unwrap();
    assert!(r.is_some());
    assert_eq!(
        h.token_counts().kind("authenticated"),
        tokens + 1,
        "one refresh"
    );
    assert_eq!(h.front_counts().get("expired-token").copied(), Some(1));
    // A later read uses the refreshed token: no further token request.
    c.manifest(&repo, VERSION).await.unwrap();
    assert_eq!(h.token_counts().kind("authenticated"), tokens + 1);
    // A token that is refused again right after the refresh is an error, not a loop.
    h.set_token_lifetime(Duration::ZERO);
    h.expire_tokens();
    let err = c.resolve(&repo, VERSION).await.unwrap_err();
    assert!(format!("{err:#}").contains("401"), "{err:#}");
    assert_eq!(h.token_counts().kind("authenticated"), tokens + 2);
}

/// Difference 5: ghcr.io issues the push token and refuses at the write when the package does
/// not grant the workflow's repository Actions access; the error names the fix (exit 1), and
/// nothing is tagged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_without_actions_access_names_manage_actions_access() {
    let Some((h, actions, customer)) = world().await else {
        return;
    };
    let repo = format!("{ORG}/aisopsflow-runner");
    // Pushed by hand with the operator's PAT: linked to nothing, no Actions access.
    let pat = client_with(&h, &h.password.clone());
    let (_, digest) = push_image(&h, &repo, VERSION, "r", &BTreeMap::new()).await;
    // Without any access even the read before the write is refused, naming the same fix.
    h.set_actions_access(&repo, ENTERPRISE, None);
    let c = client_with(&h, &actions);
    let err = c.retag(&repo, &digest, "latest").await.unwrap_err();
    assert_eq!(code_for(&err), POLICY, "{err:#}");
    assert!(
        format!("{err:#}").contains("Manage Actions access"),
        "{err:#}"
    );
    // With Read access the token (pull,push) is issued, and ghcr.io refuses at the write.
    h.set_actions_access(
        &repo,
        ENTERPRISE,
        Some(xtask::standin::registry::Role::Read),
    );
    let c = client_with(&h, &actions);
    let err = c.retag(&repo, &digest, "latest").await.unwrap_err();
    let msg = format!("{err:#}");
    assert_eq!(code_for(&err), POLICY, "{msg}");
    assert!(
        msg.contains("permission_denied: write_package")
            && msg.contains("Manage Actions access")
            && msg.contains("aisopsflow-enterprise with the Write role")
            && msg.contains(&format!(
                "https://github.com/orgs/{ORG}/packages/container/aisopsflow-runner/settings"
            )),
        "{msg}"
    );
    assert!(
        pat.resolve(&repo, "latest").await.unwrap().is_none(),
        "nothing was tagged"
    );
    // A customer's read-only credential is refused at the write too, on its own package.
    let own = format!("{ORG}/aisopsflow-core-commercial");
    let (_, own_digest) = push_image(&h, &own, VERSION, "c", &BTreeMap::new()).await;
    let err = client_with(&h, &customer)
        .retag(&own, &own_digest, "latest")
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("write_package"), "{err:#}");
    // Granting access (the admin's fix) makes the same retag work.
    h.set_actions_access(
        &repo,
        ENTERPRISE,
        Some(xtask::standin::registry::Role::Write),
    );
    assert_eq!(c.retag(&repo, &digest, "latest").await.unwrap(), digest);
}

/// Every package's tags and the digest each names, read with the operator's PAT.
async fn tag_state(h: &RegistryHarness) -> BTreeMap<String, BTreeMap<String, String>> {
    let c = harness_client(h);
    let mut out = BTreeMap::new();
    for p in PUBLIC.iter().chain(COMMERCIAL.iter()) {
        let repo = format!("{ORG}/{p}");
        let mut tags = BTreeMap::new();
        for t in c.list_tags(&repo).await.unwrap().unwrap_or_default() {
            let d = c.resolve(&repo, &t).await.unwrap().expect("listed").digest;
            tags.insert(t, d);
        }
        out.insert(p.to_string(), tags);
    }
    out
}

/// Difference 5 through the real `cargo xtask publish`, as the workflow runs it (the
/// repository's `GITHUB_TOKEN` as `REGISTRY_TOKEN`, a `release-v` tag that moves `latest`):
/// one package, pushed by hand once, does not grant the repository Write in "Manage Actions
/// access". Without any access the pre-read is refused; with Read only ghcr.io issues the push
/// token and refuses at the write. Either way publish exits 1 naming the fix and the package's
/// settings page, before building anything, and no package's tags change (no tag pushed, and
/// `latest` not moved, on the packages before it either).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_without_actions_access_names_the_fix_and_pushes_nothing() {
    let Some((h, actions, _)) = world().await else {
        return;
    };
    // Every package has an earlier release and `latest`; the runner's edition is the odd one.
    for p in PUBLIC.iter().chain(COMMERCIAL.iter()) {
        let repo = format!("{ORG}/{p}");
        push_image(&h, &repo, "1.3.0", p, &BTreeMap::new()).await;
        crate::registry::retag(&h, &repo, "1.3.0", "latest").await;
    }
    let runner = format!("{ORG}/aisopsflow-runner");
    let before = tag_state(&h).await;
    assert!(
        before.values().all(|t| t.contains_key("latest")),
        "{before:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::copy(
        crate::support::repo_root().join("release.toml"),
        root.join("release.toml"),
    )
    .unwrap();
    crate::support::git(root, &["-c", "init.defaultBranch=main", "init", "-q"]);
    crate::support::git(root, &["add", "release.toml"]);
    crate::support::git(root, &["commit", "-qm", "release 1.4.0"]);
    let tag = format!("release-v{VERSION}");
    crate::support::git(
        root,
        &[
            "tag",
            "-a",
            "-m",
            &format!("release {VERSION}\n\ncomponents: core,runner,console"),
            &tag,
        ],
    );
    let sha = crate::support::git(root, &["rev-parse", "HEAD"]);
    let publish = || {
        crate::support::Xtask::new()
            .arg("--repo")
            .arg(root)
            .arg("publish")
            .env("AISOPSFLOW_REGISTRY", &h.host)
            .env("GITHUB_REF", format!("refs/tags/{tag}"))
            .env("GITHUB_SHA", &sha)
            .env("GITHUB_EVENT_NAME", "push")
            .env("REGISTRY_USERNAME", "release-operator")
            .env("REGISTRY_TOKEN", actions.expose())
            .env("AISOPSFLOW_REGISTRY_BACKOFF_MS", "5")
            .output()
    };
    let settings =
        format!("https://github.com/orgs/{ORG}/packages/container/aisopsflow-runner/settings");

    // No access at all: the read before the write is refused.
    h.set_actions_access(&runner, ENTERPRISE, None);
    let out = publish();
    let text = crate::support::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("installation not allowed to Read organization package")
            && text.contains("Manage Actions access")
            && text.contains("aisopsflow-enterprise with the Write role")
            && text.contains(&settings),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| ["pushed ", "tagged ", "moved "]
            .iter()
            .any(|w| l.starts_with(w))),
        "{text}"
    );
    assert_eq!(
        tag_state(&h).await,
        before,
        "a refused publish changed the registry"
    );

    // Read only: the token is issued, the write is refused, and that is found before any
    // package is built or written, not at the runner's push after the core's.
    h.set_actions_access(
        &runner,
        ENTERPRISE,
        Some(xtask::standin::registry::Role::Read),
    );
    let refused = h
        .front_counts()
        .get("permission_denied")
        .copied()
        .unwrap_or(0);
    let out = publish();
    let text = crate::support::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("permission_denied: write_package")
            && text.contains("nothing was pushed")
            && text.contains("Manage Actions access")
            && text.contains("aisopsflow-enterprise with the Write role")
            && text.contains(&settings),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| ["pushed ", "tagged ", "moved "]
            .iter()
            .any(|w| l.starts_with(w))),
        "{text}"
    );
    assert_eq!(
        h.front_counts()
            .get("permission_denied")
            .copied()
            .unwrap_or(0),
        refused + 1,
        "refused at the write, once"
    );
    assert_eq!(
        tag_state(&h).await,
        before,
        "a refused publish changed the registry"
    );
    assert!(
        !text.contains(actions.expose()),
        "the token is never printed"
    );
}

/// Difference 6: a package first pushed with a workflow's `GITHUB_TOKEN` is created private,
/// linked to the workflow's repository, with Write access for it; a public edition then fails
/// the anonymous probe until an admin flips it, once, one way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_push_creates_a_private_linked_package() {
    let Some((h, actions, _)) = world().await else {
        return;
    };
    let repo = format!("{ORG}/aisopsflow-console");
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = events.clone();
    h.on_package_event(std::sync::Arc::new(move |e| {
        seen.lock().unwrap().push(e.clone())
    }));
    // Push as the workflow does: blobs and a manifest with the workflow token.
    let c = client_with(&h, &actions);
    let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
    let token = {
        let res = xtask::effects::http::client()
            .get(format!(
                "{}?scope=repository:{repo}:pull,push&service={}",
                h.token_url, h.service
            ))
            .basic_auth("x", Some(actions.expose()))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json::<serde_json::Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let http = xtask::effects::http::client();
    let res = http
        .post(format!("http://{}/v2/{repo}/blobs/uploads/", h.host))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.contains(&h.host), "uploads go through the front: {loc}");
    let sep = if loc.contains('?') { '&' } else { '?' };
    let res = http
        .put(format!(
            "{loc}{sep}digest=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        ))
        .bearer_auth(&token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = http
        .put(format!("http://{}/v2/{repo}/manifests/{VERSION}", h.host))
        .bearer_auth(&token)
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let p = h.package(&repo).expect("created by the push");
    assert!(!p.public, "inherits the private repository's visibility");
    assert_eq!(p.linked.as_deref(), Some(ENTERPRISE));
    assert_eq!(
        p.actions_access.get(ENTERPRISE),
        Some(&xtask::standin::registry::Role::Write)
    );
    assert!(matches!(
        events.lock().unwrap().first(),
        Some(xtask::standin::registry::PackageEvent::Created { .. })
    ));
    // The workflow can read and write what it created.
    assert!(c.resolve(&repo, VERSION).await.unwrap().is_some());
    // Anonymous pulls are denied with 401 (private, exists), not 403 (absent).
    let probe = c.anonymous_pull_allowed(&repo, VERSION).await.unwrap();
    assert!(
        !probe.allowed && !probe.denied_not_unauthorized,
        "{probe:?}"
    );
    // The admin's flip, once; then anonymous pulls work, and there is no way back.
    h.admin_make_public(&repo).unwrap();
    assert!(
        c.anonymous_pull_allowed(&repo, VERSION)
            .await
            .unwrap()
            .allowed
    );
    assert!(h.admin_make_public(&repo).is_ok(), "public stays public");
    let _ = (PUBLIC, COMMERCIAL);
}
