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

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use sha2::Digest as _;

use crate::checks::{CheckId, Evidence, Outcome};
use crate::config::Visibility;
use crate::effects::registry::{DOCKER_MANIFEST, OCI_MANIFEST, RegistryClient, parse_index};
use crate::images::stage;

use super::PackageState;

/// How long one chunk of a layer may take to arrive.
const CHUNK_TIMEOUT: Duration = Duration::from_secs(120);

/// One entry of the image's file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub kind: Kind,
    pub uid: u64,
    pub gid: u64,
    pub mode: u32,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Other,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::File => "file",
            Kind::Dir => "directory",
            Kind::Symlink => "symlink",
            Kind::Hardlink => "hard link",
            Kind::Other => "special file",
        })
    }
}

/// What reading one layer showed.
#[derive(Debug, Clone, Default)]
pub struct LayerScan {
    pub digest: String,
    pub media_type: String,
    pub compressed: u64,
    pub uncompressed: u64,
    /// sha256 of the bytes as served.
    pub blob_digest: String,
    /// sha256 of the uncompressed tar.
    pub diff_id: String,
    /// `(path, entry)` in archive order; `None` marks a whiteout of that path.
    pub entries: Vec<(String, Option<FileEntry>)>,
    /// Contents of the small files whose exact text matters.
    pub texts: BTreeMap<String, String>,
    /// Marker hits: `where: marker`.
    pub hits: Vec<String>,
    /// The first bytes of each file.
    pub heads: BTreeMap<String, Vec<u8>>,
    /// Per file named in `Required`, the required strings its bytes contain.
    pub required_found: BTreeMap<String, Vec<String>>,
}

/// Strings a file must contain: the binary embeds its build's commit (`core::build_info`), so
/// a binary without this release's commit was built from another one.
#[derive(Debug, Clone, Default)]
pub struct Required {
    pub path: String,
    pub strings: Vec<String>,
}

