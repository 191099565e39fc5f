//! `verify-contents`: what the registry holds is exactly the files our FROM-scratch
//! Dockerfiles put there, and a public image names nothing it must not.
//!
//! Each layer is streamed from the registry through a gzip decoder and a tar reader, never
//! stored whole; its bytes are hashed on the way (the blob digest from the manifest, and the
//! uncompressed `diff_id` from the config) so what was read is what was released. The layers
//! are applied in order (later entries replace earlier ones, `.wh.` whiteouts delete), and the
//! resulting file system must be exactly, per `core/Dockerfile` and its siblings and
//! `images::stage`:
//!
//! | path | type | owner | mode |
//! | --- | --- | --- | --- |
//! | `etc`, `etc/ssl`, `etc/ssl/certs`, `usr`, `usr/local`, `usr/local/bin` | directory | 0:0 | 0755 |
//! | `etc/passwd`, `etc/group` (exactly `images::stage::{PASSWD, GROUP}`) | file | 0:0 | 0644 |
//! | `etc/ssl/certs/ca-certificates.crt` (PEM certificates) | file | 0:0 | 0644 |
//! | `usr/local/bin/<crate>` | file | 0:0 | 0755 |
//!
//! The binary must also carry the tag's commit among its bytes (it is embedded at build time,
//! `core::build_info::COMMIT`): a binary without it was built from another commit.
//!
//! For a public image every file name and every file's bytes (the binary's strings included),
//! the manifests (annotations), the config and its labels are searched, case-insensitively,
//! for the enterprise repository's names and the commercial-only defaults of release.toml.
//! Sizes are reported per layer (compressed and uncompressed) and in total.

use std::io::Read;
use std::time::Duration;

use sha2::Digest as _;

use crate::checks::Outcome;
use crate::checks::verify::{ContentsRead, PackageState, contents_outcomes, required_for};
use crate::config::Visibility;
use crate::effects::registry::{DOCKER_MANIFEST, OCI_MANIFEST, RegistryClient, parse_index};

pub use crate::checks::verify::{
    EntryKind as Kind, FileEntry, ImageScan, LayerScan, Required, expected, file_problems,
};

/// How long one chunk of a layer may take to arrive.
const CHUNK_TIMEOUT: Duration = Duration::from_secs(120);

/// A case-insensitive search for several byte strings across chunk boundaries.
struct Scanner {
    markers: Vec<Vec<u8>>,
    keep: usize,
    tail: Vec<u8>,
    found: Vec<usize>,
}

impl Scanner {
    fn new(markers: &[String]) -> Scanner {
        let markers: Vec<Vec<u8>> = markers
            .iter()
            .filter(|m| !m.is_empty())
            .map(|m| m.to_ascii_lowercase().into_bytes())
            .collect();
        let keep = markers
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(1)
            .saturating_sub(1);
        Scanner {
            markers,
            keep,
            tail: Vec::new(),
            found: Vec::new(),
        }
    }

    fn feed(&mut self, chunk: &[u8]) {
        let mut buf = std::mem::take(&mut self.tail);
        buf.extend(chunk.iter().map(u8::to_ascii_lowercase));
        for (i, m) in self.markers.iter().enumerate() {
            if !self.found.contains(&i) && buf.windows(m.len()).any(|w| w == m.as_slice()) {
                self.found.push(i);
            }
        }
        let start = buf.len().saturating_sub(self.keep);
        self.tail = buf[start..].to_vec();
    }

    fn hits(&self, original: &[String]) -> Vec<String> {
        let nonempty: Vec<&String> = original.iter().filter(|m| !m.is_empty()).collect();
        self.found.iter().map(|i| nonempty[*i].clone()).collect()
    }
}

/// Reads the chunks the async side sends (which hashes them as served).
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    current: bytes::Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.current = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

