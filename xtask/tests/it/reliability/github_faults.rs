//! Faults in GitHub, through the stand-in's fault hooks.

use super::*;

pub(super) const SETTINGS_ONLY: &[&str] = &[
    "preflight",
    "--only",
    "repo",
    "--only",
    "actions",
    "--only",
    "packages-registry",
];

pub(super) async fn preflight_against(h_base: &str, token: &str) -> Run {
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
pub(super) async fn github_faults_are_retried_or_reported_and_the_rerun_completes() {
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
