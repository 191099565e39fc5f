//! `release.toml`: loading, validation and the typed view every command reads.
//!
//! This is the one source of truth for packages, components, editions and tag rules. Loading
//! rejects unknown keys and validates every rule, and each error names the file, the key and
//! the fix. Nothing here touches the network or the repository beyond reading the file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::exit::usage;

/// The file name, relative to the workspace root.
pub const FILE: &str = "release.toml";

/// Environment variables that override configuration, so tests and rehearsals can point the
/// product at local stand-ins without the product knowing.
pub(crate) const ENV_GITHUB_API: &str = "GITHUB_API_URL";
pub(crate) const ENV_REGISTRY: &str = "AISOPSFLOW_REGISTRY";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub registry: Registry,
    pub repository: Repository,
    pub api: Api,
    pub components: BTreeMap<String, Component>,
    pub editions: BTreeMap<String, Edition>,
    pub tags: TagRules,
    pub packages: Packages,
    pub customer: Customer,
    pub notes: Notes,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    pub host: String,
    pub org: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    /// `owner/name` of the enterprise repository.
    pub name: String,
    pub default_branch: String,
    pub remote: String,
    pub publish_workflow: String,
    pub release_operators: Vec<String>,
    pub release_administrators: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    pub github: String,
    pub github_api_version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentScope {
    /// Released every time.
    Always,
    /// Released only when the release names it.
    WhenInScope,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    #[serde(rename = "crate")]
    pub krate: String,
    pub dir: String,
    pub scope: ComponentScope,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    Private,
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edition {
    /// Package name pattern with `{component}`.
    pub package: String,
    pub visibility: Visibility,
    pub features: Vec<String>,
    #[serde(default)]
    pub commercial_only_defaults: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagRules {
    pub release: String,
    pub release_latest: String,
    pub image_tags: Vec<String>,
    pub latest: String,
    pub dispatch_input: String,
    pub prerelease_moves_latest: bool,
}

impl TagRules {
    /// The checklist's rules (what release.toml ships): `v{semver}`, `release-v{semver}`,
    /// image tags `{semver}` and `sha-{sha7}`, `latest` moved by `publish_latest`. For tests
    /// and fuzz targets that need rules without a file.
    pub fn checklist() -> TagRules {
        TagRules {
            release: "v{semver}".into(),
            release_latest: "release-v{semver}".into(),
            image_tags: vec!["{semver}".into(), "sha-{sha7}".into()],
            latest: "latest".into(),
            dispatch_input: "publish_latest".into(),
            prerelease_moves_latest: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Packages {
    pub allowed: Vec<String>,
    #[serde(default)]
    pub exceptions: Vec<PackageException>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageException {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub sdk_repository: String,
    pub catalog_repository: String,
    pub docs: Vec<String>,
    pub manifests: Vec<String>,
    pub package_readmes: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notes {
    pub dir: String,
}

/// The six packages the checklist allows. A package outside this list is an error unless
/// `release.toml` names it under `[[packages.exceptions]]` with a reason.
pub(crate) const CHECKLIST_ALLOWLIST: [&str; 6] = [
    "aisopsflow-core",
    "aisopsflow-runner",
    "aisopsflow-console",
    "aisopsflow-core-commercial",
    "aisopsflow-runner-commercial",
    "aisopsflow-console-commercial",
];

/// One image: a component in one edition, published as one package.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ImageSpec {
    pub component: String,
    pub edition: String,
    pub package: String,
    pub krate: String,
    pub dir: String,
    pub visibility: Visibility,
    pub features: Vec<String>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub raw: RawConfig,
    /// Where the file was read from, for error messages and evidence.
    pub path: PathBuf,
    /// The workspace root the file belongs to.
    pub root: PathBuf,
}

impl Config {
    /// `[notes] dir` holds the release's own output, which never makes the tree dirty; so it
    /// must not cover, or sit inside, anything the release checks: customer docs and
    /// manifests, package READMEs, component sources, workflows, the xtask sources.
    fn validate_notes_dir(&self) -> anyhow::Result<()> {
        let r = &self.raw;
        let dir = r.notes.dir.trim_end_matches('/');
        let norm: Vec<&str> = dir
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        if norm.is_empty() || dir.starts_with('/') || norm.contains(&"..") {
            return Err(self.err(
                "notes.dir",
                format!(
                    "`{}` is not a directory inside the workspace below its root",
                    r.notes.dir
                ),
                "use a dedicated directory such as \"docs/releases\"",
            ));
        }
        let mut guarded: Vec<(String, String)> = Vec::new();
        for (name, c) in &r.components {
            guarded.push((c.dir.clone(), format!("the sources of component {name}")));
        }
        for g in r.customer.docs.iter().chain(&r.customer.manifests) {
            guarded.push((static_prefix(g), format!("customer files (`{g}`)")));
        }
        guarded.push((
            static_prefix(&r.customer.package_readmes),
            "the package READMEs".into(),
        ));
        guarded.push((".github".into(), "the workflows".into()));
        guarded.push(("xtask".into(), "the release tooling".into()));
        let inside = |a: &[&str], b: &[&str]| b.len() >= a.len() && b[..a.len()] == *a;
        for (path, what) in guarded {
            let p: Vec<&str> = path
                .split('/')
                .filter(|c| !c.is_empty() && *c != ".")
                .collect();
            if p.is_empty() || inside(&norm, &p) || inside(&p, &norm) {
                return Err(self.err(
                    "notes.dir",
                    format!(
                        "`{}` overlaps {what} (`{}`): changes there would be taken for release notes and hidden from the dirty-tree check",
                        r.notes.dir,
                        if path.is_empty() { "." } else { &path }
                    ),
                    "use a dedicated directory such as \"docs/releases\"",
                ));
            }
        }
        Ok(())
    }

    /// Reads and validates `release.toml` under `root`.
    pub fn load(root: &Path) -> anyhow::Result<Config> {
        let path = root.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            usage(format!(
                "cannot read {}: {e}; run from the aisopsflow-enterprise workspace or pass --repo DIR",
                path.display()
            ))
        })?;
        Config::parse(&text, &path, root)
    }

    /// Parses and validates configuration text. `path` is used only in messages.
    pub fn parse(text: &str, path: &Path, root: &Path) -> anyhow::Result<Config> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            // toml's message names the key and shows the offending line; we add the fix.
            usage(format!(
                "{}: {}\nfix: correct the key above; the keys and their meaning are documented in release.toml and docs/runbook.md",
                path.display(),
                e.to_string().trim_end()
            ))
        })?;
        let config = Config {
            raw,
            path: path.to_path_buf(),
            root: root.to_path_buf(),
        };
        config.validate()?;
        Ok(config)
    }

    fn err(&self, key: &str, problem: impl fmt::Display, fix: impl fmt::Display) -> anyhow::Error {
        usage(format!(
            "{}: key `{key}`: {problem}\nfix: {fix}",
            self.path.display()
        ))
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.validate_registry_and_repository()?;
        self.validate_components_and_editions()?;
        self.validate_packages()?;
        self.validate_tags()?;
        self.validate_customer()?;
        // Last, once the customer globs are known to be valid.
        self.validate_notes_dir()?;
        Ok(())
    }

    /// The registry, the repository and the API base.
    fn validate_registry_and_repository(&self) -> anyhow::Result<()> {
        let r = &self.raw;
        if r.registry.host.trim().is_empty() || r.registry.host.contains('/') {
            return Err(self.err(
                "registry.host",
                format!("`{}` is not a registry host", r.registry.host),
                "set it to a host such as \"ghcr.io\"",
            ));
        }
        if !is_lower_name(&r.registry.org) {
            return Err(self.err(
                "registry.org",
                format!("`{}` is not a lower-case organisation name", r.registry.org),
                "use the GitHub organisation that owns the packages, in lower case",
            ));
        }
        let parts: Vec<&str> = r.repository.name.split('/').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
            return Err(self.err(
                "repository.name",
                format!("`{}` is not `owner/name`", r.repository.name),
                "set it to the enterprise repository, e.g. \"aisopsflow/aisopsflow-enterprise\"",
            ));
        }
        if r.repository.default_branch.is_empty() {
            return Err(self.err(
                "repository.default_branch",
                "is empty",
                "set it to the default branch, e.g. \"main\"",
            ));
        }
        if !r
            .repository
            .publish_workflow
            .starts_with(".github/workflows/")
        {
            return Err(self.err(
                "repository.publish_workflow",
                format!(
                    "`{}` is not under .github/workflows/",
                    r.repository.publish_workflow
                ),
                "set it to \".github/workflows/publish-images.yml\"",
            ));
        }
        if r.repository.release_operators.is_empty() {
            return Err(self.err("repository.release_operators", "is empty", "name the team or role that may create release tags, e.g. [\"Team:release-operators\"]"));
        }
        for actor in r
            .repository
            .release_operators
            .iter()
            .chain(&r.repository.release_administrators)
        {
            parse_actor(actor).map_err(|e| self.err("repository.release_operators", e, "use `Team:<slug>`, `RepositoryRole:<name|id>`, `OrganizationAdmin`, `User:<login>` or `Integration:<id>`"))?;
        }
        if !(r.api.github.starts_with("https://") || r.api.github.starts_with("http://")) {
            return Err(self.err(
                "api.github",
                format!("`{}` is not an http(s) URL", r.api.github),
                "set it to \"https://api.github.com\" (GITHUB_API_URL overrides it)",
            ));
        }
        Ok(())
    }

    /// Components and editions: the commercial edition is never public, and one edition at most is.
    fn validate_components_and_editions(&self) -> anyhow::Result<()> {
        let r = &self.raw;
        if r.components.is_empty() {
            return Err(self.err(
                "components",
                "no components",
                "declare [components.core] and [components.runner]",
            ));
        }
        for (name, c) in &r.components {
            if !is_lower_name(name) {
                return Err(self.err(
                    &format!("components.{name}"),
                    "component names must be lower-case letters, digits and dashes",
                    "rename the table",
                ));
            }
            if c.dir.is_empty() || c.dir.contains("..") || c.dir.starts_with('/') {
                return Err(self.err(
                    &format!("components.{name}.dir"),
                    format!("`{}` is not a directory inside the workspace", c.dir),
                    "use a relative path such as \"core\"",
                ));
            }
        }
        if r.editions.is_empty() {
            return Err(self.err(
                "editions",
                "no editions",
                "declare [editions.public] and [editions.commercial]",
            ));
        }
        for (name, e) in &r.editions {
            if !e.package.contains("{component}") {
                return Err(self.err(
                    &format!("editions.{name}.package"),
                    format!("`{}` has no `{{component}}` placeholder", e.package),
                    "use a pattern such as \"aisopsflow-{component}\"",
                ));
            }
        }
        // The commercial edition can never be public: its images carry commercial-only
        // defaults and features customers pay for.
        for (name, e) in &r.editions {
            if e.visibility == Visibility::Public && is_commercial(name, e) {
                return Err(self.err(
                    &format!("editions.{name}.visibility"),
                    format!(
                        "the commercial edition `{name}` is marked public (it {}); commercial images must never be public",
                        commercial_reason(name, e)
                    ),
                    format!("set editions.{name}.visibility = \"private\""),
                ));
            }
        }
        let publics = r
            .editions
            .values()
            .filter(|e| e.visibility == Visibility::Public)
            .count();
        if publics > 1 {
            return Err(self.err(
                "editions",
                "more than one public edition",
                "keep exactly one public edition",
            ));
        }
        Ok(())
    }

    /// Package names: unique, disjoint between editions, and inside the allowlist.
    fn validate_packages(&self) -> anyhow::Result<()> {
        let r = &self.raw;
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for img in self.all_images() {
            if let Some(prev) = seen.insert(
                img.package.clone(),
                format!("{}/{}", img.component, img.edition),
            ) {
                return Err(self.err(
                    &format!("editions.{}.package", img.edition),
                    format!("package `{}` is produced by both {prev} and {}/{}: public and commercial names must stay separate", img.package, img.component, img.edition),
                    "give each edition a distinct package pattern, e.g. \"aisopsflow-{component}-commercial\"",
                ));
            }
            if !is_lower_name(&img.package) {
                return Err(self.err(
                    &format!("editions.{}.package", img.edition),
                    format!("`{}` is not a valid package name", img.package),
                    "use lower-case letters, digits and dashes",
                ));
            }
            let allowed = r.packages.allowed.contains(&img.package)
                || r.packages.exceptions.iter().any(|x| x.name == img.package);
            if !allowed {
                return Err(self.err(
                    "packages.allowed",
                    format!("package `{}` ({}/{}) is not in the allowlist", img.package, img.component, img.edition),
                    "fix the edition pattern, or add a [[packages.exceptions]] entry with name and reason",
                ));
            }
        }
        for name in &r.packages.allowed {
            if !CHECKLIST_ALLOWLIST.contains(&name.as_str())
                && !r.packages.exceptions.iter().any(|x| &x.name == name)
            {
                return Err(self.err(
                    "packages.allowed",
                    format!("`{name}` is not one of the checklist's six packages"),
                    "remove it, or add a [[packages.exceptions]] entry with name and reason",
                ));
            }
        }
        for x in &r.packages.exceptions {
            if x.reason.trim().len() < 10 {
                return Err(self.err(
                    "packages.exceptions",
                    format!("exception `{}` has no real reason", x.name),
                    "explain in `reason` why this package exists outside the allowlist",
                ));
            }
        }
        Ok(())
    }

    /// Tag rules.
    fn validate_tags(&self) -> anyhow::Result<()> {
        let r = &self.raw;
        let t = &r.tags;
        for (key, pat) in [
            ("tags.release", &t.release),
            ("tags.release_latest", &t.release_latest),
        ] {
            if !pat.contains("{semver}") {
                return Err(self.err(
                    key,
                    format!("`{pat}` has no `{{semver}}` placeholder"),
                    "use e.g. \"v{semver}\"",
                ));
            }
        }
        if t.release == t.release_latest {
            return Err(self.err(
                "tags.release_latest",
                "is the same pattern as tags.release",
                "use e.g. \"release-v{semver}\"",
            ));
        }
        if t.image_tags.is_empty() {
            return Err(self.err(
                "tags.image_tags",
                "is empty",
                "use [\"{semver}\", \"sha-{sha7}\"]",
            ));
        }
        for tag in &t.image_tags {
            let probe = tag
                .replace("{semver}", "1.2.3")
                .replace("{sha7}", "abcdef0");
            if probe.contains('{') || !is_oci_tag(&probe) {
                return Err(self.err(
                    "tags.image_tags",
                    format!("`{tag}` does not expand to a valid image tag"),
                    "use only {semver} and {sha7} and the characters [A-Za-z0-9_.-]",
                ));
            }
        }
        if !is_oci_tag(&t.latest) {
            return Err(self.err(
                "tags.latest",
                format!("`{}` is not a valid image tag", t.latest),
                "use \"latest\"",
            ));
        }
        if t.dispatch_input.is_empty() {
            return Err(self.err("tags.dispatch_input", "is empty", "use \"publish_latest\""));
        }
        for (key, url) in [
            ("customer.sdk_repository", &r.customer.sdk_repository),
            (
                "customer.catalog_repository",
                &r.customer.catalog_repository,
            ),
        ] {
            if !url.starts_with("https://") {
                return Err(self.err(
                    key,
                    format!("`{url}` is not an https URL"),
                    "give the public repository URL",
                ));
            }
            if url.contains(&r.repository.name) {
                return Err(self.err(key, "points at the enterprise repository", "customers must get the public SDK and catalog repositories, never the enterprise one"));
            }
        }
        Ok(())
    }

    /// The customer docs, manifests and package README globs.
    fn validate_customer(&self) -> anyhow::Result<()> {
        let r = &self.raw;
        let docs = r.customer.docs.iter().map(|g| ("customer.docs", g));
        let manifests = r
            .customer
            .manifests
            .iter()
            .map(|g| ("customer.manifests", g));
        for (key, g) in docs.chain(manifests) {
            crate::glob::Pattern::new(g).map_err(|e| {
                self.err(
                    key,
                    format!("bad glob: {e}"),
                    "use a glob such as \"docs/customer/**/*.md\"",
                )
            })?;
        }
        if !r.customer.package_readmes.contains("{package}") {
            return Err(self.err(
                "customer.package_readmes",
                "has no `{package}` placeholder",
                "use \"docs/packages/{package}.md\"",
            ));
        }
        Ok(())
    }

    /// The registry host, honouring `AISOPSFLOW_REGISTRY`.
    pub(crate) fn registry_host(&self) -> String {
        std::env::var(ENV_REGISTRY)
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| self.raw.registry.host.clone())
    }

    /// The GitHub API base URL, honouring `GITHUB_API_URL`, without a trailing slash.
    pub fn github_api(&self) -> String {
        let base = std::env::var(ENV_GITHUB_API)
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| self.raw.api.github.clone());
        base.trim_end_matches('/').to_string()
    }

    pub fn org(&self) -> &str {
        &self.raw.registry.org
    }

    /// `owner` and `name` of the enterprise repository.
    pub fn repo_owner_name(&self) -> (&str, &str) {
        self.raw.repository.name.split_once('/').expect("validated")
    }

    /// URLs and names that identify the enterprise repository; none may appear in public
    /// artefacts or customer documents.
    pub fn enterprise_markers(&self) -> Vec<String> {
        let name = &self.raw.repository.name;
        vec![format!("github.com/{name}"), name.clone()]
    }

    /// Commercial-only defaults from every edition.
    pub fn commercial_only_defaults(&self) -> Vec<String> {
        self.raw
            .editions
            .values()
            .flat_map(|e| e.commercial_only_defaults.iter().cloned())
            .collect()
    }

    /// Resolves `--components`: the always-released components plus those named.
    /// An unknown name is a usage error that lists the known ones.
    pub fn scope(&self, requested: &[String]) -> anyhow::Result<Vec<String>> {
        for name in requested {
            if !self.raw.components.contains_key(name) {
                let known: Vec<&str> = self.raw.components.keys().map(String::as_str).collect();
                return Err(usage(format!(
                    "unknown component `{name}` in --components; known components: {}",
                    known.join(", ")
                )));
            }
        }
        let mut out: Vec<String> = self
            .raw
            .components
            .iter()
            .filter(|(name, c)| c.scope == ComponentScope::Always || requested.contains(name))
            .map(|(name, _)| name.clone())
            .collect();
        // A stable, human order: the order of release.toml would be nicer, but BTreeMap sorts;
        // core first keeps plans readable.
        out.sort_by_key(|n| (n != "core", n != "runner", n.clone()));
        Ok(out)
    }

    /// Every image the configuration can produce (all components, all editions).
    pub fn all_images(&self) -> Vec<ImageSpec> {
        let names: Vec<String> = self.raw.components.keys().cloned().collect();
        self.images_for(&names)
    }

    /// The images of the given components, in both editions, public first.
    pub fn images_for(&self, components: &[String]) -> Vec<ImageSpec> {
        let mut out = Vec::new();
        for name in components {
            let Some(c) = self.raw.components.get(name) else {
                continue;
            };
            let mut editions: Vec<(&String, &Edition)> = self.raw.editions.iter().collect();
            editions.sort_by_key(|(_, e)| e.visibility == Visibility::Private);
            for (ename, e) in editions {
                out.push(ImageSpec {
                    component: name.clone(),
                    edition: ename.clone(),
                    package: e.package.replace("{component}", name),
                    krate: c.krate.clone(),
                    dir: c.dir.clone(),
                    visibility: e.visibility,
                    features: e.features.clone(),
                });
            }
        }
        out
    }

    /// `host/org/package` for an image, honouring `AISOPSFLOW_REGISTRY`.
    pub fn image_repository(&self, package: &str) -> String {
        format!("{}/{}/{}", self.registry_host(), self.org(), package)
    }

    /// The path of the package README for `package`.
    pub fn package_readme(&self, package: &str) -> PathBuf {
        self.root.join(
            self.raw
                .customer
                .package_readmes
                .replace("{package}", package),
        )
    }

    pub fn notes_dir(&self) -> PathBuf {
        self.root.join(&self.raw.notes.dir)
    }

    pub(crate) fn workflow_path(&self) -> PathBuf {
        self.root.join(&self.raw.repository.publish_workflow)
    }

    /// The workflow file name, which the Actions API accepts as a workflow id.
    pub fn workflow_file_name(&self) -> &str {
        self.raw
            .repository
            .publish_workflow
            .rsplit('/')
            .next()
            .unwrap_or_default()
    }
}

