//! Release evidence anyone can check, in a rehearsal world (real publish runs building real
//! images through the Docker engine, the registry harness, the GitHub stand-in):
//! `verify-runs` and `verify-contents` pass on what was released, and fail, naming the
//! package, when the registry holds an image built from another commit under the release's
//! tags, or a public image gains a stray file that names the enterprise repository (both
//! doctored through the real registry API); `verify --from-notes` re-proves the release from
//! its record alone, from another directory; the customer's own proof commands, parsed out of
//! the generated customer notes, run and confirm every digest. It also prints what the deep
//! checks cost (docs/benchmarks.md):
//! `cargo test -p xtask --test it evidence -- --nocapture`.

use crate::support::repo_root;
use std::collections::BTreeMap;

use std::process::Command;
use std::time::Instant;

use base64::Engine;
use xtask::standin::rehearsal::RehearsalOptions;

use crate::support::registry::{get_blob, get_manifest, put_blob, put_manifest, skopeo_digest};
use crate::support::world::Rehearsed;

use crate::git;

/// `release VERSION` of every component with every attestation; fails the test with the
/// publish runs' logs unless it exits 0. Returns stdout and stderr.
async fn release(world: &Rehearsed, version: &str, extra: &[&'static str]) -> String {
    let mut args = vec![
        "release",
        version,
        "--components",
        "core,runner,console",
        "--yes",
        "--skip-checks",
        "build",
    ];
    for m in xtask::checks::manual::manual_ids() {
        args.extend(["--attest", m.id()]);
    }
    args.extend_from_slice(extra);
    let run = world.xtask(&args).await;
    if run.code != 0 {
        // The publish runs' logs say why a run failed.
        let mut logs = String::new();
        for run in std::fs::read_dir(world.dir().join("runs"))
            .into_iter()
            .flatten()
            .flatten()
        {
            for step in std::fs::read_dir(run.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if step.file_name().to_string_lossy().ends_with(".log") {
                    let text = std::fs::read_to_string(step.path()).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(40).collect();
                    logs.push_str(&format!("--- {}\n", step.path().display()));
                    for l in tail.into_iter().rev() {
                        logs.push_str(l);
                        logs.push('\n');
                    }
                }
            }
        }
        panic!(
            "release {version} exited {}:\n{}\n{}\n{logs}",
            run.code, run.stdout, run.stderr
        );
    }
    run.text()
}

/// `id → worst status` of a JSON report.
fn verdicts(json: &serde_json::Value) -> BTreeMap<String, String> {
    xtask::record::worst(
        json["checks"]
            .as_array()
            .expect("a JSON report has checks")
            .iter()
            .map(|o| (o["id"].as_str().unwrap(), o["status"].as_str().unwrap())),
    )
}

fn outcomes<'a>(json: &'a serde_json::Value, id: &str) -> Vec<&'a serde_json::Value> {
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["id"] == id)
        .collect()
}

/// `verify 0.1.0 --components console --deep` and only the two deep checks.
const DEEP: [&str; 8] = [
    "0.1.0",
    "--components",
    "console",
    "--deep",
    "--only",
    "verify-runs",
    "--only",
    "verify-contents",
];

/// [`DEEP`] with only `verify-contents`.
const DEEP_CONTENTS: [&str; 6] = [
    "0.1.0",
    "--components",
    "console",
    "--deep",
    "--only",
    "verify-contents",
];

/// `verify ARGS --format json` in the work clone, asserting it exits `code` (showing the
/// report and stderr otherwise): the report.
async fn verify_expect(world: &Rehearsed, args: &[&str], code: i32) -> serde_json::Value {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    all.extend(["--format", "json"]);
    let run = world.xtask(&all).await;
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "verify printed no JSON ({e}):\n{}\n{}",
            run.stdout, run.stderr
        )
    });
    assert_eq!(run.code, code, "{json:#}\n{}", run.stderr);
    json
}

/// Puts `body` under every tag in `tags`.
async fn put_under(world: &Rehearsed, repo: &str, tags: &[String], mt: &str, body: &[u8]) {
    for t in tags {
        put_manifest(&world.registry, repo, t, mt, body).await;
    }
}

