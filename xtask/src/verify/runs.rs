//! `verify-runs`: each released image, pulled by digest from the registry through the Docker
//! engine, runs and says it is this release: `--version` must print exactly
//! `<crate> <version> (commit <tag's commit>, edition <edition>)`, and core must also answer
//! its health probe inside `serve`. The smoke run is the one preflight uses (`images::smoke`),
//! so a release is judged by the same rule before it is tagged and after it is published.
//!
//! The pull uses the credentials verify already has (handed to the engine for that pull
//! only). Every container is removed (`effects::docker`), and an image reference this check
//! pulled is removed again; one that was already on the engine is left alone.
//!
//! This file does the engine and registry work; `checks::verify::run_outcome` judges what it
//! saw.

use crate::checks::Outcome;
use crate::checks::verify::{PackageState, RunFacts, run_outcome, same_bytes};
use crate::effects::docker::Docker;
use crate::effects::registry::RegistryClient;
use crate::images::{BuiltImage, smoke};

/// Runs every package's smoke against what the registry holds under the release's semver tag.
pub async fn outcomes(
    client: &RegistryClient,
    packages: &[PackageState],
    version: &str,
    commit: &str,
) -> anyhow::Result<Vec<Outcome>> {
    let docker = Docker::connect().await?;
    let creds = client.basic_credentials();
    let creds = creds.as_ref().map(|(u, s)| (u.as_str(), s));
    let mut out = Vec::new();
    // One image at a time: the engine is shared, and a smoke run is a few hundred ms.
    for p in packages {
        let facts = match &p.semver {
            None => RunFacts::TagMissing,
            Some(r) => run_one(&docker, client, creds, p, &r.digest, version, commit).await?,
        };
        out.push(run_outcome(p, version, commit, &facts));
    }
    Ok(out)
}

/// Pulls `digest`, ties the engine's copy to the registry's bytes, and smoke-runs it; removes
/// what it pulled.
async fn run_one(
    docker: &Docker,
    client: &RegistryClient,
    creds: Option<(&str, &crate::secrets::Secret)>,
    p: &PackageState,
    digest: &str,
    version: &str,
    commit: &str,
) -> anyhow::Result<RunFacts> {
    let reference = format!("{}@{digest}", p.repository);
    let existed = docker.image(&reference).await?.is_some();
    if let Err(e) = docker.pull_digest(&p.repository, digest, creds).await {
        return Ok(RunFacts::PullFailed(format!("{e:#}")));
    }
    // The engine may answer a pull by digest from its own store without fetching (it did so
    // for images it pushed itself): tie its copy to the registry's bytes by comparing its
    // image id with the config digest of the manifest the registry serves.
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
    let config_digest = match client.manifest(&repo, digest).await {
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
    if !same_bytes(&engine_id, digest, config_digest.as_deref()) {
        if !existed {
            let _ = docker.remove_image(&reference).await;
        }
        return Ok(RunFacts::Pulled {
            engine_id,
            config_digest,
            smoke: None,
        });
    }
    let image = BuiltImage {
        spec: p.image.clone(),
        id: String::new(),
        tag: reference.clone(),
        context_hash: String::new(),
        reused: false,
    };
    let result = smoke::smoke(docker, &image, version, commit).await;
    let removed = if existed {
        Ok(())
    } else {
        docker.remove_image(&reference).await
    };
    if let Err(e) = removed {
        crate::note!(
            "verify-runs: could not remove the pulled image {reference}: {e:#}; remove it with `docker rmi {reference}`"
        );
    }
    Ok(RunFacts::Pulled {
        engine_id,
        config_digest,
        smoke: Some(result.map_err(|e| format!("{e:#}"))),
    })
}