/// A ruleset bypass actor named in `release.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Actor {
    pub actor_type: String,
    pub name: Option<String>,
}

pub(crate) fn parse_actor(s: &str) -> Result<Actor, String> {
    const TYPES: [&str; 6] = [
        "Team",
        "RepositoryRole",
        "OrganizationAdmin",
        "User",
        "Integration",
        "DeployKey",
    ];
    let (ty, name) = match s.split_once(':') {
        Some((t, n)) => (t, Some(n.to_string())),
        None => (s, None),
    };
    if !TYPES.contains(&ty) {
        return Err(format!("`{s}` has an unknown actor type `{ty}`"));
    }
    if name.as_deref().is_some_and(str::is_empty) || (name.is_none() && ty != "OrganizationAdmin") {
        return Err(format!("`{s}` names no actor"));
    }
    Ok(Actor {
        actor_type: ty.to_string(),
        name,
    })
}

/// The directory part of a glob before its first wildcard: `docs/customer/**/*.md` ->
/// `docs/customer`.
fn static_prefix(glob: &str) -> String {
    glob.split('/')
        .take_while(|c| !c.contains(['*', '?', '[', '{']))
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether an edition is the commercial one: named so, built with the `commercial` feature,
/// carrying commercial-only defaults, or publishing `*-commercial` packages.
pub(crate) fn is_commercial(name: &str, e: &Edition) -> bool {
    !commercial_reason(name, e).is_empty()
}

fn commercial_reason(name: &str, e: &Edition) -> String {
    if name.contains("commercial") {
        "is named commercial".into()
    } else if e.features.iter().any(|f| f.contains("commercial")) {
        "builds the `commercial` feature".into()
    } else if !e.commercial_only_defaults.is_empty() {
        "declares commercial_only_defaults".into()
    } else if e.package.contains("commercial") {
        format!("publishes `{}`", e.package)
    } else {
        String::new()
    }
}

fn is_lower_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' || c == '.'
        })
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// An OCI tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn is_oci_tag(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

/// The workspace's own `release.toml`, loaded, for unit tests.
#[cfg(test)]
pub(crate) fn for_tests() -> Config {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root");
    Config::load(root).expect("the workspace's release.toml loads")
}
