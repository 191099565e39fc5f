//! The release never outruns its gate, and verdicts mean what they say (issues 16 and 15 §3).
//!
//! Each test stages one situation from issue 16's "Why" against the real local parts (a bare
//! git remote, the GitHub stand-in, the registry harness; `support::World`) and shows the old
//! wrong answer is gone: a check that could not run is never a pass, a release that cannot
//! finish is refused before anything is pushed, and the contracts (exit codes, one JSON
//! document, a lock per checkout, the umask) hold.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use crate::git;
use crate::support::world::tag_release;
use crate::support::{Run, World};
use xtask::standin::github::{self as gh, ADMIN_TOKEN};

/// `preflight` in a committed copy of the repository layout (the release fixture's work
/// clone), with only the given environment: no token unless the test passes one, and a
/// HOME without a `gh` login.
async fn preflight(env: &World, token: Option<&str>, args: &[&str]) -> Run {
    let mut c = crate::support::Xtask::new()
        .arg("--repo")
        .arg(&env.work)
        .arg("preflight")
        .args(args)
        .env("GITHUB_API_URL", &env.gh.base_url)
        .env("AISOPSFLOW_REGISTRY", &env.reg.host)
        .pass("USER");
    if let Some(t) = token {
        c = c.env("GITHUB_TOKEN", t);
    }
    Run::from(&c.into_tokio().output().await.unwrap())
}

