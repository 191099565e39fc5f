//! The settings checks on configurations real repositories have (the audit's D1 to D8,
//! `../shared/reference/github-openapi-audit.md`), each against the stand-in, and the two
//! ruleset pattern matchers (product and stand-in, written independently) against GitHub's
//! documented examples.

use serde_json::json;
use xtask::checks::{CheckId, Status, settings};
use xtask::standin::github::{ADMIN_TOKEN, NO_ADMIN_TOKEN, Role, TokenSeed, fake_sha};

use crate::github::{client, ctx, outcome, run_checks, status_of, with_world};

fn tag_includes(w: &mut xtask::standin::github::World, include: &[&str]) {
    w.ruleset_mut("tag").unwrap().include = include.iter().map(|s| s.to_string()).collect();
}

// --- D1: ruleset patterns follow GitHub's fnmatch syntax ---

#[tokio::test]
async fn d1_character_set_tag_patterns_cover_release_tags() {
    let h =
        with_world(|w| tag_includes(w, &["refs/tags/v[0-9]*", "refs/tags/release-v[0-9]*"])).await;
    let outs = run_checks(&h, Some(ADMIN_TOKEN)).await;
    let o = outcome(&outs, CheckId::RepoTagCreationRestricted);
    assert_eq!(o.status, Status::Pass, "{o:#?}");
}

#[tokio::test]
async fn d1_globstar_slash_matches_zero_directories() {
    let h = with_world(|w| tag_includes(w, &["refs/tags/**/*"])).await;
    let outs = run_checks(&h, Some(ADMIN_TOKEN)).await;
    let o = outcome(&outs, CheckId::RepoTagCreationRestricted);
    assert_eq!(o.status, Status::Pass, "{o:#?}");
}

#[tokio::test]
async fn d1_standin_enforces_character_sets_on_tag_creation() {
    let h =
        with_world(|w| tag_includes(w, &["refs/tags/v[0-9]*", "refs/tags/release-v[0-9]*"])).await;
    // A writer who cannot bypass: the ruleset applies to v1.2.3 and refuses it.
    let writer = client(&h, Some(NO_ADMIN_TOKEN));
    let err = writer
        .create_ref(
            crate::github::OWNER,
            crate::github::REPO,
            "refs/tags/v1.2.3",
            &fake_sha("c"),
        )
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("creations being restricted"),
        "{err:#}"
    );
    // `vX` is outside `v[0-9]*`: not restricted.
    writer
        .create_ref(
            crate::github::OWNER,
            crate::github::REPO,
            "refs/tags/vX",
            &fake_sha("c"),
        )
        .await
        .expect("vX is not covered by v[0-9]*");
}