/// The image of `repo@digest` with one more gzip layer holding `path` = `content`: what a
/// build that picked up a stray file would push. Returns (manifest body, media type).
async fn with_stray_file(
    world: &Rehearsed,
    repo: &str,
    reference: &str,
    path: &str,
    content: &[u8],
) -> (Vec<u8>, String) {
    let (body, mt) = get_manifest(&world.registry, repo, reference).await;
    let mut m: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let cfg_digest = m["config"]["digest"].as_str().unwrap().to_string();
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&get_blob(&world.registry, repo, &cfg_digest).await).unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    tar.append_data(&mut h, path, content).unwrap();
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let gz = gz.finish().unwrap();
    let tok = world.registry.mint_token(repo, &["pull", "push"]).unwrap();
    let layer = put_blob(&world.registry, repo, &tok, &gz).await;
    cfg["rootfs"]["diff_ids"]
        .as_array_mut()
        .unwrap()
        .push(xtask::effects::registry::sha256_digest(&tar).into());
    let cfg = serde_json::to_vec(&cfg).unwrap();
    let cfg_new = put_blob(&world.registry, repo, &tok, &cfg).await;
    m["config"]["digest"] = cfg_new.into();
    m["config"]["size"] = cfg.len().into();
    let layer_mt = m["layers"][0]["mediaType"].clone();
    m["layers"].as_array_mut().unwrap().push(serde_json::json!({
        "mediaType": layer_mt, "digest": layer, "size": gz.len(),
    }));
    (serde_json::to_vec(&m).unwrap(), mt)
}