/// Hashes and counts what passes through.
struct Hashing<R> {
    inner: R,
    hash: sha2::Sha256,
    count: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

fn hex(h: sha2::Sha256) -> String {
    let mut s = String::from("sha256:");
    for b in h.finalize() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Files whose full text is kept for comparison.
fn keeps_text(path: &str) -> bool {
    path == "etc/passwd" || path == "etc/group"
}

/// Normalises a tar path: no leading `./` or `/`, no trailing `/`.
fn normalise(p: &str) -> String {
    let p = p.trim_start_matches("./").trim_start_matches('/');
    p.trim_end_matches('/').to_string()
}

/// Reads one (possibly gzip-compressed) layer tar from `reader`, synchronously: its entries,
/// marker hits (when `scan`), the texts that matter, and the uncompressed size and digest.
fn scan_tar(
    reader: impl Read,
    media_type: &str,
    markers: &[String],
    scan: bool,
    required: &Required,
) -> anyhow::Result<LayerScan> {
    if media_type.ends_with("zstd") {
        anyhow::bail!(
            "layer media type {media_type} (zstd) is not one our images use; they are built as gzip layers"
        );
    }
    let gz = media_type.ends_with("gzip");
    let decoded: Box<dyn Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    let mut h = Hashing {
        inner: decoded,
        hash: sha2::Sha256::new(),
        count: 0,
    };
    let mut out = LayerScan::default();
    {
        let mut archive = tar::Archive::new(&mut h);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let raw = entry.path()?.to_string_lossy().into_owned();
            let path = normalise(&raw);
            if path.is_empty() || path == "." {
                continue;
            }
            if scan {
                for m in scan_bytes(markers, path.as_bytes()) {
                    out.hits
                        .push(format!("the file name `{path}` contains `{m}`"));
                }
            }
            let name = path.rsplit('/').next().unwrap_or(&path).to_string();
            if let Some(target) = name.strip_prefix(".wh.") {
                let parent = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                let victim = if parent.is_empty() {
                    target.to_string()
                } else {
                    format!("{parent}/{target}")
                };
                out.entries.push((victim, None));
                continue;
            }
            let header = entry.header();
            let kind = match header.entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
                tar::EntryType::Directory => Kind::Dir,
                tar::EntryType::Symlink => Kind::Symlink,
                tar::EntryType::Link => Kind::Hardlink,
                _ => Kind::Other,
            };
            let fe = FileEntry {
                kind,
                uid: header.uid().unwrap_or(u64::MAX),
                gid: header.gid().unwrap_or(u64::MAX),
                mode: header.mode().unwrap_or(0) & 0o7777,
                size: header.size().unwrap_or(0),
            };
            if scan && let Ok(Some(target)) = entry.link_name() {
                for m in scan_bytes(markers, target.to_string_lossy().as_bytes()) {
                    out.hits
                        .push(format!("the link target of `{path}` contains `{m}`"));
                }
            }
            if kind == Kind::File {
                let mut s = Scanner::new(markers);
                let wanted = path == required.path;
                let mut r = Scanner::new(if wanted { &required.strings } else { &[] });
                let mut buf = vec![0u8; 64 * 1024];
                let mut text = Vec::new();
                let mut head = Vec::new();
                loop {
                    let n = entry.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    if scan {
                        s.feed(&buf[..n]);
                    }
                    if wanted {
                        r.feed(&buf[..n]);
                    }
                    if keeps_text(&path) && text.len() < 64 * 1024 {
                        text.extend_from_slice(&buf[..n]);
                    }
                    if head.len() < 64 {
                        let take = n.min(64 - head.len());
                        head.extend_from_slice(&buf[..take]);
                    }
                }
                for m in s.hits(markers) {
                    out.hits
                        .push(format!("the contents of `{path}` contain `{m}`"));
                }
                if wanted {
                    out.required_found
                        .insert(path.clone(), r.hits(&required.strings));
                }
                if keeps_text(&path) {
                    out.texts
                        .insert(path.clone(), String::from_utf8_lossy(&text).into_owned());
                }
                out.heads.insert(path.clone(), head);
            }
            out.entries.push((path, Some(fe)));
        }
    }
    // The tar end marker may come before the end of the stream: read the rest, so the hash
    // covers every byte.
    std::io::copy(&mut h, &mut std::io::sink())?;
    out.diff_id = hex(h.hash);
    out.uncompressed = h.count;
    Ok(out)
}

fn scan_bytes(markers: &[String], bytes: &[u8]) -> Vec<String> {
    let mut s = Scanner::new(markers);
    s.feed(bytes);
    s.hits(markers)
}