/// `(pattern, string, matches)`: GitHub's documented examples ("Using fnmatch syntax" in
/// "Creating rulesets for a repository", github/docs `data/reusables/repositories/
/// about-fnmatch.md` and the "Unsupported fnmatch syntax" note), and Ruby's own documented
/// `File.fnmatch` examples with `File::FNM_PATHNAME` (the `File.fnmatch` rdoc, and the
/// `test_fnmatch_double_star` cases of JRuby's test suite).
const DOCUMENTED: &[(&str, &str, bool)] = &[
    // GitHub: `*` does not cross `/`.
    ("qa/*", "qa/foo", true),
    ("qa/*", "qa/foo/bar", false),
    // GitHub: `qa/**/*` includes any number of slashes after `qa`.
    ("qa/**/*", "qa/foo/bar/foobar/hello-world", true),
    ("qa/**/*", "qa/foo", true),
    ("qa**/**/*", "qa/foo/bar/foobar/hello-world", true),
    ("qa**/**/*", "qa-test/x", true),
    // GitHub: `*feature*`, and character sets in square brackets.
    ("*feature*", "my-feature-branch", true),
    ("*feature*", "my/feature", false),
    ("refs/tags/v[0-9]*", "refs/tags/v1.2.3", true),
    ("refs/tags/v[0-9]*", "refs/tags/vX", false),
    ("refs/tags/[vr]*", "refs/tags/v1.2.3", true),
    ("refs/tags/[vr]*", "refs/tags/x1", false),
    // GitHub: FNM_EXTGLOB is not supported, so braces are literal.
    ("refs/tags/{v,r}*", "refs/tags/v1", false),
    ("refs/tags/{v,r}*", "refs/tags/{v,r}1", true),
    // Ruby, FNM_PATHNAME.
    ("ca[a-z]", "cat", true),
    ("c?t", "cat", true),
    ("c??t", "cat", false),
    ("c*", "cats", true),
    ("c*t", "c/a/b/t", false),
    ("foo?boo", "foo/boo", false),
    ("foo*", "foo/boo", false),
    ("*", "/", false),
    ("?", "/", false),
    ("[/]", "/", false),
    ("*", ".profile", false),
    (".*", ".profile", true),
    ("*/*", "dave/.profile", false),
    ("**/*.rb", "main.rb", true),
    ("**/*.rb", "lib/song.rb", true),
    ("**.rb", "lib/song.rb", false),
    ("**/foo", "a/b/c/foo", true),
    ("**/foo", "/a/b/c/foo", true),
    ("**/foo", "c:/a/b/c/foo", true),
    ("**/foo", "a/.b/c/foo", false),
    ("**/foo", "/foo", true),
    ("**/b/**/*", "c/a/b/c/t", true),
    ("c/**/b/**/*", "c/a/b/c/t", true),
    ("c**/**/b/**/*", "c/a/b/c/t", true),
    ("h**o/**/b/**/*", "hello/a/b/c/t", true),
    ("h**o/**/b/**", "hello/a/b/c/t", false),
    ("**", "hello", true),
    ("**/", "hello", false),
    ("**/*", "hello", true),
    // The release patterns of release.toml.
    ("refs/tags/v*", "refs/tags/v1.2.3-rc.1", true),
    ("refs/tags/v*", "refs/tags/release-v1.2.3", false),
    ("refs/heads/**", "refs/heads/a/b", false),
    ("refs/heads/**/*", "refs/heads/a/b", true),
];

