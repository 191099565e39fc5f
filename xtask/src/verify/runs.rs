//! `verify-runs`: each released image, pulled by digest from the registry through the Docker
//! engine, runs and says it is this release: `--version` must print exactly
//! `<crate> <version> (commit <tag's commit>, edition <edition>)`, and core must also answer
//! its health probe inside `serve`. The smoke run is the one preflight uses (`images::smoke`),
//! so a release is judged by the same rule before it is tagged and after it is published.
//!
//! The pull uses the credentials verify already has (handed to the engine for that pull
//! only). Every container is removed (`effects::docker`), and an image reference this check
//! pulled is removed again; one that was already on the engine is left alone.

use crate::checks::{CheckId, Evidence, Outcome};
use crate::effects::docker::Docker;
use crate::effects::registry::RegistryClient;
use crate::images::{BuiltImage, smoke};

use super::PackageState;

/// Runs every package's smoke against what the registry holds under the release's semver tag.
pub async fn outcomes(
    client: &RegistryClient,
    packages: &[PackageState],
    version: &str,
    commit: &str,
) -> anyhow::Result<Vec<Outcome>> {
    let id = CheckId::VerifyRuns;
    let docker = Docker::connect().await?;
    let creds = client.basic_credentials();
    let creds = creds.as_ref().map(|(u, s)| (u.as_str(), s));
    let mut out = Vec::new();
    // One image at a time: the engine is shared, and a smoke run is a few hundred ms.
    for p in packages {
        let Some(r) = &p.semver else {
            out.push(Outcome::fail(
                id,
                format!(
                    "{}: cannot run {}:{version}: the tag is missing",
                    p.image.package, p.repository
                ),
                vec![Evidence::note("verify-semver-tag reports the missing tag")],
            ));
            continue;
        };
        let reference = format!("{}@{}", p.repository, r.digest);
        let existed = docker.image(&reference).await?.is_some();
        if let Err(e) = docker.pull_digest(&p.repository, &r.digest, creds).await {
            out.push(Outcome::fail(
                id,
                format!("{}: the engine could not pull {reference}", p.image.package),
                vec![
                    Evidence::digest(reference.clone(), r.digest.clone()),
                    Evidence::note(format!("{e:#}")),
                ],
            ));
            continue;
        }
        // The engine may answer a pull by digest from its own store without fetching (it did
        // so for images it pushed itself): tie its copy to the registry's bytes by comparing
        // its image id with the config digest of the manifest the registry serves.
        let engine_id = docker
            .image(&reference)
            .await?
            .map(|f| f.id)
            .unwrap_or_default();
        let repo = p
            .repository
            .split_once('/')
            .map(|(_, r)| r.to_string())
            .unwrap_or_else(|| p.repository.clone());
        let config_digest = match client.manifest(&repo, &r.digest).await {
            Ok((body, _, _)) => serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|m| {
                    m.pointer("/config/digest")
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                }),
            Err(e) if crate::exit::kind_of(&e) == Some(crate::exit::Kind::Policy) => None,
            Err(e) => return Err(e),
        };
        let same_bytes =
            engine_id == r.digest || config_digest.as_deref() == Some(engine_id.as_str());
        if !same_bytes {
            if !existed {
                let _ = docker.remove_image(&reference).await;
            }
            out.push(Outcome::fail(
                id,
                format!(
                    "{}: the engine's copy of {reference} is not what the registry serves",
                    p.image.package
                ),
                vec![
                    Evidence::digest(reference.clone(), r.digest.clone()),
                    Evidence::note(format!(
                        "engine image id {}, registry config digest {}",
                        if engine_id.is_empty() {
                            "(none)"
                        } else {
                            &engine_id
                        },
                        config_digest.as_deref().unwrap_or("(unreadable)")
                    )),
                ],
            ));
            continue;
        }
        let image = BuiltImage {
            spec: p.image.clone(),
            id: String::new(),
            tag: reference.clone(),
            context_hash: String::new(),
            reused: false,
        };
        let result = smoke::smoke(&docker, &image, version, commit).await;
        let removed = if existed {
            Ok(())
        } else {
            docker.remove_image(&reference).await
        };
        match result {
            Ok(report) => {
                let mut ev = vec![
                    Evidence::digest(reference.clone(), r.digest.clone()),
                    Evidence::note(format!(
                        "engine image id {engine_id} = the config digest the registry's manifest names"
                    )),
                    Evidence::note(format!("--version printed `{}`", report.version_line)),
                ];
                if let Some(h) = report.health {
                    ev.push(Evidence::note(h));
                }
                out.push(Outcome::pass(
                    id,
                    format!(
                        "{}@{} runs and reports {version}, commit {}, edition {}",
                        p.image.package,
                        short(&r.digest),
                        &commit[..commit.len().min(12)],
                        p.image.edition
                    ),
                    ev,
                ));
            }
            Err(e) => out.push(Outcome::fail(
                id,
                format!(
                    "{}@{} does not run as this release: {}",
                    p.image.package,
                    r.digest,
                    first_line(&format!("{e:#}"))
                ),
                vec![
                    Evidence::digest(reference.clone(), r.digest.clone()),
                    Evidence::note(format!("{e:#}")),
                    Evidence::note(format!(
                        "expected `{}`",
                        smoke::expected_version_line(&image, version, commit)
                    )),
                ],
            )),
        }
        if let Err(e) = removed {
            crate::note!(
                "verify-runs: could not remove the pulled image {reference}: {e:#}; remove it with `docker rmi {reference}`"
            );
        }
    }
    Ok(out)
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(19)]
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