/// The proof block of the customer notes: `(command, expected sha256sum output or None)`.
fn proof_commands(customer_notes: &str) -> Vec<(String, Option<String>)> {
    let section = customer_notes
        .split(xtask::notes::PROOF_HEADING)
        .nth(1)
        .expect("the customer notes have the proof section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the proof section has a sh block");
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for line in block.lines() {
        if let Some(expect) = line.strip_prefix("# expect: ") {
            out.last_mut().expect("an expectation follows a command").1 = Some(expect.into());
        } else if !line.trim().is_empty() && !line.starts_with('#') {
            out.push((line.to_string(), None));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_evidence_runs_contents_record_and_customer_proof() {
    crate::docker_required!();
    let world = Rehearsed::start(RehearsalOptions {
        // The public editions start public, as after a first release's admin flip (that
        // path is tested in `ghcr` and `release`); this test is about the evidence.
        seeded_visibility: true,
        ..Default::default()
    })
    .await;
    let config = xtask::config::Config::load(&repo_root()).unwrap();
    let org = config.org().to_string();
    let notes_dir = world.work_dir.join("docs/releases");

    // 1. A release of all six packages; its own verify runs the deep checks.
    let out = release(&world, "0.1.0", &[]).await;
    assert!(out.contains("verify passed"), "{out}");
    let record_path = notes_dir.join("0.1.0.json");
    let record = xtask::record::ReleaseRecord::read(&record_path).unwrap();
    assert_eq!(record.schema_version, xtask::record::SCHEMA_VERSION);
    assert_eq!(record.packages.len(), 6, "{record:#?}");
    let commit_a = git(&world.work_dir, &["rev-parse", "HEAD"]);
    assert_eq!(record.commit, commit_a);
    assert_eq!(record.tag, "v0.1.0");
    assert!(record.run_url.is_some());
    assert_eq!(
        record.attestations.len(),
        xtask::checks::manual::manual_ids().len()
    );
    let own = record.verdicts("verify");
    assert_eq!(
        own.get("verify-runs").map(String::as_str),
        Some("pass"),
        "{own:?}"
    );
    assert_eq!(
        own.get("verify-contents").map(String::as_str),
        Some("pass"),
        "{own:?}"
    );
    assert!(
        record.checks.iter().any(|c| c.phase == "gate"),
        "the gate's results are recorded too"
    );
    for p in &record.packages {
        assert_eq!(p.platforms.len(), 1, "{p:?}");
        assert_eq!(p.platforms[0].digest, p.digest);
        assert_eq!(
            skopeo_digest(&world.registry, &format!("{org}/{}", p.package), "0.1.0"),
            p.digest
        );
    }
    assert!(
        !notes_dir.join(".0.1.0.state.json").exists(),
        "no resume state is left"
    );

    // 2. The record alone, copied elsewhere, re-proves the release from another directory.
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("0.1.0.json");
    std::fs::copy(&record_path, &copy).unwrap();
    let from_notes = [
        "verify",
        "--from-notes",
        copy.to_str().unwrap(),
        "--format",
        "json",
    ];
    let start = Instant::now();
    let off = world.registry.access_log_offset();
    let run = world.xtask_in(elsewhere.path(), &from_notes).await;
    let from_notes_ms = start.elapsed().as_millis();
    let from_notes_requests = world.registry.requests_since(off);
    let json: serde_json::Value = serde_json::from_str(&run.expect(0, &[]).stdout).unwrap();
    let mut again = verdicts(&json);
    assert_eq!(
        again.remove("verify-manifest-digests-recorded").as_deref(),
        Some("skip"),
        "the deployment manifests are not in the record: said as a skip"
    );
    let mut own_cmp = own.clone();
    own_cmp.remove("verify-manifest-digests-recorded");
    assert_eq!(
        again, own_cmp,
        "the same verdicts as the release's own verify"
    );
    let run = world
        .xtask_in(
            elsewhere.path(),
            &["verify", "--record", copy.to_str().unwrap()],
        )
        .await;
    let human = &run.expect(0, &[]).stdout;
    assert!(
        human.contains("checks give the recorded verdict"),
        "{human}"
    );
    assert!(human.contains("still holds the digest"), "{human}");

    // 3. The customer's own proof: the exact commands of the customer notes.
    let customer = std::fs::read_to_string(notes_dir.join("0.1.0.customer.md")).unwrap();
    assert!(!customer.contains("aisopsflow-enterprise"), "{customer}");
    let commands = proof_commands(&customer);
    assert_eq!(
        commands.len(),
        12,
        "a pull and an inspect per package: {commands:?}"
    );
    let tools = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("customer:{}", world.token.expose()));
    let auth_file = tools.path().join("config.json");
    std::fs::write(
        &auth_file,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#,
            world.registry.host
        ),
    )
    .unwrap();
    let mut confirmed = 0;
    for (cmd, expect) in &commands {
        // bash with pipefail, so a failing skopeo is not hidden behind sha256sum's success.
        let out = Command::new("bash")
            .args(["-o", "pipefail", "-c", cmd])
            .env("DOCKER_CONFIG", tools.path())
            .env("REGISTRY_AUTH_FILE", &auth_file)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "`{cmd}`: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(reference) = cmd.strip_prefix("docker pull ") {
            let digest = reference.split_once('@').unwrap().1;
            assert!(
                stdout.contains(&format!("Digest: {digest}")),
                "`{cmd}`: {stdout}"
            );
            let _ = Command::new("docker").args(["rmi", reference]).output();
            confirmed += 1;
        } else {
            let expect = expect.as_ref().expect("an inspect line has an expectation");
            assert_eq!(stdout.trim(), expect.trim(), "`{cmd}`");
            let digest = format!("sha256:{}", expect.split_whitespace().next().unwrap());
            assert!(
                record.packages.iter().any(|p| p.digest == digest),
                "{digest} is a released digest"
            );
            confirmed += 1;
        }
    }
    assert_eq!(confirmed, 12);

    // 4. What the deep checks cost, for docs/benchmarks.md (printed, never asserted).
    let measure = |deep: bool| {
        let world = &world;
        async move {
            let mut args = vec!["0.1.0", "--components", "console"];
            if deep {
                args.push("--deep");
            }
            let off = world.registry.access_log_offset();
            let start = Instant::now();
            let json = verify_expect(world, &args, 0).await;
            let ms = start.elapsed().as_millis();
            (ms, world.registry.requests_since(off), json)
        }
    };
    let (plain_ms, plain_req, _) = measure(false).await;
    let off = world.registry.access_log_offset();
    let (deep_ms, deep_req, _) = measure(true).await;
    // Who asked: the engine's pulls (user agent `docker/…`) or xtask itself.
    let mut by_agent: BTreeMap<(String, String), u64> = BTreeMap::new();
    for line in world.registry.access_log_lines_since(off) {
        if let Some(kind) = xtask::standin::registry::request_kind(&line) {
            let agent = if line.contains("\"docker/") {
                "engine"
            } else {
                "xtask"
            };
            *by_agent.entry((agent.to_string(), kind)).or_default() += 1;
        }
    }
    let (only_ms, only_req, _) = {
        let off = world.registry.access_log_offset();
        let start = Instant::now();
        let json = verify_expect(&world, &DEEP, 0).await;
        (
            start.elapsed().as_millis(),
            world.registry.requests_since(off),
            json,
        )
    };
    println!(
        "\n| `verify 0.1.0` on 6 released images | registry requests | wall time |\n|---|---|---|"
    );
    println!(
        "| without `--deep` | {} ({:?}) | {plain_ms} ms |",
        plain_req.total, plain_req.by_kind
    );
    println!(
        "| with `--deep` | {} ({:?}) | {deep_ms} ms |",
        deep_req.total, deep_req.by_kind
    );
    println!(
        "| `--deep --only verify-runs --only verify-contents` | {} ({:?}) | {only_ms} ms |",
        only_req.total, only_req.by_kind
    );
    println!(
        "| `verify --from-notes` (deep, from the record) | {} ({:?}) | {from_notes_ms} ms |",
        from_notes_requests.total, from_notes_requests.by_kind
    );
    println!("\n`--deep`, requests by who sent them: {by_agent:?}");

    // 5. An image built from another commit under 0.1.0's tags: a second release from a new
    //    commit, then its core image copied under 0.1.0 and sha-<commit A>.
    std::fs::write(
        world.work_dir.join("docs/evidence-note.md"),
        "another commit\n",
    )
    .unwrap();
    git(&world.work_dir, &["add", "docs/evidence-note.md"]);
    git(&world.work_dir, &["commit", "-qm", "another commit"]);
    git(&world.work_dir, &["push", "-q", "origin", "HEAD"]);
    // Nothing an image is built from changed, which the gate would refuse to release.
    release(&world, "0.2.0", &["--skip-checks", "changes"]).await;
    let commit_b = git(&world.work_dir, &["rev-parse", "HEAD"]);
    let core = format!("{org}/aisopsflow-core");
    let tags_a = vec!["0.1.0".to_string(), format!("sha-{}", &commit_a[..7])];
    let (orig_body, orig_mt) = get_manifest(&world.registry, &core, "0.1.0").await;
    let (other_body, other_mt) = get_manifest(&world.registry, &core, "0.2.0").await;
    put_under(&world, &core, &tags_a, &other_mt, &other_body).await;
    let other = xtask::effects::registry::sha256_digest(&other_body);
    let json = verify_expect(&world, &DEEP, 1).await;
    // verify-contents sees it too: the binary does not carry commit A.
    let contents = outcomes(&json, "verify-contents");
    let failed: Vec<&&serde_json::Value> =
        contents.iter().filter(|o| o["status"] == "fail").collect();
    assert_eq!(failed.len(), 1, "only core fails: {contents:#?}");
    let msg = failed[0].to_string();
    assert!(
        msg.contains("aisopsflow-core") && msg.contains("built from another commit"),
        "{msg}"
    );
    let runs = outcomes(&json, "verify-runs");
    let failed: Vec<&&serde_json::Value> = runs.iter().filter(|o| o["status"] == "fail").collect();
    assert_eq!(failed.len(), 1, "only core fails: {runs:#?}");
    let msg = failed[0].to_string();
    assert!(
        msg.contains("aisopsflow-core@") && msg.contains(&other),
        "{msg}"
    );
    assert!(
        msg.contains("0.2.0") && msg.contains(&commit_b),
        "it says what the image printed: {msg}"
    );
    // The record notices the moved tag too.
    let run = world.xtask_in(elsewhere.path(), &from_notes).await;
    let json: serde_json::Value = serde_json::from_str(&run.expect(1, &[]).stdout).unwrap();
    let semver = outcomes(&json, "verify-semver-tag");
    assert!(
        semver.iter().any(|o| o["status"] == "fail"
            && o["message"].as_str().unwrap().contains("aisopsflow-core")
            && o["message"]
                .as_str()
                .unwrap()
                .contains("moved after the release")),
        "{semver:#?}"
    );
    assert_eq!(verdicts(&json)["verify-runs"], "fail");
    put_under(&world, &core, &tags_a, &orig_mt, &orig_body).await;

    // 6. A public image that gains a stray file naming the enterprise repository.
    let runner = format!("{org}/aisopsflow-runner");
    let (orig_body, orig_mt) = get_manifest(&world.registry, &runner, "0.1.0").await;
    let (stray_body, stray_mt) = with_stray_file(
        &world,
        &runner,
        "0.1.0",
        "etc/build-source.txt",
        format!(
            "built from https://github.com/{}\n",
            config.raw.repository.name
        )
        .as_bytes(),
    )
    .await;
    put_under(&world, &runner, &tags_a, &stray_mt, &stray_body).await;
    let json = verify_expect(&world, &DEEP_CONTENTS, 1).await;
    let contents = outcomes(&json, "verify-contents");
    let failed: Vec<&&serde_json::Value> =
        contents.iter().filter(|o| o["status"] == "fail").collect();
    assert_eq!(failed.len(), 1, "only the runner fails: {contents:#?}");
    let msg = failed[0].to_string();
    assert!(msg.contains("aisopsflow-runner"), "{msg}");
    assert!(msg.contains("stray file `/etc/build-source.txt`"), "{msg}");
    assert!(msg.contains(&config.raw.repository.name), "{msg}");
    put_under(&world, &runner, &tags_a, &orig_mt, &orig_body).await;
    // Restored: it passes again.
    verify_expect(&world, &DEEP_CONTENTS, 0).await;
}
