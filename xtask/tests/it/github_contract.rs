//! The stand-in held to GitHub's published API description.
//!
//! `tests/fixtures/github-openapi/subset.json` is the part of GitHub's OpenAPI description
//! (npm `@octokit/openapi`, version in its `info`; `regenerate.mjs` beside it is the command)
//! covering every operation the client calls. This test makes every request the client makes
//! (the settings checks over several worlds, and each client method) against the stand-in,
//! recording the answers with the client's own recorder (`--record-github`), then checks for
//! each answer that its method, path and query parameters are declared, and validates its body
//! against the operation's schema for that status. It prints the counts; a failure names the
//! operation, the status and the JSON path.
//!
//! The validator is a small OpenAPI 3.0 schema checker written here (type, nullable, enum,
//! required, properties, additionalProperties, items, allOf/oneOf/anyOf, string lengths):
//! OpenAPI 3.0's `nullable` is not JSON Schema, and it keeps the test free of new crates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use xtask::checks::settings;
use xtask::effects::github::{API_2022, API_2026, Github, NewRelease, RunFilter};
use xtask::secrets::Secret;
use xtask::standin::github::{
    self as standin, ADMIN_TOKEN, FINE_GRAINED_TOKEN, JobSeed, NO_ADMIN_TOKEN, NO_PACKAGES_TOKEN,
    NewRun, Role, StandInHandle, TokenSeed, World, fake_digest, fake_sha,
};

use crate::github::{OWNER, REPO, ctx, fast};

fn spec() -> Value {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/github-openapi/subset.json");
    serde_json::from_str(&std::fs::read_to_string(&p).expect("the vendored description"))
        .expect("subset.json is JSON")
}

// --- A small OpenAPI 3.0 schema validator ---

fn resolve<'a>(spec: &'a Value, mut s: &'a Value) -> &'a Value {
    while let Some(r) = s.get("$ref").and_then(Value::as_str) {
        s = spec
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {r} in subset.json"));
    }
    s
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        _ => true,
    }
}

fn check(spec: &Value, schema: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    if v.is_null() {
        if schema.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        let constrained = schema.get("type").is_some()
            || schema.get("properties").is_some()
            || schema.get("oneOf").is_some()
            || schema.get("anyOf").is_some()
            || schema.get("allOf").is_some();
        if constrained {
            // allOf members may carry the nullability.
            if let Some(all) = schema.get("allOf").and_then(Value::as_array)
                && all
                    .iter()
                    .any(|s| resolve(spec, s).get("nullable") == Some(&Value::Bool(true)))
            {
                return;
            }
            errs.push(format!("{path}: null, but the schema is not nullable"));
        }
        return;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(spec, s, v, path, errs);
        }
    }
    for (key, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            let results: Vec<Vec<String>> = alts
                .iter()
                .map(|s| {
                    let mut e = Vec::new();
                    check(spec, s, v, path, &mut e);
                    e
                })
                .collect();
            let ok = results.iter().filter(|e| e.is_empty()).count();
            if ok == 0 {
                let best = results
                    .iter()
                    .min_by_key(|e| e.len())
                    .cloned()
                    .unwrap_or_default();
                errs.push(format!(
                    "{path}: matches none of the {} alternatives of {key}; closest: {}",
                    alts.len(),
                    best.join("; ")
                ));
            } else if exactly_one && ok > 1 {
                errs.push(format!(
                    "{path}: matches {ok} alternatives of oneOf, not one"
                ));
            }
        }
    }
    if let Some(t) = schema.get("type").and_then(Value::as_str)
        && !type_ok(t, v)
    {
        errs.push(format!("{path}: expected {t}, got {v}"));
        return;
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        errs.push(format!(
            "{path}: {v} is not one of {}",
            Value::Array(e.clone())
        ));
    }
    if let Some(s) = v.as_str() {
        let n = s.chars().count() as u64;
        if schema
            .get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m)
        {
            errs.push(format!("{path}: shorter than minLength"));
        }
        if schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n > m)
        {
            errs.push(format!("{path}: longer than maxLength"));
        }
    }
    if let Some(obj) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap_or_default();
            if !obj.contains_key(r) {
                errs.push(format!("{path}.{r}: required property missing"));
            }
        }
        for (k, x) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => check(spec, ps, x, &format!("{path}.{k}"), errs),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errs.push(format!("{path}.{k}: property not allowed"))
                    }
                    Some(s @ Value::Object(_)) => check(spec, s, x, &format!("{path}.{k}"), errs),
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            check(spec, items, x, &format!("{path}[{i}]"), errs);
        }
    }
}