/// The settings, package and manual checks: everything a token decides, and no image build.
const SETTINGS: [&str; 8] = [
    "--only", "repo", "--only", "actions", "--only", "packages", "--only", "manual",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_without_a_token_is_not_ready_and_exits_4() {
    let Some(env) = World::start().await else {
        return;
    };
    // Old: `ok: 20 pass, 0 fail, 0 warn, 12 skip, 5 manual`, exit 0.
    let run = preflight(&env, None, &SETTINGS).await;
    let out = &run.expect(4, &[]).stdout;
    let last = out.trim_end().lines().last().unwrap();
    assert!(
        last.starts_with("not ready: 10 checks could not run, 5 attestations missing"),
        "{out}"
    );
    assert!(!out.contains("\nok:") && !out.contains("\nready:"), "{out}");
    assert!(
        out.contains("NOTRUN repo-private: could not run: no GitHub token"),
        "{out}"
    );
    assert!(
        out.contains("gh auth login"),
        "the fix names the grant: {out}"
    );

    // The JSON verdict agrees.
    let mut args = SETTINGS.to_vec();
    args.extend(["--format", "json"]);
    let run = preflight(&env, None, &args).await;
    let v: serde_json::Value = serde_json::from_str(&run.expect(4, &[]).stdout).unwrap();
    assert_eq!(v["summary"]["verdict"], "incomplete");
    assert_eq!(v["summary"]["exit_code"], 4);
    assert_eq!(v["summary"]["not_run"], 10);
    assert_eq!(v["summary"]["attestations_missing"], 5);
    let statuses: BTreeSet<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("repo-"))
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, BTreeSet::from(["not-run"]));

    // With a token and every attestation, the same checks are ready.
    let mut args = SETTINGS.to_vec();
    let att = env.attestations.to_str().unwrap().to_string();
    args.extend(["--attestations", &att]);
    let run = preflight(&env, Some(ADMIN_TOKEN), &args).await;
    let out = &run.expect(0, &[]).stdout;
    assert!(
        out.trim_end().lines().last().unwrap().starts_with("ok: "),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_not_ready_never_ok() {
    let Some(env) = World::start().await else {
        return;
    };
    let att = env.attestations.to_str().unwrap().to_string();
    let mut args = SETTINGS.to_vec();
    args.extend(["--attestations", &att]);
    // Old: the 401 became skips and the summary said "ok".
    let run = preflight(
        &env,
        Some("ghp_revokedTOKEN000000000000000000000099"),
        &args,
    )
    .await;
    let out = &run.expect(4, &[]).stdout;
    assert!(
        out.contains("answered 401: the GitHub token was rejected"),
        "{out}"
    );
    assert!(
        out.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("not ready: 10 checks could not run, 0 attestations missing"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_says_offline_never_ok() {
    let Some(env) = World::start().await else {
        return;
    };
    // Exit 0: --offline is the operator saying the run is partial.
    let run = preflight(
        &env,
        None,
        &["--offline", "--only", "repo", "--only", "workflow"],
    )
    .await;
    let out = &run.expect(0, &[]).stdout;
    let last = out.trim_end().lines().last().unwrap();
    assert!(
        last.starts_with("offline: 3 checks not run, 0 attestations missing"),
        "{out}"
    );
    assert!(!out.contains("\nok:"), "{out}");
    // A failure still fails offline.
    std::fs::write(
        env.work.join(".github/workflows/publish-images.yml"),
        "on: push\npermissions: write-all\njobs: {}\n",
    )
    .unwrap();
    let run = preflight(&env, None, &["--offline", "--only", "workflow"]).await;
    assert!(
        run.expect(1, &[]).stdout.contains("FAILED"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_release_gate_refuses_checks_that_could_not_run_naming_the_grant() {
    let Some(env) = World::start().await else {
        return;
    };
    // The release operator's token can write but cannot read administration settings. Old:
    // the settings checks became skips, skips never gated, and the tag was pushed.
    env.gh.standin.with_world(|w| {
        let t = w.tokens.get_mut(ADMIN_TOKEN).unwrap();
        t.role = gh::Role::Write;
    });
    let out = env
        .release("2.0.0", &[])
        .await
        .expect(
            1,
            &[
                "preflight gate failed: nothing was tagged",
                "NOTRUN",
                "could not run",
            ],
        )
        .text();
    assert!(
        out.contains("use a token with") || out.contains("repository admin"),
        "the refusal names what to grant: {out}"
    );
    env.assert_unchanged();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_checks_takes_only_ids_that_exist() {
    let Some(env) = World::start().await else {
        return;
    };
    let att = env.attestations.to_str().unwrap().to_string();
    for (bad, says) in [
        // An unset variable: old, it skipped the whole gate, attestations included.
        ("", "empty value"),
        ("nope", "names no gate check"),
        ("bui", "names no gate check"),
        (
            "manual-package-inheritance",
            "attestations are recorded, never skipped",
        ),
        ("manual", "attestations are recorded, never skipped"),
    ] {
        env.xtask(&[
            "release",
            "2.0.0",
            "--yes",
            "--attestations",
            &att,
            "--skip-checks",
            bad,
        ])
        .await
        .expect_for(&format!("--skip-checks {bad:?}"), 2, &[says]);
        env.assert_unchanged();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliberate_skips_are_recorded_with_who_skipped_them() {
    let Some(env) = World::start().await else {
        return;
    };
    env.release("2.0.0", &["--skip-checks", "docs-digest-pinning"])
        .await
        .expect(0, &[]);
    let notes = env.notes("2.0.0").unwrap();
    let who = std::env::var("USER").unwrap_or_else(|_| "the operator".into());
    for id in ["build-core", "build-smoke", "docs-digest-pinning"] {
        let line = notes
            .lines()
            .find(|l| l.starts_with(&format!("- `{id}`: skip:")))
            .unwrap_or_else(|| panic!("{id} recorded as skipped:\n{notes}"));
        assert!(
            line.contains(&format!("skipped: by {who} with --skip-checks")),
            "{line}"
        );
    }
}

// --- Issue 16 §1: the gate asks every question the publish run will ask ---------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_version_from_a_released_commit_is_refused_before_tagging() {
    let Some(env) = World::start().await else {
        return;
    };
    env.release("2.0.0", &[]).await.expect(0, &[]);
    // Old: the gate passed, v2.1.0 was pushed, and the publish run refused it ("one commit
    // gives one image"): a pushed tag no rerun can finish.
    env.release("2.1.0", &[]).await.expect(
        2,
        &[
            "was already published as version 2.0.0",
            "one commit gives one image",
            "nothing was tagged",
        ],
    );
    assert_eq!(env.remote_tags(), BTreeSet::from(["v2.0.0".to_string()]));
    assert!(!env.state_exists("2.1.0") && env.notes("2.1.0").is_none());
    assert_eq!(env.control.runs.load(Ordering::SeqCst), 1, "no second run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_made_tag_at_head_is_refused_not_taken_as_done() {
    let Some(env) = World::start().await else {
        return;
    };
    // A colleague pushed a lightweight tag at HEAD. Old: "create tag: done", and the publish
    // run shipped the default components while verify failed on every rerun.
    let other = env.clone_remote("other");
    git(&other, &["tag", "v2.0.0"]);
    git(&other, &["push", "-q", "origin", "v2.0.0"]);
    env.release("2.0.0", &["--components", "core,runner,console"])
        .await
        .expect(
            1,
            &[
                "lightweight tag",
                "cannot finish as asked",
                "git push origin :refs/tags/v2.0.0",
            ],
        );
    assert!(env.notes_files().is_empty(), "{:?}", env.notes_files());

    // Annotated, but naming fewer components than this release asks for.
    git(&other, &["push", "-q", "origin", ":refs/tags/v2.0.0"]);
    git(&other, &["tag", "-d", "v2.0.0"]);
    git(&env.work, &["tag", "-d", "v2.0.0"]);
    tag_release(&other, "2.0.0");
    git(&other, &["push", "-q", "origin", "v2.0.0"]);
    let out = env
        .release("2.0.0", &["--components", "core,runner,console"])
        .await
        .expect(1, &[])
        .text();
    assert!(
        out.contains("names components core,runner, but this release asks for console,core,runner")
            || out.contains(
                "names components core,runner, but this release asks for core,runner,console"
            ),
        "{out}"
    );
    assert!(env.notes_files().is_empty(), "{:?}", env.notes_files());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_pushed_from_elsewhere_gets_the_gate_and_the_notes_say_so() {
    let Some(env) = World::start().await else {
        return;
    };
    env.tag_from_another_clone("2.0.0");
    // Old: "the gate ran before it", with no record anywhere; the notes listed only the
    // verify checks.
    env.release("2.0.0", &[]).await.expect(
        0,
        &["whether a gate ran before it is unknown; running it now"],
    );
    let notes = env.notes("2.0.0").unwrap();
    assert!(
        notes.contains("The tag was pushed from elsewhere: whether a gate ran before the push is unknown. This gate ran after the push"),
        "{notes}"
    );
    for id in [
        "workflow-permissions",
        "repo-private",
        "manual-package-inheritance",
        "verify-semver-tag",
    ] {
        assert!(
            notes.contains(&format!("- `{id}`: ")),
            "{id} in the notes:\n{notes}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_pushed_by_someone_else_during_the_gate_is_named_as_such() {
    let Some(env) = World::start().await else {
        return;
    };
    let (owner, name) = env.config.repo_owner_name();
    // One settings answer of the gate is slow, which leaves the colleague time to push.
    env.gh.standin.inject(
        &format!("/repos/{owner}/{name}/actions/permissions"),
        1,
        gh::FaultAction::Delay(std::time::Duration::from_secs(5)),
    );
    let other = env.clone_remote("other");
    let colleague = async {
        tag_release(&other, "2.0.0");
        git(&other, &["push", "-q", "origin", "v2.0.0"]);
    };
    // Old: exit 3, "check your credentials".
    let out = env
        .release_until("2.0.0", "preflight gate: running", |_| colleague)
        .await
        .expect(1, &["someone else pushed tag v2.0.0"])
        .text();
    assert!(!out.contains("credentials"), "{out}");
    assert!(
        !env.state_exists("2.0.0"),
        "no record of a tag that is not ours"
    );
    // The rerun follows their release, runs the gate, and says so in the notes.
    env.release("2.0.0", &[]).await.expect(0, &[]);
    assert!(
        env.notes("2.0.0")
            .unwrap()
            .contains("whether a gate ran before the push is unknown")
    );
}

// --- Issue 16 §3: ordering and configuration invariants -------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_never_moves_backwards_unless_allowed_and_recorded() {
    let Some(env) = World::start().await else {
        return;
    };
    env.release("3.0.0", &["--latest"]).await.expect(0, &[]);
    let latest_before = env.all_tags().await;
    // An older version, from a new commit, asked to move `latest`. Old: `latest` moved back.
    env.commit_and_push("core/fix.txt", "backport\n");
    env.release("2.9.0", &["--latest"]).await.expect(
        2,
        &[
            "holds 3.0.0, which is newer than 2.9.0",
            "--allow-downgrade",
        ],
    );
    assert_eq!(
        env.remote_tags(),
        BTreeSet::from(["release-v3.0.0".to_string()])
    );
    assert_eq!(env.all_tags().await, latest_before, "nothing moved");
    // A `v` tag is fine: it never moves `latest`.
    env.release("2.9.0", &[]).await.expect(0, &[]);
    // promote has the same guard.
    env.xtask(&["promote", "2.9.0", "--yes"])
        .await
        .expect(2, &["holds 3.0.0, which is newer than 2.9.0"]);
    assert_eq!(
        env.control.runs.load(Ordering::SeqCst),
        2,
        "nothing dispatched"
    );
    // Explicit, and said.
    env.xtask(&["promote", "2.9.0", "--yes", "--allow-downgrade"])
        .await
        .expect(
            0,
            &["moves backwards from 3.0.0 to 2.9.0: allowed with --allow-downgrade"],
        );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_downgrade_on_release_is_recorded_in_the_notes() {
    let Some(env) = World::start().await else {
        return;
    };
    env.release("3.0.0", &["--latest"]).await.expect(0, &[]);
    env.commit_and_push("core/fix.txt", "backport\n");
    env.release("2.9.0", &["--latest", "--allow-downgrade"])
        .await
        .expect(0, &[]);
    let notes = env.notes("2.9.0").unwrap();
    assert!(
        notes.contains("allowed to move to a lower version with --allow-downgrade"),
        "{notes}"
    );
}

// --- Issue 16 §6: contracts ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_origin_remote_is_a_configuration_error() {
    let Some(env) = World::start().await else {
        return;
    };
    git(&env.work, &["remote", "remove", "origin"]);
    for args in [
        vec!["release", "2.0.0", "--dry-run"],
        vec!["promote", "2.0.0", "--yes"],
    ] {
        // Old: exit 3, as if a system were unreachable.
        env.xtask(&args).await.expect_for(
            &format!("{args:?}"),
            2,
            &["no remote `origin`", "git remote add origin"],
        );
    }
}

fn config_error(text: &str) -> String {
    let err = xtask::config::Config::parse(
        text,
        std::path::Path::new("/repo/release.toml"),
        std::path::Path::new("/repo"),
    )
    .expect_err("refused");
    assert_eq!(xtask::exit::code_for(&err), 2, "{err:#}");
    format!("{err:#}")
}

fn real_toml() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../release.toml"),
    )
    .unwrap()
}

#[test]
fn the_commercial_edition_can_never_be_public() {
    let t = real_toml();
    // Old: accepted, since only one edition was public.
    let swapped = t
        .replace(
            "package = \"aisopsflow-{component}\"\nvisibility = \"public\"",
            "package = \"aisopsflow-{component}\"\nvisibility = \"private\"",
        )
        .replace(
            "visibility = \"private\"\nfeatures = [\"commercial\"]",
            "visibility = \"public\"\nfeatures = [\"commercial\"]",
        );
    assert_ne!(swapped, t);
    let msg = config_error(&swapped);
    assert!(msg.contains("editions.commercial.visibility"), "{msg}");
    assert!(
        msg.contains("commercial images must never be public"),
        "{msg}"
    );
    assert!(
        msg.contains("set editions.commercial.visibility = \"private\""),
        "{msg}"
    );
}

#[test]
fn the_notes_dir_cannot_cover_customer_docs_or_sources() {
    let t = real_toml();
    for bad in [
        "docs",
        "docs/customer",
        "docs/customer/releases",
        "core",
        ".",
        "../elsewhere",
        "/tmp/notes",
        ".github",
        "docs/packages",
    ] {
        let text = t.replace("dir = \"docs/releases\"", &format!("dir = \"{bad}\""));
        assert_ne!(text, t);
        let msg = config_error(&text);
        assert!(msg.contains("notes.dir"), "[{bad}] {msg}");
        assert!(
            msg.contains("docs/releases"),
            "[{bad}] the fix names a dedicated directory: {msg}"
        );
    }
    for good in ["docs/releases", "release-notes", "docs/releases/internal"] {
        let text = t.replace("dir = \"docs/releases\"", &format!("dir = \"{good}\""));
        assert!(
            xtask::config::Config::parse(
                &text,
                std::path::Path::new("/r/release.toml"),
                std::path::Path::new("/r")
            )
            .is_ok(),
            "{good}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehearsal_rehearses_the_working_tree_and_says_so() {
    let Some(env) = World::start().await else {
        return;
    };
    use xtask::standin::rehearsal::{Rehearsal, RehearsalOptions};
    // A changed workflow, not yet committed (what the runbook says to rehearse), an untracked
    // file, and the operator's own release output, which is not part of the tree.
    let wf = ".github/workflows/publish-images.yml";
    let changed = std::fs::read_to_string(env.work.join(wf)).unwrap() + "# rehearsed change\n";
    std::fs::write(env.work.join(wf), &changed).unwrap();
    std::fs::write(env.work.join("core/new.txt"), "new\n").unwrap();
    std::fs::create_dir_all(env.notes_dir()).unwrap();
    std::fs::write(env.notes_dir().join("9.9.9.md"), "not rehearsed\n").unwrap();
    let status_before = git(&env.work, &["status", "--porcelain"]);
    let head_before = env.head();
    let ws = xtask::workspace::Global {
        repo: Some(env.work.clone()),
        verbose: 0,
    }
    .workspace()
    .unwrap();
    // Old: the rehearsal silently released HEAD, without the change.
    let r = Rehearsal::start(&ws, RehearsalOptions::default())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(r.work_dir.join(wf)).unwrap(),
        changed
    );
    assert_eq!(
        std::fs::read_to_string(r.work_dir.join("core/new.txt")).unwrap(),
        "new\n"
    );
    assert!(!r.work_dir.join("docs/releases/9.9.9.md").exists());
    assert_eq!(git(&r.work_dir, &["rev-parse", "HEAD~1"]), head_before);
    assert_eq!(
        git(&r.work_dir, &["status", "--porcelain"]),
        "",
        "the clone is clean"
    );
    // The operator's checkout is exactly as it was.
    assert_eq!(git(&env.work, &["status", "--porcelain"]), status_before);
    assert_eq!(env.head(), head_before);
}

/// Every `--format json|sarif` run prints exactly one document on stdout, whatever the exit
/// code, with the error inside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_document_on_stdout_whatever_the_exit_code() {
    let Some(env) = World::start().await else {
        return;
    };
    let one = |stdout: &str, what: &str| -> serde_json::Value {
        let mut it = serde_json::Deserializer::from_str(stdout).into_iter::<serde_json::Value>();
        let doc = it
            .next()
            .unwrap_or_else(|| panic!("[{what}] no document on stdout: {stdout:?}"))
            .unwrap_or_else(|e| panic!("[{what}] not JSON ({e}): {stdout}"));
        assert!(
            it.next().is_none(),
            "[{what}] more than one document: {stdout}"
        );
        doc
    };
    let run = |args: Vec<String>| env.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    // Exit 2 from clap (an unknown flag), and from configuration (a bad --only).
    for (args, code) in [
        (s(&["preflight", "--format", "json", "--no-such-flag"]), 2),
        (s(&["preflight", "--format=sarif", "--no-such-flag"]), 2),
        (s(&["preflight", "--format", "json", "--only", "nosuch"]), 2),
        (
            s(&["preflight", "--format", "sarif", "--only", "nosuch"]),
            2,
        ),
        (s(&["verify", "9.9.9", "--format", "json"]), 2),
    ] {
        let out = Run::from(&run(args.clone()).output().await.unwrap());
        let doc = one(
            &out.expect_for(&format!("{args:?}"), code, &[]).stdout,
            &args.join(" "),
        );
        if args.iter().any(|a| a.contains("sarif")) {
            let inv = &doc["runs"][0]["invocations"][0];
            assert_eq!(inv["executionSuccessful"], false, "{doc}");
            assert_eq!(inv["exitCode"], code, "{doc}");
            assert!(
                !inv["toolExecutionNotifications"][0]["message"]["text"]
                    .as_str()
                    .unwrap()
                    .is_empty()
            );
        } else {
            assert_eq!(doc["error"]["exit_code"], code, "{doc}");
            assert_eq!(doc["error"]["kind"], "usage", "{doc}");
        }
    }
    // Exit 3: the GitHub API unreachable. Old: nothing on stdout.
    let mut c = run(s(&[
        "preflight",
        "--only",
        "repo-private",
        "--format",
        "sarif",
    ]));
    c.env("GITHUB_API_URL", "http://127.0.0.1:9");
    let out = Run::from(&c.output().await.unwrap());
    let doc = one(&out.expect(3, &[]).stdout, "exit 3");
    assert_eq!(doc["runs"][0]["invocations"][0]["exitCode"], 3);

    // `release --yes --format json`: old, a JSON plan followed by human text.
    let release_json = |version: &str| {
        let mut args = env.release_args(version);
        args.extend(s(&["--format", "json"]));
        // Held until the child ends: it owns the run's temporary HOME.
        let mut c = run(args);
        async move { Run::from(&c.output().await.unwrap()) }
    };
    let out = release_json("2.0.0").await;
    let doc = one(&out.expect(0, &[]).stdout, "release --format json");
    assert_eq!(doc["outcome"], "released");
    assert_eq!(doc["tag"], "v2.0.0");
    assert_eq!(doc["released"]["references"].as_array().unwrap().len(), 4);
    // A refusal is one document too, with the error inside.
    let out = release_json("2.1.0").await;
    let doc = one(&out.expect(2, &[]).stdout, "release refused");
    assert_eq!(doc["outcome"], "error");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("one commit gives one image")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_release_per_checkout_at_a_time() {
    let Some(env) = World::start().await else {
        return;
    };
    // The first release waits on a run held in progress; a second one in the same checkout
    // is refused at once, naming the first. Old: both ran and raced.
    env.control.hold.store(true, Ordering::SeqCst);
    let (tx, rx) = tokio::sync::oneshot::channel::<Run>();
    let second = async {
        let _ = tx.send(env.release("2.0.0", &[]).await);
        env.control.hold.store(false, Ordering::SeqCst);
    };
    env.release_until("2.0.0", "found run", |_| second)
        .await
        .expect_for("the first release completes", 0, &[]);
    rx.await.unwrap().expect(
        1,
        &[
            "another cargo xtask holds this checkout's lock: pid ",
            "`cargo xtask",
            "release 2.0.0",
            "started 20",
        ],
    );
    assert_eq!(env.control.runs.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_and_the_resume_record_honour_the_umask() {
    let Some(env) = World::start().await else {
        return;
    };
    use std::os::unix::fs::PermissionsExt as _;
    unsafe extern "C" {
        fn umask(mask: u32) -> u32;
    }
    // Interrupted after the push, so the resume record exists; then completed.
    env.control.pause_watcher.store(true, Ordering::SeqCst);
    let run = |args: &[&str]| {
        let mut c = env.command(args);
        // SAFETY: umask is async-signal-safe; it only sets the child's file-creation mask.
        unsafe {
            c.pre_exec(|| {
                umask(0o022);
                Ok(())
            });
        }
        c
    };
    let args = env.release_args("2.0.0");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Held until the child ends: it owns the run's temporary HOME.
    let mut cmd = run(&args);
    let mut child = cmd.stderr(std::process::Stdio::piped()).spawn().unwrap();
    // Wait for the record to appear (the push follows it), then stop the run.
    let state = env.notes_dir().join(".2.0.0.state.json");
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(child.stderr.take().unwrap()));
    while let Ok(Some(l)) = lines.next_line().await {
        if l.contains("waiting for the") {
            break;
        }
    }
    let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    // Old: 0600 whatever the umask.
    assert_eq!(mode, 0o644, "resume record mode {mode:o}");
    let _ = child.kill().await;
    env.control.pause_watcher.store(false, Ordering::SeqCst);
    Run::from(&run(&args).output().await.unwrap()).expect(0, &[]);
    for f in ["2.0.0.md", "2.0.0.customer.md"] {
        let mode = std::fs::metadata(env.notes_dir().join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o644, "{f} mode {mode:o}");
    }
}
