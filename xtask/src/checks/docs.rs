//! Offline checks of customer-facing documents: digest pinning, no enterprise repository,
//! and links for plugin developers.
//!
//! The documents are the files matched by `customer.docs` and `customer.manifests` in
//! release.toml. Markdown is scanned line by line (prose and code blocks alike); YAML
//! (Kubernetes, compose, Helm-style values) is parsed so that a `repository:` key can be judged
//! together with its sibling `tag:` and `digest:` keys. Every finding names file and line.

use std::path::{Path, PathBuf};

use super::workflow::{Node, parse_yaml};
use super::{CheckId, Ctx, Evidence, Outcome};
use super::{Kind, Meta, Phase, Section, Severity};

pub(crate) const DOCS_DIGEST_PINNING: Meta = Meta {
    id: "docs-digest-pinning",
    section: Section::OperatorPreflight,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "customer-facing deployment docs reference digest pinning",
    summary: "Every reference to one of our packages in customer docs and manifests carries @sha256:<64 hex>.",
    why: "Tags move; a customer deployment pinned by tag can silently change.",
    fix: "Write `ghcr.io/ORG/PACKAGE:VERSION@sha256:<digest>`; `cargo xtask verify VERSION --delivery` prints the references.",
};

pub(crate) const DELIVERY_PLUGIN_LINKS: Meta = Meta {
    id: "delivery-plugin-links",
    section: Section::CustomerDelivery,
    phase: Phase::Delivery,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "direct plugin developers to the public SDK and catalog repositories",
    summary: "Customer docs point plugin developers to the public SDK and catalog repositories from release.toml.",
    why: "Plugin developers need the public SDK, not the enterprise source.",
    fix: "Add links to customer.sdk_repository and customer.catalog_repository in the customer docs.",
};

pub const IDS: &[CheckId] = &[
    CheckId::DocsDigestPinning,
    CheckId::DeliveryNoEnterpriseRepo,
    CheckId::DeliveryPluginLinks,
];

/// One reference to one of our packages found in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub line: u32,
    pub text: String,
    pub package: String,
    pub pinned: bool,
    /// Why docker would refuse the reference, when it would.
    pub invalid: Option<String>,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}

fn is_ref_char(c: char) -> bool {
    is_name_char(c) || matches!(c, '/' | ':' | '@')
}