/// The validator fails what it should: without this, a pass would prove nothing.
#[test]
fn contract_validator_rejects_wrong_bodies() {
    let spec = spec();
    let schema = json!({"$ref": "#/components/schemas/git-ref"});
    let good = json!({"ref": "refs/tags/v1", "node_id": "x", "url": "u",
        "object": {"type": "commit", "sha": "0123456789012345678901234567890123456789", "url": "u"}});
    let mut e = Vec::new();
    check(&spec, &schema, &good, "$", &mut e);
    assert!(e.is_empty(), "{e:?}");
    for (bad, want) in [
        (
            json!({"ref": "r", "node_id": "x", "url": "u"}),
            "$.object: required",
        ),
        (
            json!({"ref": 1, "node_id": "x", "url": "u", "object": good["object"]}),
            "$.ref: expected string",
        ),
        (
            json!({"ref": "r", "node_id": "x", "url": "u", "object": {"type": "commit", "sha": "abc", "url": "u"}}),
            "$.object.sha: shorter",
        ),
        (
            json!({"ref": "r", "node_id": null, "url": "u", "object": good["object"]}),
            "$.node_id: null",
        ),
    ] {
        let mut e = Vec::new();
        check(&spec, &schema, &bad, "$", &mut e);
        assert!(e.iter().any(|x| x.starts_with(want)), "{want}: {e:?}");
    }
    // An enum, through a $ref'd response body.
    let mut e = Vec::new();
    check(
        &spec,
        &json!({"$ref": "#/components/schemas/package"}),
        &json!({"id": 1, "name": "n", "package_type": "container", "visibility": "secret",
            "url": "u", "html_url": "h", "version_count": 0, "created_at": "t", "updated_at": "t"}),
        "$",
        &mut e,
    );
    assert!(e.iter().any(|x| x.starts_with("$.visibility")), "{e:?}");
}

// --- Matching a recorded request to its operation ---

struct Op<'a> {
    template: &'a str,
    op: &'a Value,
    item: &'a Value,
}

fn find_op<'a>(spec: &'a Value, method: &str, path: &str) -> Result<Op<'a>, String> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut best: Option<(usize, &str, &Value)> = None;
    for (template, item) in spec["paths"].as_object().expect("paths") {
        let t: Vec<&str> = template.trim_start_matches('/').split('/').collect();
        // `{ref}` of the git ref operations keeps its documented literal slashes.
        let tail_ref = t.last() == Some(&"{ref}");
        if t.len() != segs.len() && !(tail_ref && segs.len() >= t.len()) {
            continue;
        }
        let mut literal = 0;
        let ok = t.iter().enumerate().all(|(i, ts)| {
            if ts.starts_with('{') {
                !segs[i].is_empty()
            } else {
                literal += 1;
                *ts == segs[i]
            }
        });
        if ok && best.is_none_or(|(l, _, _)| literal > l) {
            best = Some((literal, template, item));
        }
    }
    let (_, template, item) = best.ok_or_else(|| format!("{method} {path}: no such path"))?;
    let op = item
        .get(method.to_ascii_lowercase())
        .ok_or_else(|| format!("{method} {template}: method not declared"))?;
    Ok(Op { template, op, item })
}

fn declared_query(spec: &Value, op: &Op) -> BTreeSet<String> {
    op.op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(op.item["parameters"].as_array().into_iter().flatten())
        .map(|p| resolve(spec, p))
        .filter(|p| p["in"] == "query")
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect()
}