/// Streams one layer from the registry into `scan_tar` on a blocking thread; checks the
/// served bytes against the layer's digest.
pub(crate) async fn scan_layer(
    client: &RegistryClient,
    repo: &str,
    digest: &str,
    media_type: &str,
    markers: &[String],
    scan: bool,
    required: &Required,
) -> anyhow::Result<LayerScan> {
    use futures_util::StreamExt;
    let mut stream = Box::pin(client.blob_stream(repo, digest).await?);
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
    let (mt, mk, rq) = (media_type.to_string(), markers.to_vec(), required.clone());
    let reader = tokio::task::spawn_blocking(move || {
        scan_tar(
            ChannelReader {
                rx,
                current: bytes::Bytes::new(),
            },
            &mt,
            &mk,
            scan,
            &rq,
        )
    });
    let mut hash = sha2::Sha256::new();
    let mut count = 0u64;
    let mut fed: anyhow::Result<()> = Ok(());
    loop {
        let chunk = match tokio::time::timeout(CHUNK_TIMEOUT, stream.next()).await {
            Err(_) => {
                fed = Err(crate::exit::external(format!(
                    "reading {repo}@{digest}: no data for {} s; retry later",
                    CHUNK_TIMEOUT.as_secs()
                )));
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                fed = Err(e);
                break;
            }
            Ok(Some(Ok(c))) => c,
        };
        hash.update(&chunk);
        count += chunk.len() as u64;
        if tx.send(chunk).await.is_err() {
            // The reader stopped early (a broken tar): its error says why.
            break;
        }
    }
    drop(tx);
    let scanned = reader
        .await
        .map_err(|e| anyhow::anyhow!("the layer reader of {repo}@{digest} failed: {e}"))?;
    fed?;
    let blob_digest = hex(hash);
    if blob_digest != digest {
        return Err(crate::exit::policy(format!(
            "the registry served {repo}@{digest} as bytes that hash to {blob_digest}; do not trust this registry's answer"
        )));
    }
    let mut scan = scanned.map_err(|e| {
        crate::exit::policy(format!(
            "layer {repo}@{digest} ({media_type}) is not a readable tar: {e:#}"
        ))
    })?;
    scan.digest = digest.to_string();
    scan.media_type = media_type.to_string();
    scan.compressed = count;
    scan.blob_digest = blob_digest;
    Ok(scan)
}

/// Reads every platform image of `digest` (an index's attestations are metadata, which
/// `verify-public-metadata-clean` reads; here they are only scanned for markers).
pub(crate) async fn scan_image(
    client: &RegistryClient,
    repo: &str,
    digest: &str,
    markers: &[String],
    public: bool,
    required: &Required,
) -> anyhow::Result<ImageScan> {
    let mut out = ImageScan::default();
    let scan_text = |out: &mut ImageScan, place: &str, text: &[u8]| {
        if public {
            for m in scan_bytes(markers, text) {
                out.hits.push(format!("{place} contains `{m}`"));
            }
        }
    };
    let (body, _, media_type) = client.manifest(repo, digest).await?;
    let mut images = Vec::new();
    if media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST {
        images.push((digest.to_string(), body.to_vec()));
    } else {
        scan_text(&mut out, &format!("the index {digest}"), &body);
        for e in parse_index(&body)? {
            let (b, _, _) = client.manifest(repo, &e.digest).await?;
            if e.is_attestation() {
                scan_text(
                    &mut out,
                    &format!("the attestation manifest {}", e.digest),
                    &b,
                );
            } else {
                images.push((e.digest.clone(), b.to_vec()));
            }
        }
    }
    for (d, body) in images {
        scan_text(&mut out, &format!("the manifest {d}"), &body);
        let m: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            crate::exit::policy(format!("the manifest {repo}@{d} is not JSON: {e}"))
        })?;
        let mut diff_ids = Vec::new();
        if let Some(cfg) = m.pointer("/config/digest").and_then(|v| v.as_str()) {
            let blob = client.blob(repo, cfg).await?;
            scan_text(&mut out, &format!("the config {cfg}"), &blob);
            let v: serde_json::Value = serde_json::from_slice(&blob).unwrap_or_default();
            diff_ids = v
                .pointer("/rootfs/diff_ids")
                .and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
        } else {
            out.problems
                .push(format!("the manifest {d} names no config"));
        }
        let layers = m
            .get("layers")
            .and_then(|l| l.as_array())
            .cloned()
            .unwrap_or_default();
        if diff_ids.len() != layers.len() {
            out.problems.push(format!(
                "the manifest {d} has {} layers but its config lists {} diff_ids",
                layers.len(),
                diff_ids.len()
            ));
        }
        for (i, layer) in layers.iter().enumerate() {
            let ld = layer.get("digest").and_then(|v| v.as_str()).unwrap_or("");
            let lmt = layer
                .get("mediaType")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let scan = match scan_layer(client, repo, ld, lmt, markers, public, required).await {
                Ok(s) => s,
                Err(e) if crate::exit::kind_of(&e) == Some(crate::exit::Kind::Policy) => {
                    out.problems.push(format!("{e:#}"));
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Some(want) = diff_ids.get(i)
                && *want != scan.diff_id
            {
                out.problems.push(format!(
                    "layer {ld} uncompresses to {}, but the config says its diff_id is {want}",
                    scan.diff_id
                ));
            }
            for (path, entry) in &scan.entries {
                match entry {
                    Some(e) => {
                        out.files.insert(path.clone(), e.clone());
                    }
                    None => {
                        let prefix = format!("{path}/");
                        out.files
                            .retain(|p, _| p != path && !p.starts_with(&prefix));
                    }
                }
            }
            out.texts.extend(scan.texts.clone());
            out.required_found.extend(scan.required_found.clone());
            out.hits
                .extend(scan.hits.iter().map(|h| format!("layer {ld}: {h}")));
            out.layers.push(scan);
        }
    }
    Ok(out)
}

