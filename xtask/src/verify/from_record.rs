//! What the release record says of verify, in both directions: the record's view of a
//! verified package (`record_package`, written by `release`), and `cargo xtask verify
//! --from-notes FILE`, which re-proves a release from its record alone (no workspace, no git
//! tags, no resume state). Kept under `verify` so the record (`record.rs`) is plain data that
//! imports nothing of verify.

use std::path::Path;

use anyhow::Context;

use crate::config::Config;
use crate::record::{Package, Platform, ReleaseRecord, worst};
use crate::workspace::{Global, Workspace};

/// The record's view of one verified package: index and platform digests from the registry
/// (a single-manifest image's platform is read from its config).
pub(crate) async fn record_package(
    client: &crate::effects::registry::RegistryClient,
    state: &crate::verify::PackageState,
    tags: Vec<String>,
    latest_before: Option<String>,
) -> anyhow::Result<Package> {
    let r = state.semver.as_ref().ok_or_else(|| {
        crate::exit::policy(format!("{} has no semver tag to record", state.repository))
    })?;
    let repo = state
        .repository
        .split_once('/')
        .map(|(_, r)| r.to_string())
        .unwrap_or_else(|| state.repository.clone());
    let (platforms, attestations, index_digest) = if r.is_index() {
        (
            r.entries
                .iter()
                .filter(|e| !e.is_attestation())
                .map(|e| Platform {
                    platform: e.platform.clone(),
                    digest: e.digest.clone(),
                    media_type: e.media_type.clone(),
                })
                .collect(),
            r.entries
                .iter()
                .filter_map(|e| e.attests.clone().map(|of| (e.digest.clone(), of)))
                .collect(),
            Some(r.digest.clone()),
        )
    } else {
        let (body, _, _) = client.manifest(&repo, &r.digest).await?;
        let m: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let mut platform = "unknown/unknown".to_string();
        if let Some(cfg) = m.pointer("/config/digest").and_then(|v| v.as_str()) {
            let blob = client.blob(&repo, cfg).await?;
            let c: serde_json::Value = serde_json::from_slice(&blob).unwrap_or_default();
            let s = |k: &str| {
                c.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or("unknown")
                    .to_string()
            };
            platform = format!("{}/{}", s("os"), s("architecture"));
            if let Some(v) = c.get("variant").and_then(|v| v.as_str()) {
                platform.push('/');
                platform.push_str(v);
            }
        }
        (
            vec![Platform {
                platform,
                digest: r.digest.clone(),
                media_type: r.media_type.clone(),
            }],
            Vec::new(),
            None,
        )
    };
    Ok(Package {
        package: state.image.package.clone(),
        component: state.image.component.clone(),
        edition: state.image.edition.clone(),
        krate: state.image.krate.clone(),
        visibility: state.image.visibility,
        repository: state.repository.clone(),
        tags,
        digest: r.digest.clone(),
        media_type: r.media_type.clone(),
        index_digest,
        platforms,
        attestations,
        latest_before,
        latest_after: state.latest.as_ref().map(|l| l.digest.clone()),
    })
}

/// `cargo xtask verify --from-notes FILE`: the release's own verify, again, from the record.
pub(crate) async fn verify_from_record(
    file: &Path,
    flags: &crate::flags::Verify,
    g: &Global,
) -> anyhow::Result<u8> {
    let rec = ReleaseRecord::read(file)?;
    // A scratch root: nothing of the current directory or any checkout is read.
    let scratch = tempfile::Builder::new()
        .prefix("aisopsflow-record-")
        .tempdir()
        .context("creating a scratch directory")?;
    let mut config = Config::parse(
        &rec.release_toml,
        &file.with_file_name(format!("{} (release_toml)", file.display())),
        scratch.path(),
    )
    .with_context(|| format!("reading the release.toml recorded in {}", file.display()))?;
    // The recorded host, unless AISOPSFLOW_REGISTRY names a mirror.
    config.raw.registry.host = rec.registry.clone();
    let ws = Workspace {
        root: scratch.path().to_path_buf(),
        config,
        verbose: g.verbose,
    };
    let latest_before = crate::verify::latest_before_arg(
        rec.packages
            .iter()
            .map(|p| (p.package.as_str(), p.latest_before.as_deref())),
    );
    let input = crate::verify::VerifyInput {
        version: rec.version.clone(),
        components: rec.components.clone(),
        only: flags.only.clone(),
        latest_before: Some(latest_before),
        expect_latest: Some(rec.moves_latest),
        delivery: flags.delivery,
        offline: flags.offline,
        deep: true,
        skip: rec.verify_skipped.clone(),
        recorded: Some(crate::verify::RecordedRelease {
            tag: rec.tag.clone(),
            commit: rec.commit.clone(),
            digests: rec
                .packages
                .iter()
                .map(|p| (p.package.clone(), p.digest.clone()))
                .collect(),
            source: file.display().to_string(),
        }),
    };
    let host = ws.config.registry_host();
    let client = crate::effects::registry::RegistryClient::for_host(&host)?;
    if g.verbose > 0 {
        crate::note!(
            "verify --from-notes {}: registry {host}, credentials from {}",
            file.display(),
            client.credentials_source()
        );
    }
    let verified = crate::verify::verify(&ws, &client, &input).await?;
    let help = crate::checks::help_base(&ws.config);
    let mut text = crate::verify::render(&verified, flags.format, &help);
    if flags.format == crate::flags::Format::Human {
        text.push_str(&compare_text(&rec, &verified.report));
    }
    crate::say_part!("{}", crate::secrets::redact_all(&text));
    Ok(crate::report::exit_code(
        &verified.report,
        crate::report::Gate::default(),
    ))
}

/// For people: where today's verdicts differ from the recorded ones.
fn compare_text(rec: &ReleaseRecord, report: &crate::checks::Report) -> String {
    let then = rec.verdicts("verify");
    let now = worst(
        report
            .outcomes
            .iter()
            .map(|o| (o.id.id(), crate::report::status_str(o.status))),
    );
    let mut out = format!(
        "\ncompared with the release's own verify ({} of {}):\n",
        rec.version, rec.written_at
    );
    let mut same = 0;
    for (id, status) in &now {
        match then.get(id) {
            Some(t) if t == status => same += 1,
            Some(t) => out.push_str(&format!("  {id}: {t} then, {status} now\n")),
            None => out.push_str(&format!("  {id}: not recorded then, {status} now\n")),
        }
    }
    out.push_str(&format!("  {same} checks give the recorded verdict\n"));
    out
}