/// Statuses the stand-in answers that the description does not list for the operation, each
/// with where the behaviour comes from (docs/github-standin.md says the same).
const UNDECLARED: &[(&str, u16, &str)] = &[
    (
        "repos/get-branch-protection",
        403,
        "GitHub docs: admin rights needed; observed: the plan-limit text on private repositories on Free",
    ),
    (
        "repos/get-repo-rulesets",
        403,
        "observed: the plan-limit text",
    ),
    (
        "repos/get-repo-ruleset",
        403,
        "observed: the plan-limit text",
    ),
    (
        "actions/get-github-actions-permissions-repository",
        403,
        "GitHub docs: Administration read; admin rights",
    ),
    (
        "actions/get-github-actions-default-workflow-permissions-repository",
        403,
        "GitHub docs: Administration read; admin rights",
    ),
    (
        "actions/get-allowed-actions-repository",
        403,
        "GitHub docs: Administration read; admin rights",
    ),
    (
        "packages/list-packages-for-organization",
        403,
        "GitHub docs: read:packages; Packages support only classic tokens",
    ),
    (
        "teams/get-by-name",
        404,
        "declared; listed so that a token without read:org is covered",
    ),
    (
        "repos/get-release-by-tag",
        404,
        "declared as 404 (drafts and missing releases)",
    ),
    ("git/get-ref", 404, "declared"),
    (
        "actions/create-workflow-dispatch",
        422,
        "observed: no workflow_dispatch trigger, unexpected inputs",
    ),
    (
        "git/create-ref",
        422,
        "observed: Repository rule violations found (creations being restricted)",
    ),
];

#[derive(Default)]
struct Tally {
    operations: BTreeSet<String>,
    responses: usize,
    validated: usize,
    not_modified: usize,
    without_schema: BTreeMap<String, usize>,
    undeclared: BTreeMap<String, usize>,
    failures: Vec<String>,
}

fn validate_recordings(spec: &Value, dir: &Path, t: &mut Tally) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("recordings")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for f in files {
        let rec: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        t.responses += 1;
        let method = rec["method"].as_str().unwrap();
        let full = rec["path"].as_str().unwrap();
        let status = rec["status"].as_u64().unwrap() as u16;
        let (path, query) = full.split_once('?').unwrap_or((full, ""));
        let op = match find_op(spec, method, path) {
            Ok(op) => op,
            Err(e) => {
                t.failures.push(e);
                continue;
            }
        };
        let id = op.op["operationId"]
            .as_str()
            .unwrap_or(op.template)
            .to_string();
        t.operations.insert(id.clone());
        let declared = declared_query(spec, &op);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let k = pair.split('=').next().unwrap_or_default();
            if !declared.contains(k) {
                t.failures.push(format!(
                    "{id} ({method} {full}): query parameter `{k}` is not declared (declared: {declared:?})"
                ));
            }
        }
        if status == 304 {
            t.not_modified += 1;
            continue;
        }
        let Some(resp) = op.op["responses"]
            .get(status.to_string())
            .or_else(|| op.op["responses"].get("default"))
        else {
            match UNDECLARED.iter().find(|(o, s, _)| *o == id && *s == status) {
                Some(_) => *t.undeclared.entry(format!("{id} {status}")).or_default() += 1,
                None => t.failures.push(format!(
                    "{id} ({method} {full}): status {status} is not in the description and not listed as modelled from GitHub's docs or observations"
                )),
            }
            continue;
        };
        let resp = resolve(spec, resp);
        let schema = resp
            .get("content")
            .and_then(|c| c.get("application/json"))
            .and_then(|c| c.get("schema"));
        let body = &rec["body"];
        match schema {
            None => {
                *t.without_schema
                    .entry(format!("{id} {status}"))
                    .or_default() += 1;
            }
            Some(_) if body.is_null() => t.failures.push(format!(
                "{id} {status} ({method} {full}): the description has a body, the answer has none"
            )),
            Some(s) => {
                t.validated += 1;
                let mut errs = Vec::new();
                check(spec, s, body, "$", &mut errs);
                for e in errs {
                    t.failures
                        .push(format!("{id} {status} ({method} {full}): {e}"));
                }
            }
        }
    }
}