#[test]
fn d1_both_matchers_agree_with_githubs_documented_examples() {
    use xtask::checks::refpattern::{RefMatch, ruleset_ref_matches};
    use xtask::standin::github::fnmatch::ruleset_matches;
    let mut failures = Vec::new();
    for (p, s, want) in DOCUMENTED {
        let product = ruleset_ref_matches(p, s, "main");
        if product != if *want { RefMatch::Yes } else { RefMatch::No } {
            failures.push(format!("product: `{p}` vs `{s}`: {product:?}, want {want}"));
        }
        let standin = ruleset_matches(p, s, "main");
        if standin != *want {
            failures.push(format!("stand-in: `{p}` vs `{s}`: {standin}, want {want}"));
        }
    }
    println!(
        "{} documented examples, {} disagreements",
        DOCUMENTED.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    // GitHub documents complemented sets as unsupported: the product does not guess.
    assert!(matches!(
        ruleset_ref_matches("refs/tags/[^x]*", "refs/tags/v1", "main"),
        RefMatch::Unsupported(_)
    ));
    assert!(ruleset_matches(
        "~DEFAULT_BRANCH",
        "refs/heads/main",
        "main"
    ));
    assert_eq!(
        ruleset_ref_matches("~ALL", "refs/tags/anything", "main"),
        RefMatch::Yes
    );
}

// --- D2: `actions-enabled` reads which actions are allowed ---

#[tokio::test]
async fn d2_actions_enabled_local_only_fails() {
    let h = with_world(|w| w.set_allowed_actions("local_only")).await;
    let outs = run_checks(&h, Some(ADMIN_TOKEN)).await;
    let o = outcome(&outs, CheckId::ActionsEnabled);
    assert_eq!(o.status, Status::Fail, "{o:#?}");
    // The publish workflow's only third-party reference is GitHub's own checkout, which
    // `local_only` ("Allow OWNER actions") blocks.
    assert!(o.message.contains("actions/checkout@"), "{o:#?}");
}

#[tokio::test]
async fn d2_actions_enabled_selected_names_what_is_not_allowed() {
    let h = with_world(|w| {
        w.set_allowed_actions("selected");
        w.selected_actions.github_owned_allowed = false;
        w.selected_actions.verified_allowed = true;
        w.selected_actions.patterns_allowed = vec!["octo-org/*".into()];
    })
    .await;
    let outs = run_checks(&h, Some(ADMIN_TOKEN)).await;
    let o = outcome(&outs, CheckId::ActionsEnabled);
    assert_eq!(o.status, Status::Fail, "{o:#?}");
    // Not GitHub-owned-allowed, no pattern: allowed only if its creator is a Marketplace
    // verified one, which cannot be known offline, so not certain, and named.
    assert!(
        o.message.contains("actions/checkout@") && o.message.contains("verified"),
        "{o:#?}"
    );
    assert!(
        format!("{:?}", o.evidence).contains("selected-actions"),
        "{o:#?}"
    );
    // GitHub-owned allowed: the same workflow passes.
    h.with_world(|w| w.selected_actions.github_owned_allowed = true);
    let outs = settings::run_with(&ctx(&["actions-enabled"]), &client(&h, Some(ADMIN_TOKEN)))
        .await
        .unwrap();
    assert_eq!(status_of(&outs, CheckId::ActionsEnabled), Status::Pass);
}

#[tokio::test]
async fn d2_actions_enabled_selected_with_patterns_passes() {
    let h = with_world(|w| {
        w.set_allowed_actions("selected");
        w.selected_actions.github_owned_allowed = false;
        w.selected_actions.patterns_allowed = vec!["actions/checkout@*".into(), "dtolnay/*".into()];
    })
    .await;
    let outs = run_checks(&h, Some(ADMIN_TOKEN)).await;
    let o = outcome(&outs, CheckId::ActionsEnabled);
    assert_eq!(o.status, Status::Pass, "{o:#?}");
}

// --- D3: the operator's own credentials can create release tags ---

#[tokio::test]
async fn d3_operator_who_cannot_bypass_the_tag_ruleset_fails_naming_who_can() {
    const OTHER_ADMIN: &str = "ghp_STANDINotherADMIN00000000000000000000009";
    let h = with_world(|w| {
        // A repository admin who is not in the release-operators team.
        let mut t = TokenSeed::classic(
            "octo-other",
            9009,
            Role::Admin,
            &["repo", "read:packages", "read:org"],
        );
        t.teams = vec![];
        w.tokens.insert(OTHER_ADMIN.into(), t);
    })
    .await;
    let outs = run_checks(&h, Some(OTHER_ADMIN)).await;
    let o = outcome(&outs, CheckId::RepoTagCreationRestricted);
    assert_eq!(o.status, Status::Fail, "{o:#?}");
    assert!(
        o.message.contains("current_user_can_bypass")
            && o.message.contains("Team:release-operators"),
        "{o:#?}"
    );
}

// --- D4: `allow_force_pushes: {}` is valid ---

#[tokio::test]
async fn d4_allow_force_pushes_empty_object_decodes() {
    let h = with_world(|w| {
        w.protect_default_branch_classic();
        let p = w.classic_protection.get_mut("main").unwrap();
        p["allow_force_pushes"] = json!({});
        p["allow_deletions"] = json!({});
    })
    .await;
    let outs = settings::run_with(&ctx(&["repo-default"]), &client(&h, Some(ADMIN_TOKEN)))
        .await
        .expect("a spec-valid body must not abort the checks");
    assert_eq!(
        status_of(&outs, CheckId::RepoDefaultBranchProtected),
        Status::Pass
    );
}

// --- D5: a 400 from the packages list is a clear skip ---

#[tokio::test]
async fn d5_packages_list_400_is_a_clear_skip() {
    const ACTIONS_TOKEN: &str = "ghs_STANDINactionsINSTALLATION00000000000007";
    let h = with_world(|w| {
        // The scopes are those a classic token would need, so that only the observed 400
        // (and not a scope check) answers.
        let mut t = TokenSeed::classic(
            "github-actions[bot]",
            41898282,
            Role::Write,
            &["repo", "read:packages"],
        );
        t.installation = true;
        w.tokens.insert(ACTIONS_TOKEN.into(), t);
    })
    .await;
    let outs = settings::run_with(&ctx(&["packages-"]), &client(&h, Some(ACTIONS_TOKEN)))
        .await
        .expect("a 400 from the packages list must not abort the checks with exit 3");
    assert_eq!(outs.len(), 4);
    for o in &outs {
        assert_eq!(o.status, Status::Skip, "{o:#?}");
        assert!(
            o.message.contains("400") && o.message.contains("Invalid argument"),
            "{o:#?}"
        );
        assert!(o.message.contains("read:packages"), "{o:#?}");
    }
}

// --- D6: `internal` is not private ---

#[tokio::test]
async fn d6_internal_repository_fails_repo_private() {
    let h = with_world(|w| w.make_internal()).await;
    let outs = run_checks(&h, Some(ADMIN_TOKEN)).await;
    let o = outcome(&outs, CheckId::RepoPrivate);
    assert_eq!(o.status, Status::Fail, "{o:#?}");
    assert!(
        o.message.contains("internal") && o.message.contains("--visibility private"),
        "{o:#?}"
    );
}

// --- D7: an organisation's tag ruleset hides its bypass list from repository admins ---

#[tokio::test]
async fn d7_org_tag_ruleset_with_hidden_bypass_list_passes_when_the_operator_can_bypass() {
    let h = with_world(|w| w.make_tag_ruleset_organization()).await;
    let outs = run_checks(&h, Some(ADMIN_TOKEN)).await;
    let o = outcome(&outs, CheckId::RepoTagCreationRestricted);
    assert_eq!(o.status, Status::Pass, "{o:#?}");
    let ev = format!("{:?}", o.evidence);
    assert!(
        ev.contains("Organization") && ev.contains("current_user_can_bypass"),
        "{o:#?}"
    );
}

// --- D8: team ids without `read:org` ---

#[tokio::test]
async fn d8_team_lookup_without_read_org_resolves_through_repository_teams() {
    // ADMIN_TOKEN has `repo`, `read:packages` and `workflow`, not `read:org`: the stand-in
    // hides the team from `/orgs/{org}/teams/{slug}` as GitHub does.
    let h = with_world(|_| {}).await;
    let outs = run_checks(&h, Some(ADMIN_TOKEN)).await;
    let o = outcome(&outs, CheckId::RepoTagCreationRestricted);
    assert_eq!(o.status, Status::Pass, "{o:#?}");
    // And the token advice names `read:org`.
    let outs = run_checks(&h, None).await;
    assert!(
        outs.iter().all(|o| o.message.contains("read:org")),
        "{outs:#?}"
    );
}

// --- Run discovery does not depend on the operator's clock ---

async fn find_after_push(clock_offset: i64) -> (xtask::execute::PushClock, u64, u64) {
    use std::time::{Duration, Instant};
    use xtask::execute::{Poll, PushClock, RunQuery, find_run, push_run_filter};
    let h = with_world(|w| w.clock_offset = clock_offset).await;
    let gh = client(&h, Some(ADMIN_TOKEN));
    let commit = fake_sha("skewed push");
    let clock = PushClock::github(&gh, crate::github::OWNER, crate::github::REPO)
        .await
        .unwrap();
    let ids = h.push_tag("v9.9.9", &commit, "octo-admin");
    assert_eq!(ids.len(), 1, "the tag push triggers the publish workflow");
    let query = RunQuery {
        repo: (crate::github::OWNER, crate::github::REPO),
        workflow: "publish-images.yml",
        filter: push_run_filter(&commit, &clock),
        tag: Some("v9.9.9"),
        earliest: clock.earliest(),
    };
    let run = find_run(
        &gh,
        &query,
        Instant::now() + Duration::from_secs(20),
        Poll {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(200),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("the run of the push exists but was not found: {e:?}"));
    (clock, run.id, ids[0])
}

#[tokio::test]
async fn skew_operator_clock_five_minutes_fast_still_finds_the_run() {
    // GitHub's clock five minutes behind this machine's: the operator's clock is fast, so
    // every run GitHub creates looks five minutes old to it.
    let (clock, found, created) = find_after_push(-300).await;
    assert_eq!(found, created);
    assert_eq!(clock.source, xtask::execute::ClockSource::Github);
    let line = clock.describe();
    assert!(
        line.contains("GitHub's clock") && line.contains("this machine's clock is not used"),
        "{line}"
    );
    // The push time is GitHub's (five minutes behind ours), not ours.
    let ours = xtask::time::now_epoch();
    assert!(clock.at + 250 < ours, "{} vs {ours}", clock.at);
}

#[tokio::test]
async fn skew_operator_clock_an_hour_slow_still_finds_the_run() {
    let (_, found, created) = find_after_push(3600).await;
    assert_eq!(found, created);
}
