//! Images over the registry API, for the tests that seed, read or doctor a registry harness
//! (distribution behind the GHCR-like token service) with tokens it mints, independent of the
//! product's registry client; and skopeo, an independent reader.

use std::collections::BTreeMap;
use std::process::Command;

use xtask::effects::registry::sha256_digest;
use xtask::secrets::Secret;
use xtask::standin::registry::RegistryHarness;

/// An HTTP client for the registry API.
pub fn client() -> reqwest::Client {
    xtask::effects::http::client()
}

/// A tar holding one file, `name` (mode 0755), with `content`.
pub fn tar_with(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o755);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, name, content).unwrap();
    b.into_inner().unwrap()
}

/// Uploads a blob with `tok` (a token with push on `repo`); returns its digest.
pub async fn put_blob(h: &RegistryHarness, repo: &str, tok: &Secret, data: &[u8]) -> String {
    let digest = sha256_digest(data);
    let res = client()
        .post(format!("http://{}/v2/{repo}/blobs/uploads/", h.host))
        .bearer_auth(tok.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "starting a blob upload");
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    let loc = if loc.starts_with("http") {
        loc
    } else {
        format!("http://{}{loc}", h.host)
    };
    let sep = if loc.contains('?') { '&' } else { '?' };
    let res = client()
        .put(format!("{loc}{sep}digest={digest}"))
        .bearer_auth(tok.expose())
        .header("content-type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "finishing a blob upload");
    digest
}

/// PUTs a manifest body under `reference` (a tag or its digest); returns its digest.
pub async fn put_manifest(
    h: &RegistryHarness,
    repo: &str,
    reference: &str,
    media_type: &str,
    body: &[u8],
) -> String {
    let tok = h.mint_token(repo, &["pull", "push"]).unwrap();
    let res = client()
        .put(format!("http://{}/v2/{repo}/manifests/{reference}", h.host))
        .bearer_auth(tok.expose())
        .header("content-type", media_type)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        201,
        "putting manifest {repo}:{reference}: {}",
        res.text().await.unwrap_or_default()
    );
    sha256_digest(body)
}

/// A small FROM-scratch image: one layer holding `/hello`, a config with `labels`.
/// Returns (manifest body, digest).
pub async fn push_image(
    h: &RegistryHarness,
    repo: &str,
    tag: &str,
    content: &str,
    labels: &BTreeMap<String, String>,
) -> (Vec<u8>, String) {
    let tok = h.mint_token(repo, &["pull", "push"]).unwrap();
    let layer = tar_with("hello", content.as_bytes());
    let layer_digest = put_blob(h, repo, &tok, &layer).await;
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": labels, "Entrypoint": ["/hello"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    });
    let config = serde_json::to_vec(&config).unwrap();
    let config_digest = put_blob(h, repo, &tok, &config).await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
    });
    let body = serde_json::to_vec(&manifest).unwrap();
    let digest = put_manifest(
        h,
        repo,
        tag,
        "application/vnd.oci.image.manifest.v1+json",
        &body,
    )
    .await;
    (body, digest)
}

/// An index with one linux/amd64 image and a buildx-style attestation manifest whose layer
/// holds `attestation` (an in-toto statement). Returns the index digest.
pub async fn push_index(
    h: &RegistryHarness,
    repo: &str,
    tag: &str,
    content: &str,
    attestation: &str,
) -> String {
    let (img_body, img_digest) =
        push_image(h, repo, &format!("{tag}-img"), content, &BTreeMap::new()).await;
    let tok = h.mint_token(repo, &["pull", "push"]).unwrap();
    let att_layer = put_blob(h, repo, &tok, attestation.as_bytes()).await;
    let att_config = put_blob(h, repo, &tok, b"{}").await;
    let att = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": att_config, "size": 2},
        "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": att_layer, "size": attestation.len(),
                    "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}],
    });
    let att_body = serde_json::to_vec(&att).unwrap();
    let att_digest = put_manifest(
        h,
        repo,
        &format!("{tag}-att"),
        "application/vnd.oci.image.manifest.v1+json",
        &att_body,
    )
    .await;
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": img_digest, "size": img_body.len(),
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": att_digest, "size": att_body.len(),
             "platform": {"os": "unknown", "architecture": "unknown"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": img_digest}},
        ],
    });
    let body = serde_json::to_vec(&index).unwrap();
    put_manifest(
        h,
        repo,
        tag,
        "application/vnd.oci.image.index.v1+json",
        &body,
    )
    .await
}

/// GETs the manifest `repo:reference`: (body, media type).
pub async fn get_manifest(h: &RegistryHarness, repo: &str, reference: &str) -> (Vec<u8>, String) {
    let tok = h.mint_token(repo, &["pull"]).unwrap();
    let res = client()
        .get(format!("http://{}/v2/{repo}/manifests/{reference}", h.host))
        .bearer_auth(tok.expose())
        .header(
            "accept",
            xtask::effects::registry::MANIFEST_ACCEPT.join(", "),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "GET {repo}:{reference}");
    let mt = res.headers()["content-type"].to_str().unwrap().to_string();
    (res.bytes().await.unwrap().to_vec(), mt)
}

/// GETs the blob `repo@digest`.
pub async fn get_blob(h: &RegistryHarness, repo: &str, digest: &str) -> Vec<u8> {
    let tok = h.mint_token(repo, &["pull"]).unwrap();
    let res = client()
        .get(format!("http://{}/v2/{repo}/blobs/{digest}", h.host))
        .bearer_auth(tok.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "GET blob {repo}@{digest}");
    res.bytes().await.unwrap().to_vec()
}

/// Copies the manifest of `from` to the tag `to` (GET + PUT, as `crane tag` does).
pub async fn retag(h: &RegistryHarness, repo: &str, from: &str, to: &str) -> String {
    let (body, mt) = get_manifest(h, repo, from).await;
    put_manifest(h, repo, to, &mt, &body).await
}

/// Deletes a manifest by digest (every tag pointing at it goes with it).
pub async fn delete_manifest(h: &RegistryHarness, repo: &str, digest: &str) {
    let tok = h.mint_token(repo, &["delete"]).unwrap();
    let res = client()
        .delete(format!("http://{}/v2/{repo}/manifests/{digest}", h.host))
        .bearer_auth(tok.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "deleting {repo}@{digest}");
}

/// `skopeo inspect`'s digest for `repo:tag` (an independent client), with the harness
/// credentials.
pub fn skopeo_digest(h: &RegistryHarness, repo: &str, tag: &str) -> String {
    skopeo_inspect(h, repo, tag).unwrap_or_else(|e| panic!("skopeo inspect {repo}:{tag}: {e}"))
}

/// [`skopeo_digest`], or skopeo's stderr when it fails (no such tag, say).
pub fn skopeo_inspect(h: &RegistryHarness, repo: &str, tag: &str) -> Result<String, String> {
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            "--no-tags",
            "--format",
            "{{.Digest}}",
            "--creds",
        ])
        .arg(format!("{}:{}", h.user, h.password.expose()))
        .arg(format!("docker://{}/{repo}:{tag}", h.host))
        .output()
        .expect("skopeo is installed (apt-get install skopeo)");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