// --- Driving every request the client makes ---

fn gh(h: &StandInHandle, token: &str, version: &str, rec: &Path) -> Github {
    Github::new(h.base_url.clone(), version, Some(Secret::new(token)))
        .expect("client")
        .with_retry(fast())
        .with_recorder(rec)
        .expect("recorder")
}

fn seeded(f: impl FnOnce(&mut World)) -> World {
    let mut w = World::compliant(OWNER, REPO, OWNER);
    let commit = fake_sha("contract");
    w.add_tag("v1.0.0", &commit);
    w.add_annotated_tag("v1.1.0", &fake_sha("tag object"), &commit, "v1.1.0\n");
    w.push_version(
        "aisopsflow-core",
        &fake_digest("core"),
        &["v1.0.0", "latest"],
    );
    w.push_version("aisopsflow-core", &fake_digest("core child"), &[]);
    w.tokens.insert(
        "ghp_STANDINreadORG000000000000000000000011".into(),
        TokenSeed::classic(
            "octo-admin",
            9001,
            Role::Admin,
            &["repo", "read:packages", "read:org"],
        ),
    );
    // A GitHub Actions token (the packages list answers it 400, as observed).
    let mut actions = TokenSeed::classic(
        "github-actions[bot]",
        41_898_282,
        Role::Write,
        &["repo", "read:packages"],
    );
    actions.installation = true;
    w.tokens.insert(ACTIONS_TOKEN.into(), actions);
    f(&mut w);
    w
}

const ACTIONS_TOKEN: &str = "ghs_STANDINactionsINSTALLATION00000000000012";

