//! `--record-github DIR`: every answer GitHub gives, written to files with secrets redacted.

use super::*;

/// Where every client records what GitHub answers, when `--record-github DIR` is given.
pub(super) static RECORD_ALL: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Makes every client created from now on record GitHub's answers into `dir` (see
/// `Recorder`). Set once, by `cargo xtask preflight --record-github DIR`.
pub(crate) fn record_all_to(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        exit::usage(format!(
            "--record-github {}: cannot create the directory: {e}",
            dir.display()
        ))
    })?;
    let _ = RECORD_ALL.set(dir.to_path_buf());
    Ok(())
}

/// Saves each answer (status, a few headers, the body) as one JSON file, redacted: no request
/// headers at all (so no `Authorization`), only an allowlist of response headers, every
/// registered secret and anything shaped like a GitHub token replaced, and values under keys
/// that name secrets (`temp_clone_token`, `token`, `password`, ...) blanked. The files are
/// what a real run saw, for replay against the stand-in's tests.
#[derive(Debug)]
pub(crate) struct Recorder {
    dir: std::path::PathBuf,
    seq: std::sync::atomic::AtomicU64,
}

/// Response headers worth keeping: none of them carries a credential.
const RECORDED_HEADERS: [&str; 15] = [
    "content-type",
    "date",
    "etag",
    "link",
    "location",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-used",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
    "x-github-api-version-selected",
    "x-oauth-scopes",
    "x-accepted-oauth-scopes",
    "x-accepted-github-permissions",
];

impl Recorder {
    pub fn new(dir: impl Into<std::path::PathBuf>) -> anyhow::Result<Recorder> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|e| exit::usage(format!("cannot create {}: {e}", dir.display())))?;
        // Continue numbering after what is there, so two clients never overwrite each other.
        let start = std::fs::read_dir(&dir)
            .map(|d| d.count() as u64)
            .unwrap_or(0);
        Ok(Recorder {
            dir,
            seq: std::sync::atomic::AtomicU64::new(start),
        })
    }

    pub(super) fn record(
        &self,
        method: &Method,
        path: &str,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
    ) {
        let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let mut h = serde_json::Map::new();
        for k in RECORDED_HEADERS {
            if let Some(v) = header(headers, k) {
                h.insert(k.to_string(), serde_json::Value::String(redact_text(&v)));
            }
        }
        let body = if body.is_empty() {
            serde_json::Value::Null
        } else {
            match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(v) => redact_value(v),
                Err(_) => serde_json::Value::String(redact_text(&String::from_utf8_lossy(body))),
            }
        };
        let doc = serde_json::json!({
            "method": method.as_str(),
            "path": redact_text(path),
            "status": status,
            "headers": h,
            "body": body,
        });
        let slug: String = path
            .split('?')
            .next()
            .unwrap_or("")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(80)
            .collect();
        let file = self.dir.join(format!("{n:04}-{method}{slug}.json"));
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
        // Recording must never break the run it records.
        let _ = crate::fsx::write_atomic(&file, text.as_bytes());
    }
}

/// Keys whose values are credentials wherever they appear.
fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    k.contains("token") || k.contains("secret") || k.contains("password") || k == "key"
}

fn redact_value(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(redact_text(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(redact_value).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| {
                    let v = if secret_key(&k) && (v.is_string() || v.is_number()) {
                        Value::String("[REDACTED]".into())
                    } else {
                        redact_value(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

/// Registered secrets, and anything shaped like a GitHub token (`ghp_`, `gho_`, `ghu_`,
/// `ghs_`, `ghr_`, `github_pat_` prefixes), become `[REDACTED]`.
pub fn redact_text(s: &str) -> String {
    let s = crate::secrets::redact_all(s);
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    'outer: while !rest.is_empty() {
        for prefix in ["github_pat_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
            if rest.starts_with(prefix) {
                let at_word_start = out
                    .chars()
                    .last()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
                let tail = rest[prefix.len()..]
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    .count();
                if at_word_start && tail >= 8 {
                    out.push_str("[REDACTED]");
                    rest = &rest[prefix.len() + tail..];
                    continue 'outer;
                }
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}