/// `verify-contents` for every package with a semver tag: reads each image's layers, then
/// judges in `checks::verify::contents_outcomes`.
pub async fn outcomes(
    client: &RegistryClient,
    packages: &[PackageState],
    markers: &[String],
    commit: &str,
) -> anyhow::Result<Vec<Outcome>> {
    let mut reads = Vec::new();
    for p in packages {
        let Some(r) = &p.semver else {
            reads.push((p, ContentsRead::TagMissing));
            continue;
        };
        let repo = p
            .repository
            .split_once('/')
            .map(|(_, r)| r.to_string())
            .unwrap_or_else(|| p.repository.clone());
        let public = p.image.visibility == Visibility::Public;
        let required = required_for(p, commit);
        let read = match scan_image(client, &repo, &r.digest, markers, public, &required).await {
            Ok(s) => ContentsRead::Scanned(s),
            Err(e) if crate::exit::kind_of(&e) == Some(crate::exit::Kind::Policy) => {
                ContentsRead::Untrusted(format!("{e:#}"))
            }
            Err(e) => return Err(e),
        };
        reads.push((p, read));
    }
    Ok(contents_outcomes(&reads, markers, commit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::stage;

    #[test]
    fn scanner_finds_markers_across_chunks_case_insensitively() {
        let markers = vec![
            "aisopsflow/aisopsflow-enterprise".to_string(),
            String::new(),
        ];
        let mut s = Scanner::new(&markers);
        s.feed(b"xx github.com/AisopsFlow/aisops");
        assert!(s.hits(&markers).is_empty());
        s.feed(b"flow-Enterprise yy");
        assert_eq!(s.hits(&markers), vec![markers[0].clone()]);
    }

    fn layer(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data, mode) in entries {
            let mut h = tar::Header::new_gnu();
            if name.ends_with('/') {
                h.set_entry_type(tar::EntryType::Directory);
            }
            h.set_size(data.len() as u64);
            h.set_mode(*mode);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn a_good_tree_has_no_problems_and_strays_are_named() {
        let krate = "aisopsflow-core";
        let tar = layer(&[
            ("etc/", b"", 0o755),
            ("etc/passwd", stage::PASSWD.as_bytes(), 0o644),
            ("etc/group", stage::GROUP.as_bytes(), 0o644),
            ("etc/ssl/", b"", 0o755),
            ("etc/ssl/certs/", b"", 0o755),
            (
                "etc/ssl/certs/ca-certificates.crt",
                b"-----BEGIN CERTIFICATE-----",
                0o644,
            ),
            ("usr/", b"", 0o755),
            ("usr/local/", b"", 0o755),
            ("usr/local/bin/", b"", 0o755),
            (
                "usr/local/bin/aisopsflow-core",
                b"\x7fELF aisopsflow-core 0123456789abcdef0123456789abcdef01234567",
                0o755,
            ),
        ]);
        let markers = vec!["aisopsflow/aisopsflow-enterprise".to_string()];
        let l = scan_tar(
            &tar[..],
            "application/vnd.oci.image.layer.v1.tar",
            &markers,
            true,
            &Required {
                path: "usr/local/bin/aisopsflow-core".into(),
                strings: vec!["0123456789abcdef0123456789abcdef01234567".into()],
            },
        )
        .unwrap();
        assert_eq!(
            l.required_found["usr/local/bin/aisopsflow-core"].len(),
            1,
            "the binary's commit is found"
        );
        assert_eq!(l.uncompressed, tar.len() as u64);
        assert_eq!(l.diff_id, crate::effects::registry::sha256_digest(&tar));
        let mut img = ImageScan::default();
        for (p, e) in &l.entries {
            img.files.insert(p.clone(), e.clone().unwrap());
        }
        img.texts = l.texts.clone();
        assert_eq!(file_problems(krate, &img), Vec::<String>::new());

        let stray = layer(&[(
            "etc/enterprise.txt",
            b"see https://github.com/aisopsflow/aisopsflow-enterprise",
            0o600,
        )]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &stray).unwrap();
        let gz = gz.finish().unwrap();
        let l2 = scan_tar(
            &gz[..],
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            &markers,
            true,
            &Required::default(),
        )
        .unwrap();
        assert_eq!(l2.diff_id, crate::effects::registry::sha256_digest(&stray));
        assert_eq!(l2.hits.len(), 1, "{:?}", l2.hits);
        for (p, e) in &l2.entries {
            img.files.insert(p.clone(), e.clone().unwrap());
        }
        let problems = file_problems(krate, &img);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("stray file `/etc/enterprise.txt`"),
            "{problems:?}"
        );
    }
}