async fn client_calls(h: &StandInHandle, rec: &Path) {
    let a = gh(h, ADMIN_TOKEN, API_2022, rec);
    let commit = fake_sha("contract");
    let run = h
        .create_run(NewRun {
            workflow: "publish-images.yml".into(),
            event: "push".into(),
            head_branch: Some("v1.0.0".into()),
            head_sha: commit.clone(),
            actor: "octo-admin".into(),
            inputs: Default::default(),
            delay: None,
        })
        .unwrap();
    h.set_jobs(
        run,
        vec![
            JobSeed::new(
                "publish",
                "completed",
                Some("success"),
                &["Set up job", "Publish"],
            ),
            JobSeed::new("smoke", "queued", None, &[]),
        ],
    );
    h.set_run_status(run, "completed", Some("success"));
    let filter = RunFilter {
        event: Some("push".into()),
        head_sha: Some(commit.clone()),
        created: Some(">=2020-01-01T00:00:00Z".into()),
        per_page: Some(20),
        ..RunFilter::default()
    };
    a.workflow_runs_first_page(OWNER, REPO, "publish-images.yml", &filter)
        .await
        .unwrap();
    a.workflow_runs(OWNER, REPO, "publish-images.yml", &RunFilter::default())
        .await
        .unwrap();
    a.workflow_run(OWNER, REPO, run).await.unwrap();
    a.run_jobs(OWNER, REPO, run).await.unwrap();
    // Twice: the second answer is a 304 from the ETag.
    a.workflow_run(OWNER, REPO, run).await.unwrap();
    let mut inputs = serde_json::Map::new();
    inputs.insert("publish_latest".into(), json!("true"));
    a.dispatch(OWNER, REPO, "publish-images.yml", "v1.0.0", &inputs, true)
        .await
        .unwrap();
    a.dispatch(OWNER, REPO, "publish-images.yml", "v1.0.0", &inputs, false)
        .await
        .unwrap();
    gh(h, ADMIN_TOKEN, API_2026, rec)
        .dispatch(OWNER, REPO, "publish-images.yml", "v1.0.0", &inputs, true)
        .await
        .unwrap();
    let _ = a
        .dispatch(
            OWNER,
            REPO,
            "publish-images.yml",
            "v1.0.0",
            &{
                let mut m = serde_json::Map::new();
                m.insert("nope".into(), json!("1"));
                m
            },
            false,
        )
        .await
        .unwrap_err();
    a.org_packages(OWNER, "container").await.unwrap();
    a.org_package(OWNER, "container", "aisopsflow-core")
        .await
        .unwrap();
    a.org_package_versions(OWNER, "container", "aisopsflow-core")
        .await
        .unwrap();
    a.create_release(
        OWNER,
        REPO,
        &NewRelease {
            tag_name: "v1.0.0".into(),
            target_commitish: Some(commit.clone()),
            name: Some("v1.0.0".into()),
            body: Some("notes".into()),
            draft: true,
            prerelease: false,
            make_latest: None,
        },
    )
    .await
    .unwrap();
    a.create_release(
        OWNER,
        REPO,
        &NewRelease {
            tag_name: "v1.1.0".into(),
            draft: false,
            ..NewRelease::default()
        },
    )
    .await
    .unwrap();
    assert!(
        a.release_by_tag(OWNER, REPO, "v1.0.0")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        a.release_by_tag(OWNER, REPO, "v1.1.0")
            .await
            .unwrap()
            .is_some()
    );
    a.git_ref(OWNER, REPO, "tags/v1.0.0")
        .await
        .unwrap()
        .unwrap();
    assert!(
        a.git_ref(OWNER, REPO, "tags/v9.9.9")
            .await
            .unwrap()
            .is_none()
    );
    a.matching_refs(OWNER, REPO, "tags/v1").await.unwrap();
    let annotated = a
        .git_ref(OWNER, REPO, "tags/v1.1.0")
        .await
        .unwrap()
        .unwrap();
    a.tag_object(OWNER, REPO, &annotated.object.sha)
        .await
        .unwrap();
    a.create_ref(OWNER, REPO, "refs/tags/v2.0.0", &commit)
        .await
        .unwrap();
    let _ = gh(h, NO_ADMIN_TOKEN, API_2022, rec)
        .create_ref(OWNER, REPO, "refs/tags/v2.1.0", &commit)
        .await
        .unwrap_err();
    a.user_id("octo-writer").await.unwrap();
    a.repo_teams(OWNER, REPO).await.unwrap();
    gh(
        h,
        "ghp_STANDINreadORG000000000000000000000011",
        API_2022,
        rec,
    )
    .team_id(OWNER, "release-operators")
    .await
    .unwrap();
    let _ = a.team_id(OWNER, "release-operators").await.unwrap_err();
    a.server_time(OWNER, REPO).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stand_in_answers_match_githubs_published_description() {
    let spec = spec();
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("recorded");
    let mut t = Tally::default();

    // The settings checks, over worlds that take each of their paths, with several tokens.
    type Flip = fn(&mut World);
    let worlds: Vec<(&str, Flip)> = vec![
        ("compliant", |_| {}),
        ("classic protection", |w| w.protect_default_branch_classic()),
        ("selected actions", |w| {
            w.set_allowed_actions("selected");
            w.selected_actions.patterns_allowed = vec!["dtolnay/*".into()];
        }),
        ("organisation tag ruleset", |w| {
            w.make_tag_ruleset_organization()
        }),
        ("plan limited", |w| w.plan_limited = true),
        ("actions disabled", |w| w.disable_actions()),
    ];
    for (name, flip) in worlds {
        let h = standin::start(seeded(flip)).await.unwrap();
        for token in [
            ADMIN_TOKEN,
            NO_ADMIN_TOKEN,
            FINE_GRAINED_TOKEN,
            NO_PACKAGES_TOKEN,
            ACTIONS_TOKEN,
        ] {
            settings::run_with(&ctx(&[]), &gh(&h, token, API_2022, &rec))
                .await
                .unwrap_or_else(|e| panic!("{name}: settings checks: {e:#}"));
        }
    }
    // Every other request the client makes.
    let h = standin::start(seeded(|_| {})).await.unwrap();
    client_calls(&h, &rec).await;
    let sent = h.requests().len();

    validate_recordings(&spec, &rec, &mut t);
    let in_description = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|i| {
            i.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .count()
        })
        .sum::<usize>();
    println!(
        "contract: {} operations exercised (of {in_description} in the vendored subset), {} responses recorded, {} bodies validated, {} not-modified, {} failures",
        t.operations.len(),
        t.responses,
        t.validated,
        t.not_modified,
        t.failures.len()
    );
    println!(
        "  operations: {}",
        t.operations.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    for (k, n) in &t.without_schema {
        println!("  no body in the description: {k} ({n})");
    }
    for (k, n) in &t.undeclared {
        let why = UNDECLARED
            .iter()
            .find(|(o, s, _)| format!("{o} {s}") == *k)
            .map(|x| x.2)
            .unwrap_or_default();
        println!("  status not in the description: {k} ({n}): {why}");
    }
    assert!(
        t.failures.is_empty(),
        "{} failures:\n{}",
        t.failures.len(),
        t.failures.join("\n")
    );
    // The recorder saw every answer of the last stand-in (one file each).
    assert!(t.responses >= sent, "{} recorded, {sent} sent", t.responses);
    // Every operation in the subset except `/rate_limit` (which the client never calls).
    assert_eq!(
        t.operations.len(),
        in_description - 1,
        "operations exercised: {:?}",
        t.operations
    );
}

#[tokio::test]
async fn record_github_redacts_tokens_and_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let h = standin::start(seeded(|_| {})).await.unwrap();
    let a = gh(&h, ADMIN_TOKEN, API_2022, &rec);
    a.repo(OWNER, REPO).await.unwrap();
    a.org_packages(OWNER, "container").await.unwrap();
    let _ = gh(
        &h,
        "ghp_NOTaVALIDtokenBUTshapedLIKEone123456",
        API_2022,
        &rec,
    )
    .repo(OWNER, REPO)
    .await
    .unwrap_err();
    let mut all = String::new();
    for e in std::fs::read_dir(&rec).unwrap() {
        all.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    assert!(!all.is_empty());
    for secret in [
        ADMIN_TOKEN,
        "ghp_NOTaVALIDtokenBUTshapedLIKEone123456",
        "Bearer",
    ] {
        assert!(!all.contains(secret), "`{secret}` leaked into a recording");
    }
    assert!(!all.to_ascii_lowercase().contains("authorization"));
    // Shaped like a token, in a body or a header: redacted.
    assert_eq!(
        xtask::effects::github::redact_text(
            "see ghs_ABCDEFGH12345678 and github_pat_11AAAA_bbbbCCCC"
        ),
        "see [REDACTED] and [REDACTED]"
    );
    // The recorded files are JSON with status and body.
    let first = std::fs::read_dir(&rec)
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let v: Value = serde_json::from_str(&std::fs::read_to_string(first).unwrap()).unwrap();
    assert_eq!(v["status"], 200);
    assert_eq!(v["body"]["full_name"], format!("{OWNER}/{REPO}"));
    assert!(v["headers"]["etag"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_record_github_saves_every_answer_redacted() {
    let h = standin::start(seeded(|_| {})).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("answers");
    let root = crate::github::root();
    let base = h.base_url.clone();
    let rec2 = rec.clone();
    let out = tokio::task::spawn_blocking(move || {
        crate::support::Xtask::new()
            .args([
                "preflight",
                "--only",
                "repo",
                "--only",
                "actions",
                "--record-github",
            ])
            .arg(&rec2)
            .arg("--repo")
            .arg(&root)
            .env("GITHUB_API_URL", &base)
            .env("GITHUB_TOKEN", ADMIN_TOKEN)
            .output()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("repo-private") && stdout.contains("actions-enabled"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<PathBuf> = std::fs::read_dir(&rec)
        .expect("the directory was created")
        .map(|e| e.unwrap().path())
        .collect();
    // One file per answer the stand-in gave.
    assert_eq!(files.len(), h.requests().len(), "{files:?}");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            !text.contains(ADMIN_TOKEN),
            "{} holds the token",
            f.display()
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v["status"].is_u64() && v["path"].as_str().unwrap().starts_with('/'));
    }
    // And they replay through the contract validator.
    let mut t = Tally::default();
    validate_recordings(&spec(), &rec, &mut t);
    assert!(t.failures.is_empty(), "{:#?}", t.failures);
    assert!(t.validated > 0);
}