/// The expected file system of a FROM-scratch image of `krate`.
pub fn expected(krate: &str) -> BTreeMap<String, FileEntry> {
    let dir = FileEntry {
        kind: Kind::Dir,
        uid: 0,
        gid: 0,
        mode: 0o755,
        size: 0,
    };
    let file = |mode| FileEntry {
        kind: Kind::File,
        uid: 0,
        gid: 0,
        mode,
        size: 0,
    };
    let mut m = BTreeMap::new();
    for d in [
        "etc",
        "etc/ssl",
        "etc/ssl/certs",
        "usr",
        "usr/local",
        "usr/local/bin",
    ] {
        m.insert(d.to_string(), dir.clone());
    }
    m.insert("etc/passwd".into(), file(0o644));
    m.insert("etc/group".into(), file(0o644));
    m.insert(
        stage::CA_BUNDLE.trim_start_matches('/').to_string(),
        file(0o644),
    );
    m.insert(format!("usr/local/bin/{krate}"), file(0o755));
    m
}

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
pub async fn scan_layer(
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

/// One image's file system after applying its layers, and what reading it showed.
#[derive(Debug, Clone, Default)]
pub struct ImageScan {
    pub files: BTreeMap<String, FileEntry>,
    pub layers: Vec<LayerScan>,
    pub texts: BTreeMap<String, String>,
    /// Marker hits and unreadable parts, as sentences.
    pub hits: Vec<String>,
    pub problems: Vec<String>,
    /// Per file, the required strings found (of the last layer that wrote it).
    pub required_found: BTreeMap<String, Vec<String>>,
}

/// Reads every platform image of `digest` (an index's attestations are metadata, which
/// `verify-public-metadata-clean` reads; here they are only scanned for markers).
pub async fn scan_image(
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

/// The differences between an image's files and the expected set, as sentences.
pub fn file_problems(krate: &str, scan: &ImageScan) -> Vec<String> {
    let want = expected(krate);
    let mut out = Vec::new();
    for (path, e) in &scan.files {
        match want.get(path) {
            None => out.push(format!(
                "stray {} `/{path}` ({}:{}, mode {:04o}, {} bytes): the Dockerfile puts no such file there",
                e.kind, e.uid, e.gid, e.mode, e.size
            )),
            Some(w) => {
                if w.kind != e.kind {
                    out.push(format!("`/{path}` is a {}, expected a {}", e.kind, w.kind));
                }
                if (e.uid, e.gid) != (w.uid, w.gid) {
                    out.push(format!(
                        "`/{path}` is owned by {}:{}, expected {}:{}",
                        e.uid, e.gid, w.uid, w.gid
                    ));
                }
                if e.mode != w.mode {
                    out.push(format!(
                        "`/{path}` has mode {:04o}, expected {:04o}",
                        e.mode, w.mode
                    ));
                }
                if e.kind == Kind::File && e.size == 0 {
                    out.push(format!("`/{path}` is empty"));
                }
            }
        }
    }
    for path in want.keys().filter(|p| !scan.files.contains_key(*p)) {
        out.push(format!("`/{path}` is missing"));
    }
    for (path, expected) in [("etc/passwd", stage::PASSWD), ("etc/group", stage::GROUP)] {
        if let Some(t) = scan.texts.get(path)
            && t != expected
        {
            out.push(format!(
                "`/{path}` is `{}`, expected `{}`",
                t.escape_debug(),
                expected.escape_debug()
            ));
        }
    }
    out
}

/// `verify-contents` for every package with a semver tag.
pub async fn outcomes(
    client: &RegistryClient,
    packages: &[PackageState],
    markers: &[String],
    commit: &str,
) -> anyhow::Result<Vec<Outcome>> {
    let id = CheckId::VerifyContents;
    let mut out = Vec::new();
    let (mut all_c, mut all_u, mut n) = (0u64, 0u64, 0usize);
    for p in packages {
        let Some(r) = &p.semver else {
            out.push(Outcome::fail(
                id,
                format!(
                    "{}: cannot read the contents of {}: its semver tag is missing",
                    p.image.package, p.repository
                ),
                vec![Evidence::note("verify-semver-tag reports the missing tag")],
            ));
            continue;
        };
        let repo = p
            .repository
            .split_once('/')
            .map(|(_, r)| r.to_string())
            .unwrap_or_else(|| p.repository.clone());
        let public = p.image.visibility == Visibility::Public;
        let reference = format!("{}@{}", p.repository, r.digest);
        let required = Required {
            path: format!("usr/local/bin/{}", p.image.krate),
            strings: vec![commit.to_string()],
        };
        let scan = match scan_image(client, &repo, &r.digest, markers, public, &required).await {
            Ok(s) => s,
            Err(e) if crate::exit::kind_of(&e) == Some(crate::exit::Kind::Policy) => {
                out.push(Outcome::fail(
                    id,
                    format!(
                        "{}: cannot trust the contents of {reference}",
                        p.image.package
                    ),
                    vec![Evidence::note(format!("{e:#}"))],
                ));
                continue;
            }
            Err(e) => return Err(e),
        };
        let (c, u): (u64, u64) = scan
            .layers
            .iter()
            .fold((0, 0), |(c, u), l| (c + l.compressed, u + l.uncompressed));
        all_c += c;
        all_u += u;
        n += 1;
        let mut ev = vec![Evidence::digest(reference.clone(), r.digest.clone())];
        for (i, l) in scan.layers.iter().enumerate() {
            ev.push(Evidence::note(format!(
                "layer {} {} ({}): {} bytes compressed, {} bytes uncompressed, {} entries",
                i + 1,
                l.digest,
                l.media_type,
                l.compressed,
                l.uncompressed,
                l.entries.len()
            )));
        }
        ev.push(Evidence::note(format!(
            "total: {} layers, {c} bytes compressed, {u} bytes uncompressed",
            scan.layers.len()
        )));
        let mut problems = scan.problems.clone();
        problems.extend(file_problems(&p.image.krate, &scan));
        if scan.files.contains_key(&required.path)
            && scan
                .required_found
                .get(&required.path)
                .is_none_or(|f| f.is_empty())
        {
            problems.push(format!(
                "`/{}` does not contain this release's commit {commit}: it was built from another commit",
                required.path
            ));
        }
        let hits = scan.hits.clone();
        if problems.is_empty() && hits.is_empty() {
            ev.push(Evidence::note(format!(
                "files: {}",
                scan.files
                    .iter()
                    .map(|(p, e)| format!("/{p} {}:{} {:04o}", e.uid, e.gid, e.mode))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
            if public {
                ev.push(Evidence::note(format!(
                    "searched file names, file contents (the binary's strings included), manifests and config for: {}",
                    markers.join(", ")
                )));
            }
            out.push(Outcome::pass(
                id,
                format!(
                    "{}@{}: exactly the {} expected entries (the binary, the CA bundle, the user database), owned 0:0 with the expected modes, the binary carrying this release's commit{}; {} layers, {c} bytes compressed",
                    p.image.package,
                    &r.digest[..r.digest.len().min(19)],
                    scan.files.len(),
                    if public {
                        ", naming no enterprise repository or commercial-only default"
                    } else {
                        ""
                    },
                    scan.layers.len()
                ),
                ev,
            ));
        } else {
            let mut what = Vec::new();
            if !hits.is_empty() {
                what.push(format!(
                    "names {}",
                    hits.iter()
                        .filter_map(|h| h.rsplit('`').nth(1))
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !problems.is_empty() {
                what.push(format!("{} unexpected file-system facts", problems.len()));
            }
            let mut fail_ev: Vec<Evidence> = hits
                .iter()
                .chain(problems.iter())
                .map(|h| Evidence::note(h.clone()))
                .collect();
            fail_ev.extend(ev);
            out.push(Outcome::fail(
                id,
                format!(
                    "{} ({reference}) {}: {}",
                    p.image.package,
                    what.join(" and "),
                    hits.iter()
                        .chain(problems.iter())
                        .next()
                        .cloned()
                        .unwrap_or_default()
                ),
                fail_ev,
            ));
        }
    }
    if let Some(last) = out.last_mut() {
        last.evidence.push(Evidence::note(format!(
            "all {n} images read: {all_c} bytes compressed, {all_u} bytes uncompressed"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