/// Whether `s` contains a sha256 digest docker accepts: `sha256:` and exactly 64 lower-case
/// hex digits, not followed by more of the same (a 65-digit "digest" is not one).
pub fn has_digest(s: &str) -> bool {
    s.match_indices("sha256:").any(|(i, _)| {
        let before = s[..i].chars().next_back();
        let hex: String = s[i + 7..].chars().take(64).collect();
        let after = s[i + 7..].chars().nth(64);
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && crate::reference::validate_digest(&format!("sha256:{hex}")).is_ok()
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

/// Whether a YAML `digest:` (or `tag: X@sha256:...`) value is a digest docker accepts.
fn digest_value(v: &str) -> bool {
    let v = v.trim().trim_matches(['"', '\'']);
    let d = v.rsplit_once('@').map_or(v, |(_, d)| d);
    crate::reference::validate_digest(d).is_ok()
}

/// Whether an image reference is pinned by a digest; `Err` says why docker itself would refuse
/// the reference (parsed by the distribution reference grammar, `crate::reference`).
pub fn pin(text: &str) -> Result<bool, String> {
    let t = text.strip_prefix("docker://").unwrap_or(text);
    crate::reference::parse_normalized(t)
        .map(|r| r.digest.is_some())
        .map_err(|e| e.to_string())
}

/// Image references to `packages` in one line of text. A bare package name counts only when
/// it looks like an image (a registry path before it, a tag or digest after it, or an
/// `image:`/`repository:`/`docker pull` before it), so prose may name a package.
pub fn references_in_line(line: &str, lineno: u32, packages: &[String]) -> Vec<Reference> {
    let mut out: Vec<Reference> = Vec::new();
    for pkg in packages {
        for (i, _) in line.match_indices(pkg.as_str()) {
            let before = line[..i].chars().next_back();
            let after = line[i + pkg.len()..].chars().next();
            // Whole name only: `aisopsflow-core` must not match inside `aisopsflow-core-commercial`.
            if before.is_some_and(is_name_char)
                || after.is_some_and(|c| is_name_char(c) && c != '.')
            {
                continue;
            }
            let start = line[..i]
                .char_indices()
                .rev()
                .take_while(|(_, c)| is_ref_char(*c))
                .last()
                .map_or(i, |(j, _)| j);
            let end = line[i..]
                .char_indices()
                .find(|(_, c)| !is_ref_char(*c))
                .map_or(line.len(), |(j, _)| i + j);
            let text = line[start..end].trim_end_matches(['.', ':']).to_string();
            // `org/pkg` or `host/org/pkg`; an absolute path such as `/aisopsflow-core` (a
            // binary inside an image) is not an image reference.
            let prefix = &line[start..i];
            let prefixed = prefix.contains('/') && !prefix.starts_with('/');
            let suffixed = matches!(after, Some(':') | Some('@'))
                && line[i + pkg.len() + 1..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric());
            let lead = line[..start].trim_end().to_ascii_lowercase();
            let keyed = [
                "image:",
                "repository:",
                "docker pull",
                "podman pull",
                "from",
                "image =",
            ]
            .iter()
            .any(|k| lead.ends_with(k));
            // Links to docs pages (`docs/packages/aisopsflow-core.md`) are not images.
            if text.ends_with(".md") || text.contains("://github.com/") {
                continue;
            }
            if !(prefixed || suffixed || keyed) {
                continue;
            }
            if out.iter().any(|r| r.text == text) {
                continue;
            }
            let verdict = pin(&text);
            out.push(Reference {
                line: lineno,
                pinned: verdict == Ok(true),
                invalid: verdict.err(),
                text,
                package: pkg.clone(),
            });
        }
    }
    out
}

/// References in a YAML document: a scalar naming a package is pinned when it carries a
/// digest itself, or when it is a `repository:` value whose mapping has a `digest:
/// sha256:<64 hex>` sibling (or a `tag:` sibling carrying one).
fn references_in_yaml(root: &Node, packages: &[String]) -> Vec<Reference> {
    let mut out = Vec::new();
    visit(root, None, None, packages, &mut out);
    out
}

fn visit(
    node: &Node,
    key: Option<&str>,
    parent: Option<&Node>,
    packages: &[String],
    out: &mut Vec<Reference>,
) {
    match node {
        Node::Scalar { value, line, .. } => {
            for (n, l) in value.lines().enumerate() {
                let mut refs = references_in_line(l, line + n as u32, packages);
                // A bare value of an image-ish key is a reference even without a path or tag.
                if refs.is_empty() && matches!(key, Some("image" | "repository")) {
                    let v = l.trim();
                    if let Some(p) = packages.iter().find(|p| v == p.as_str()) {
                        refs.push(Reference {
                            line: *line,
                            text: v.to_string(),
                            package: p.clone(),
                            pinned: false,
                            invalid: None,
                        });
                    }
                }
                for mut r in refs {
                    if !r.pinned
                        && key == Some("repository")
                        && let Some(parent) = parent
                    {
                        let sib =
                            |k: &str| parent.get(k).and_then(Node::as_str).unwrap_or_default();
                        r.pinned = digest_value(sib("digest"))
                            || (sib("tag").contains('@') && digest_value(sib("tag")));
                    }
                    out.push(r);
                }
            }
        }
        Node::Seq { items, .. } => items
            .iter()
            .for_each(|n| visit(n, key, parent, packages, out)),
        Node::Map { entries, .. } => {
            for (k, _, v) in entries {
                visit(v, Some(k), Some(node), packages, out);
            }
        }
    }
}

/// Every package reference in one file. YAML that does not parse is scanned as text.
pub(crate) fn references_in_file(rel: &Path, text: &str, packages: &[String]) -> Vec<Reference> {
    let ext = rel.extension().and_then(|e| e.to_str()).unwrap_or_default();
    if matches!(ext, "yaml" | "yml")
        && let Ok(docs) = parse_yaml(text)
    {
        return docs
            .iter()
            .flat_map(|d| references_in_yaml(d, packages))
            .collect();
    }
    text.lines()
        .enumerate()
        .flat_map(|(i, l)| references_in_line(l, i as u32 + 1, packages))
        .collect()
}

/// Runs the customer-docs checks selected by `--only`.
pub fn run(ctx: &Ctx) -> Vec<Outcome> {
    if !ctx.wants_any(IDS) {
        return Vec::new();
    }
    let cfg = &ctx.ws.config;
    let root = &ctx.ws.root;
    let customer = &cfg.raw.customer;
    let globs: Vec<String> = customer
        .docs
        .iter()
        .chain(&customer.manifests)
        .cloned()
        .collect();
    // release.toml's validation has already refused a pattern GitHub would not accept.
    let files = crate::glob::workspace_files(root, &globs).unwrap_or_default();
    let packages: Vec<String> = cfg.all_images().into_iter().map(|i| i.package).collect();
    let texts: Vec<(PathBuf, String)> = files
        .iter()
        .filter_map(|f| {
            std::fs::read_to_string(root.join(f))
                .ok()
                .map(|t| (f.clone(), t))
        })
        .collect();
    let mut out = Vec::new();
    if texts.is_empty() {
        for id in IDS {
            out.push(Outcome::fail(
                *id,
                format!("no customer documents match {}", globs.join(", ")),
                vec![Evidence::file(crate::config::FILE, None)],
            ));
        }
        out.retain(|o| ctx.wants(o.id));
        return out;
    }
    if ctx.wants(CheckId::DocsDigestPinning) {
        out.extend(digest_pinning(&texts, &packages));
    }
    if ctx.wants(CheckId::DeliveryNoEnterpriseRepo) {
        // Package READMEs are customer-facing too.
        let mut all = texts.clone();
        for p in &packages {
            let path = cfg.package_readme(p);
            if let (Ok(t), Ok(rel)) = (std::fs::read_to_string(&path), path.strip_prefix(root)) {
                all.push((rel.to_path_buf(), t));
            }
        }
        out.extend(no_enterprise_repo(&all, &cfg.enterprise_markers()));
    }
    if ctx.wants(CheckId::DeliveryPluginLinks) {
        out.push(plugin_links(&texts, customer, &cfg.raw.customer.docs));
    }
    out
}

pub(crate) fn digest_pinning(texts: &[(PathBuf, String)], packages: &[String]) -> Vec<Outcome> {
    let mut out = Vec::new();
    let mut pinned = Vec::new();
    for (rel, text) in texts {
        for r in references_in_file(rel, text, packages) {
            if r.pinned {
                pinned.push(Evidence::file_excerpt(rel, Some(r.line), r.text));
            } else {
                let why = if let Some(e) = &r.invalid {
                    format!("is not an image reference docker accepts ({e})")
                } else if r.text.ends_with(":latest") {
                    "uses the moving `latest` tag".to_string()
                } else if r.text.contains(':') {
                    "is pinned by tag only".to_string()
                } else {
                    "has no tag and no digest".to_string()
                };
                out.push(Outcome::fail(
                    CheckId::DocsDigestPinning,
                    format!(
                        "`{}` {why}; write `{}:VERSION@sha256:<digest>`",
                        r.text, r.package
                    ),
                    vec![Evidence::file_excerpt(rel, Some(r.line), r.text.clone())],
                ));
            }
        }
    }
    if out.is_empty() {
        let n = pinned.len();
        out.push(Outcome::pass(
            CheckId::DocsDigestPinning,
            format!(
                "{n} image reference(s) in {} customer document(s), all pinned by digest",
                texts.len()
            ),
            if pinned.is_empty() {
                vec![Evidence::note("no image references found")]
            } else {
                pinned
            },
        ));
    }
    out
}

/// `line` with the encodings a URL or a document can carry a name in undone: percent-encoding
/// (repeatedly, so `%252F` is `/` too), HTML character references (`&#47;`, `&#x2F;`,
/// `&sol;`, ...) and JSON/JavaScript escapes (`\/`, `\u002F`, `\x2f`); then lower-cased,
/// because GitHub compares owner and repository names without regard to case.
pub(crate) fn decoded_lower(line: &str) -> String {
    let mut s = line.to_string();
    for _ in 0..4 {
        let next = unescape_js(&unescape_html(&percent_decode(&s)));
        if next == s {
            break;
        }
        s = next;
    }
    s.to_lowercase()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex_val(b[i + 1]), b.get(i + 2).and_then(|c| hex_val(*c)))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn unescape_html(s: &str) -> String {
    const NAMED: &[(&str, char)] = &[
        ("&sol;", '/'),
        ("&colon;", ':'),
        ("&period;", '.'),
        ("&hyphen;", '-'),
        ("&dash;", '-'),
        ("&lowbar;", '_'),
        ("&commat;", '@'),
        ("&amp;", '&'),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let lower = tail
            .get(..tail.len().min(12))
            .unwrap_or(tail)
            .to_ascii_lowercase();
        if let Some((name, c)) = NAMED.iter().find(|(n, _)| lower.starts_with(n)) {
            out.push(*c);
            rest = &tail[name.len()..];
            continue;
        }
        if let Some(num) = tail.strip_prefix("&#") {
            let (radix, digits) = match num.strip_prefix(['x', 'X']) {
                Some(h) => (16, h),
                None => (10, num),
            };
            let len = digits.chars().take_while(|c| c.is_digit(radix)).count();
            if len > 0
                && digits[len..].starts_with(';')
                && let Some(c) = u32::from_str_radix(&digits[..len], radix)
                    .ok()
                    .and_then(char::from_u32)
            {
                out.push(c);
                rest = &digits[len + 1..];
                continue;
            }
        }
        out.push('&');
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

fn unescape_js(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        let code = |n: usize, from: &str| {
            from.get(..n)
                .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
        };
        if let Some(c) = tail.strip_prefix(['u', 'U']).and_then(|h| code(4, h)) {
            out.push(c);
            rest = &tail[5..];
        } else if let Some(c) = tail.strip_prefix(['x', 'X']).and_then(|h| code(2, h)) {
            out.push(c);
            rest = &tail[3..];
        } else if let Some(c) = tail
            .chars()
            .next()
            .filter(|c| matches!(c, '/' | ':' | '.' | '-'))
        {
            out.push(c);
            rest = &tail[1..];
        } else {
            out.push('\\');
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// Whether `line` names the GitHub repository `owner/name`, the way GitHub resolves it: in any
/// letter case, in any of the encodings [`decoded_lower`] undoes, as a bare `owner/name` or
/// inside any URL form (`https://github.com/...`, `git@github.com:...`, `ssh://...`,
/// `api.github.com/repos/...`), with or without a `.git` (or `.wiki`) suffix. A longer name
/// (`owner/name-docs`, `other-owner/name`) is another repository.
pub(crate) fn names_repository(line: &str, repo: &str) -> bool {
    let hay = decoded_lower(line);
    let needle = repo.to_lowercase();
    let owner_char = |c: char| c.is_ascii_alphanumeric() || c == '-';
    let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_');
    hay.match_indices(&needle).any(|(i, _)| {
        if hay[..i].chars().next_back().is_some_and(owner_char) {
            return false;
        }
        let mut after = &hay[i + needle.len()..];
        // `.git` and `.wiki` (the repository's wiki) name the same repository.
        while let Some(r) = [".git", ".wiki"].iter().find_map(|s| after.strip_prefix(s)) {
            after = r;
        }
        match after.chars().next() {
            None => true,
            Some(c) if name_char(c) => false,
            // `.` ends a sentence; `.x` continues another repository's name.
            Some('.') => !after[1..]
                .chars()
                .next()
                .is_some_and(|c| name_char(c) || c == '.'),
            Some(_) => true,
        }
    })
}

pub(crate) fn no_enterprise_repo(texts: &[(PathBuf, String)], markers: &[String]) -> Vec<Outcome> {
    let mut out = Vec::new();
    // `github.com/owner/name` and `owner/name` markers are matched as repository names;
    // anything else as case-insensitive text after decoding.
    let matches = |line: &str, m: &str| {
        let bare = m.strip_prefix("github.com/").unwrap_or(m);
        if bare.matches('/').count() == 1 {
            names_repository(line, bare)
        } else {
            decoded_lower(line).contains(&m.to_lowercase())
        }
    };
    for (rel, text) in texts {
        for (i, line) in text.lines().enumerate() {
            if let Some(m) = markers.iter().find(|m| matches(line, m)) {
                out.push(Outcome::fail(
                    CheckId::DeliveryNoEnterpriseRepo,
                    format!("customer-facing document names the enterprise repository (`{m}`)"),
                    vec![Evidence::file_excerpt(rel, Some(i as u32 + 1), line.trim())],
                ));
            }
        }
    }
    if out.is_empty() {
        out.push(Outcome::pass(
            CheckId::DeliveryNoEnterpriseRepo,
            format!(
                "{} customer-facing document(s) never name the enterprise repository",
                texts.len()
            ),
            texts.iter().map(|(p, _)| Evidence::file(p, None)).collect(),
        ));
    }
    out
}

fn plugin_links(
    texts: &[(PathBuf, String)],
    customer: &crate::config::Customer,
    docs_globs: &[String],
) -> Outcome {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for url in [&customer.sdk_repository, &customer.catalog_repository] {
        let hit = texts.iter().find_map(|(p, t)| {
            t.lines()
                .position(|l| l.contains(url.as_str()))
                .map(|i| Evidence::file_excerpt(p, Some(i as u32 + 1), url.clone()))
        });
        match hit {
            Some(e) => found.push(e),
            None => missing.push(url.clone()),
        }
    }
    if missing.is_empty() {
        Outcome::pass(
            CheckId::DeliveryPluginLinks,
            "customer docs link the public SDK and catalog repositories",
            found,
        )
    } else {
        Outcome::fail(
            CheckId::DeliveryPluginLinks,
            format!(
                "no customer document ({}) links {}",
                docs_globs.join(", "),
                missing.join(" or ")
            ),
            vec![Evidence::file(crate::config::FILE, None)],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk() -> Vec<String> {
        crate::config::CHECKLIST_ALLOWLIST
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn markdown_references() {
        let refs = references_in_line(
            "docker pull ghcr.io/aisopsflow/aisopsflow-core:1.2.3",
            1,
            &pk(),
        );
        assert_eq!(refs.len(), 1);
        assert!(!refs[0].pinned);
        let ok = format!("image: ghcr.io/aisopsflow/aisopsflow-core-commercial:1.0.0@{D}");
        let refs = references_in_line(&ok, 1, &pk());
        assert_eq!(refs.len(), 1, "{refs:?}");
        assert!(refs[0].pinned);
        assert_eq!(refs[0].package, "aisopsflow-core-commercial");
        assert_eq!(
            references_in_line("`aisopsflow-core:latest`", 1, &pk()).len(),
            1
        );
        assert!(
            references_in_line("the aisopsflow-core package serves /healthz", 1, &pk()).is_empty()
        );
        assert_eq!(
            references_in_line("image: aisopsflow-runner", 1, &pk()).len(),
            1
        );
        assert!(
            references_in_line(
                "test: [\"CMD\", \"/aisopsflow-core\", \"healthcheck\"]",
                1,
                &pk()
            )
            .is_empty()
        );
    }

    #[test]
    fn no_tag_latest_and_manifests_fail() {
        let r = references_in_line(
            "see ghcr.io/aisopsflow/aisopsflow-runner for the runner",
            1,
            &pk(),
        );
        assert_eq!(r.len(), 1);
        assert!(!r[0].pinned);
        let k8s = "spec:\n  containers:\n    - name: core\n      image: ghcr.io/aisopsflow/aisopsflow-core:latest\n";
        let r = references_in_file(Path::new("k.yaml"), k8s, &pk());
        assert_eq!((r.len(), r[0].line, r[0].pinned), (1, 4, false));
        let compose = format!(
            "services:\n  core:\n    image: \"aisopsflow/aisopsflow-core:1.0.0@{D}\"\n  runner:\n    image: aisopsflow-runner:1.0.0\n"
        );
        let r = references_in_file(Path::new("compose.yaml"), &compose, &pk());
        assert_eq!(r.len(), 2);
        assert!(r[0].pinned);
        assert_eq!((r[1].line, r[1].pinned), (5, false));
        // A digest that is not 64 hex digits is not a pin.
        assert!(!has_digest("aisopsflow-core@sha256:<digest>"));
    }

    #[test]
    fn pins_docker_would_refuse_are_not_pins() {
        let hex = &D[7..];
        for bad in [
            format!(
                "ghcr.io/aisopsflow/aisopsflow-core:1.0.0@sha256:{}",
                hex.to_uppercase()
            ),
            format!(
                "ghcr.io/aisopsflow/aisopsflow-core:1.0.0@sha256:{}",
                &hex[..63]
            ),
            format!("ghcr.io/aisopsflow/aisopsflow-core:1.0.0@sha256:{hex}0"),
            format!("ghcr.io/AisOpsFlow/aisopsflow-core:1.0.0@{D}"),
            format!("ghcr.io/aisopsflow/aisopsflow-core:-1.0@{D}"),
            format!("ghcr.io/aisopsflow/aisopsflow-core@sha512:{hex}{hex}"),
            format!("ghcr.io/aisopsflow//aisopsflow-core@{D}"),
            format!("ghcr.io/aisopsflow/aisopsflow-core@@{D}"),
        ] {
            let r = references_in_line(&format!("image: {bad}"), 1, &pk());
            assert_eq!(r.len(), 1, "{bad}: {r:?}");
            assert!(!r[0].pinned, "{bad}");
        }
        let r = references_in_line(
            &format!(
                "image: ghcr.io/aisopsflow/aisopsflow-core:1.0.0@sha256:{}",
                hex.to_uppercase()
            ),
            1,
            &pk(),
        );
        assert!(r[0].invalid.as_deref().unwrap().contains("digest"), "{r:?}");
        for good in [
            format!("ghcr.io/aisopsflow/aisopsflow-core:1.0.0@{D}"),
            format!("ghcr.io/aisopsflow/aisopsflow-core@{D}"),
            format!("localhost:5000/aisopsflow/aisopsflow-core@{D}"),
            format!("docker://ghcr.io/aisopsflow/aisopsflow-core@{D}"),
        ] {
            let r = references_in_line(&format!("pull {good}"), 1, &pk());
            assert!(r.len() == 1 && r[0].pinned, "{good}: {r:?}");
        }
        // Helm-style siblings are held to the same digest rule.
        let bad = format!(
            "image:\n  repository: ghcr.io/aisopsflow/aisopsflow-core\n  digest: sha256:{}\n",
            hex.to_uppercase()
        );
        assert!(!references_in_file(Path::new("v.yaml"), &bad, &pk())[0].pinned);
        assert!(!has_digest(&format!("x@sha256:{hex}f")));
    }

    #[test]
    fn enterprise_repository_in_every_spelling() {
        let repo = "aisopsflow/aisopsflow-enterprise";
        for yes in [
            "see aisopsflow/aisopsflow-enterprise for details",
            "https://github.com/aisopsflow/aisopsflow-enterprise",
            "https://GitHub.com/AisOpsFlow/AisOpsFlow-Enterprise.git",
            "git clone git@github.com:aisopsflow/aisopsflow-enterprise.git",
            "ssh://git@github.com/aisopsflow/aisopsflow-enterprise",
            "https://api.github.com/repos/aisopsflow/aisopsflow-enterprise/releases",
            "https://github.com/aisopsflow/aisopsflow-enterprise/tree/main/docs",
            "https://github.com/aisopsflow/aisopsflow-enterprise.wiki.git",
            "?repo=aisopsflow%2Faisopsflow-enterprise",
            "?repo=aisopsflow%2faisopsflow-enterprise",
            "?repo=aisopsflow%252Faisopsflow-enterprise",
            "%61isopsflow/aisopsflow%2Denterprise",
            "aisopsflow&#47;aisopsflow-enterprise",
            "aisopsflow&#x2F;aisopsflow-enterprise",
            "aisopsflow&sol;aisopsflow-enterprise",
            r#"{"url": "https:\/\/github.com\/aisopsflow\/aisopsflow-enterprise"}"#,
            r"aisopsflow\u002Faisopsflow-enterprise",
            "It lives in aisopsflow/aisopsflow-enterprise.",
            "(aisopsflow/AISOPSFLOW-ENTERPRISE)",
        ] {
            assert!(names_repository(yes, repo), "{yes}");
        }
        for no in [
            "aisopsflow/aisopsflow-enterprise-docs",
            "aisopsflow/aisopsflow-enterprise_x",
            "aisopsflow/aisopsflow-enterprise.io",
            "notaisopsflow/aisopsflow-enterprise",
            "https://github.com/aisopsflow/aisopsflow-sdk",
            "aisopsflow / aisopsflow enterprise",
            "100%2 of aisopsflow",
        ] {
            assert!(!names_repository(no, repo), "{no}");
        }
    }

    #[test]
    fn helm_values_need_a_digest_sibling() {
        let bad = "image:\n  repository: ghcr.io/aisopsflow/aisopsflow-core\n  tag: 1.2.3\n";
        let r = references_in_file(Path::new("v.yaml"), bad, &pk());
        assert_eq!(r.len(), 1);
        assert!(!r[0].pinned);
        assert_eq!(r[0].line, 2);
        let good = format!(
            "image:\n  repository: ghcr.io/aisopsflow/aisopsflow-core\n  tag: 1.2.3\n  digest: {D}\n"
        );
        let r = references_in_file(Path::new("v.yaml"), &good, &pk());
        assert!(r[0].pinned);
    }
}
