//! The check registry: every line of the GHCR operations checklist as a check with a stable id.
//!
//! Ids are kebab-case, prefixed by area so `--only PREFIX` selects related checks. Ids are
//! never renamed or reused: retire one by moving it to `RETIRED`. Each check has a phase, a
//! kind (automated or manual attestation), a default severity, a one-line summary, why it
//! matters and how to fix it. `docs/checks.md` is generated from this table
//! (`cargo xtask docs-checks`), and a test keeps it current.
//!
//! Checks report through the constructors on `Outcome` (`pass`, `fail`, ...), so every
//! result has the same shape: id, status, message and evidence.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::workspace::Workspace;

pub mod build;
pub mod changes;
pub mod credentials;
pub mod docs;
pub mod manual;
pub mod notes;
pub mod packages;
pub mod refpattern;
pub mod settings;
pub mod workflow;

/// What a check may read. Checks never write; they report outcomes.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub ws: Workspace,
    /// The components in this release (resolved from `--components`).
    pub components: Vec<String>,
    /// `--only` prefixes; empty selects every check.
    pub only: Vec<String>,
    /// Skip everything that needs GitHub or a registry, saying so.
    pub offline: bool,
    /// The version about to be released, when known.
    pub release: Option<semver::Version>,
}

impl Ctx {
    /// Whether `--only` selects `id`.
    pub fn wants(&self, id: CheckId) -> bool {
        id.selected_by(&self.only)
    }

    /// Whether `--only` selects any of `ids`; an area with none selected does no work at all.
    pub fn wants_any(&self, ids: &[CheckId]) -> bool {
        ids.iter().any(|id| self.wants(*id))
    }
}

/// Where a check belongs in the checklist; reports group by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    RepositorySettings,
    ActionsPermissions,
    PackageSettings,
    SecretsAndAuth,
    OperatorPreflight,
    PostRelease,
    CustomerDelivery,
}

impl Section {
    pub fn title(self) -> &'static str {
        match self {
            Section::RepositorySettings => "Repository settings",
            Section::ActionsPermissions => "GitHub Actions permissions",
            Section::PackageSettings => "GHCR package settings",
            Section::SecretsAndAuth => "Secrets and auth",
            Section::OperatorPreflight => "Operator preflight",
            Section::PostRelease => "Operator post-release checks",
            Section::CustomerDelivery => "Customer delivery checks",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Preflight,
    PostRelease,
    Delivery,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Automated,
    Manual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Reported, never gates.
    Note,
    /// Gates only when CI asks (`--deny-warnings` or a per-id override).
    Warning,
    /// A failure gates the release.
    Error,
}

/// Static facts about one check.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Meta {
    pub id: &'static str,
    pub section: Section,
    pub phase: Phase,
    pub kind: Kind,
    pub severity: Severity,
    /// What it checks, in one line.
    pub summary: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// How to fix a failure.
    pub fix: &'static str,
    /// The checklist line this check proves.
    pub checklist: &'static str,
}

macro_rules! registry {
    ($( $variant:ident => {
        id: $id:literal, section: $section:ident, phase: $phase:ident, kind: $kind:ident,
        severity: $sev:ident, checklist: $cl:literal, summary: $summary:literal,
        why: $why:literal, fix: $fix:literal $(,)?
    } ),* $(,)?) => {
        /// Every check, in report order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum CheckId { $( $variant ),* }

        pub const ALL: &[CheckId] = &[ $( CheckId::$variant ),* ];

        impl CheckId {
            pub fn meta(self) -> &'static Meta {
                match self {
                    $( CheckId::$variant => &Meta {
                        id: $id, section: Section::$section, phase: Phase::$phase,
                        kind: Kind::$kind, severity: Severity::$sev, checklist: $cl,
                        summary: $summary, why: $why, fix: $fix,
                    } ),*
                }
            }
        }
    };
}

impl CheckId {
    pub fn id(self) -> &'static str {
        self.meta().id
    }

    pub fn from_id(id: &str) -> Option<CheckId> {
        ALL.iter().copied().find(|c| c.id() == id)
    }

    /// Whether `--only` prefixes select this check (no prefixes selects all).
    pub fn selected_by(self, only: &[String]) -> bool {
        only.is_empty() || only.iter().any(|p| self.id().starts_with(p.as_str()))
    }
}

impl Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// Ids that once existed and must never be reused.
pub const RETIRED: &[&str] = &[];

registry! {
    // Repository settings.
    RepoPrivate => {
        id: "repo-private", section: RepositorySettings, phase: Preflight, kind: Automated, severity: Error,
        checklist: "repository visibility: private",
        summary: "The enterprise repository is private (an Enterprise `internal` repository is not).",
        why: "The enterprise source and its commercial defaults must never be readable by customers or the public.",
        fix: "Settings > General > Danger Zone > Change visibility > Private (or `gh repo edit OWNER/REPO --visibility private`).",
    },
    RepoDefaultBranchProtected => {
        id: "repo-default-branch-protected", section: RepositorySettings, phase: Preflight, kind: Automated, severity: Error,
        checklist: "default branch protection enabled",
        summary: "The default branch is protected by classic branch protection or an active branch ruleset.",
        why: "Release tags are cut from the default branch; unreviewed pushes to it would ship unreviewed images.",
        fix: "Settings > Rules > Rulesets > New branch ruleset targeting ~DEFAULT_BRANCH (enforcement Active), or Settings > Branches > Add classic protection rule.",
    },
    RepoTagCreationRestricted => {
        id: "repo-tag-creation-restricted", section: RepositorySettings, phase: Preflight, kind: Automated, severity: Error,
        checklist: "tag creation restricted to release operators",
        summary: "An active tag ruleset covering release tags (ref patterns read as GitHub's fnmatch) has a creation rule, only the release operators from release.toml may bypass it, and the operator running the check is one who can.",
        why: "Pushing a `v*` or `release-v*` tag publishes images (and may move `latest`); only release operators may do that.",
        fix: "Settings > Rules > Rulesets > New tag ruleset: include refs/tags/v* and refs/tags/release-v*, rules Restrict creations/updates/deletions, bypass list = repository.release_operators in release.toml; run preflight and release with a release operator's credentials.",
    },
    ActionsEnabled => {
        id: "actions-enabled", section: RepositorySettings, phase: Preflight, kind: Automated, severity: Error,
        checklist: "GitHub Actions enabled",
        summary: "GitHub Actions is enabled for the repository, and its allowed-actions policy lets every `uses:` of the publish workflow run.",
        why: "Images are published only by the publish workflow; with Actions off, or its actions not allowed, a release tag publishes nothing and the run fails after the tag is pushed.",
        fix: "Settings > Actions > General > Actions permissions: allow all actions, or allow the publish workflow's actions by pattern (`OWNER/REPO@*`) (or `gh api -X PUT repos/OWNER/REPO/actions/permissions -F enabled=true -f allowed_actions=all`).",
    },
    // GitHub Actions permissions.
    ActionsDefaultPermissionsRead => {
        id: "actions-default-permissions-read", section: ActionsPermissions, phase: Preflight, kind: Automated, severity: Error,
        checklist: "workflow permissions: Read repository contents",
        summary: "The repository's default GITHUB_TOKEN permission is read.",
        why: "Workflows that forget a permissions block must not get a write token by default.",
        fix: "Settings > Actions > General > Workflow permissions: Read repository contents and packages permissions.",
    },
    ActionsCannotApprovePrs => {
        id: "actions-cannot-approve-prs", section: ActionsPermissions, phase: Preflight, kind: Automated, severity: Error,
        checklist: "allow GitHub Actions to create and approve pull requests: off unless explicitly needed",
        summary: "GitHub Actions may not create or approve pull requests.",
        why: "A workflow that approves its own pull requests bypasses review of what ships.",
        fix: "Settings > Actions > General: untick Allow GitHub Actions to create and approve pull requests.",
    },
    WorkflowPresent => {
        id: "workflow-present", section: ActionsPermissions, phase: Preflight, kind: Automated, severity: Error,
        checklist: "Workflow-level requirements in publish-images.yml",
        summary: "The publish workflow exists and is valid YAML with jobs.",
        why: "Every other workflow check reads this file; a missing or malformed workflow publishes nothing.",
        fix: "Restore .github/workflows/publish-images.yml from main and fix the YAML error named in the evidence.",
    },
    WorkflowPermissions => {
        id: "workflow-permissions", section: ActionsPermissions, phase: Preflight, kind: Automated, severity: Error,
        checklist: "contents: read / packages: write",
        summary: "Every job's effective permissions are exactly contents: read and packages: write.",
        why: "Broader token permissions let a compromised step change code, releases or settings.",
        fix: "Give each job `permissions: {contents: read, packages: write}` and nothing else; no write-all or read-all.",
    },
    WorkflowTopLevelPermissions => {
        id: "workflow-top-level-permissions", section: ActionsPermissions, phase: Preflight, kind: Automated, severity: Warning,
        checklist: "Do not grant broader permissions unless a release workflow actually needs them",
        summary: "The workflow's top-level permissions are empty (`permissions: {}`).",
        why: "zizmor and OpenSSF Scorecard penalise top-level write grants; jobs should opt in to what they need.",
        fix: "Set `permissions: {}` at the top of the workflow and grant per job.",
    },
    WorkflowTriggers => {
        id: "workflow-triggers", section: ActionsPermissions, phase: Preflight, kind: Automated, severity: Error,
        checklist: "`latest` moved only for `release-v*` or an explicit manual dispatch with `publish_latest=true`",
        summary: "The workflow runs on pushes of tags v* and release-v*, and on workflow_dispatch with a boolean publish_latest defaulting to false.",
        why: "The tag policy depends on these triggers; a default of true would move `latest` by accident.",
        fix: "Use `on: {push: {tags: ['v*', 'release-v*']}, workflow_dispatch: {inputs: {publish_latest: {type: boolean, default: false}}}}`.",
    },
    WorkflowActionsPinned => {
        id: "workflow-actions-pinned", section: ActionsPermissions, phase: Preflight, kind: Automated, severity: Error,
        checklist: "Do not grant broader permissions unless a release workflow actually needs them",
        summary: "Every `uses:` is pinned to a full 40-hex commit SHA.",
        why: "A moved tag on a third-party action runs new code with packages: write.",
        fix: "Replace `owner/action@v4` with `owner/action@<40-hex sha> # v4`.",
    },
    WorkflowNoInjection => {
        id: "workflow-no-injection", section: ActionsPermissions, phase: Preflight, kind: Automated, severity: Error,
        checklist: "Do not grant broader permissions unless a release workflow actually needs them",
        summary: "No `${{ inputs.* }}` or `${{ github.event.* }}` expression is expanded inside a `run:` script.",
        why: "Expanded expressions are template injection: a crafted input runs shell commands with the job's token.",
        fix: "Pass the value through `env:` (e.g. `PUBLISH_LATEST: ${{ inputs.publish_latest }}`) and read \"$PUBLISH_LATEST\" in the script.",
    },
    WorkflowSinglePublisher => {
        id: "workflow-single-publisher", section: ActionsPermissions, phase: Preflight, kind: Automated, severity: Error,
        checklist: "Do not grant broader permissions unless a release workflow actually needs them",
        summary: "No workflow other than the publish workflow (and the reusable workflows it calls) pushes to a registry, moves a tag such as `latest`, or grants `packages: write`; every workflow under .github/workflows is read.",
        why: "Every other path to the registry bypasses the release gate, the tag policy and the checks on the publish workflow.",
        fix: "Remove the push (docker/podman/buildah push, buildx --push, skopeo copy, crane/oras push or tag, cargo xtask publish) and the `packages: write` grant from the named workflow; publish only through the publish workflow.",
    },
    // GHCR package settings.
    PackagesAllowlist => {
        id: "packages-allowlist", section: PackageSettings, phase: Preflight, kind: Automated, severity: Error,
        checklist: "Create and retain only these packages",
        summary: "release.toml produces exactly the six allowed packages.",
        why: "Every package is a publication surface; strays leak builds nobody reviews.",
        fix: "Fix [editions.*].package or [packages].allowed in release.toml; an extra package needs a [[packages.exceptions]] reason.",
    },
    PackagesNamesDisjoint => {
        id: "packages-names-disjoint", section: PackageSettings, phase: Preflight, kind: Automated, severity: Error,
        checklist: "public package names and commercial package names must stay separate",
        summary: "Public and commercial package names never collide.",
        why: "A shared name would publish commercial bits under a public package, or the reverse.",
        fix: "Keep the commercial pattern distinct, e.g. \"aisopsflow-{component}-commercial\".",
    },
    PackagesRegistrySet => {
        id: "packages-registry-set", section: PackageSettings, phase: Preflight, kind: Automated, severity: Error,
        checklist: "Create and retain only these packages",
        summary: "The organisation's aisopsflow-* container packages are exactly the allowed six.",
        why: "A stray package may hold commercial or unreviewed images.",
        fix: "Delete the stray package (Package settings > Danger zone) or add it to release.toml with a reason.",
    },
    PackagesPublicVisibility => {
        id: "packages-public-visibility", section: PackageSettings, phase: Preflight, kind: Automated, severity: Error,
        checklist: "Public package policy: visibility: public",
        summary: "The public edition's packages are public.",
        why: "Customers pull public images anonymously; a private public-edition package breaks their deployments.",
        fix: "Package settings > Danger zone > Change visibility > Public (only for the public edition).",
    },
    PackagesCommercialPrivate => {
        id: "packages-commercial-private", section: PackageSettings, phase: Preflight, kind: Automated, severity: Error,
        checklist: "Commercial package policy: visibility: private",
        summary: "The commercial edition's packages are private.",
        why: "Commercial images are licensed; a public package gives them away, and GHCR cannot make it private again.",
        fix: "Package settings > Danger zone > Change visibility > Private; if it was ever public, treat the images as leaked.",
    },
    PackagesLinkedRepository => {
        id: "packages-linked-repository", section: PackageSettings, phase: Preflight, kind: Automated, severity: Error,
        checklist: "inheritance from repository permissions: enabled",
        summary: "Each package is linked to the enterprise repository.",
        why: "A linked package inherits the repository's access, so the publish workflow's GITHUB_TOKEN can write it.",
        fix: "Package settings > Connect repository, or publish with the org.opencontainers.image.source label of the repository.",
    },
    PackagesReadmePinDigest => {
        id: "packages-readme-pin-digest", section: PackageSettings, phase: Preflight, kind: Automated, severity: Error,
        checklist: "package README should state that customer and user environments should pin by digest",
        summary: "Each package README tells users to pin by digest.",
        why: "Tags move; only a digest guarantees customers run the image that was verified.",
        fix: "Add a 'Pin by digest' section with an `image@sha256:...` example to docs/packages/<package>.md.",
    },
    PackagesPublicMetadataClean => {
        id: "packages-public-metadata-clean", section: PackageSettings, phase: Preflight, kind: Automated, severity: Error,
        checklist: "do not expose commercial-only defaults in public package metadata",
        summary: "Public package READMEs mention no commercial-only default and no enterprise repository.",
        why: "Public metadata is world-readable; commercial defaults and the enterprise repository are not.",
        fix: "Remove the named string from the public package README.",
    },
    // Secrets and auth.
    SecretsGithubToken => {
        id: "secrets-github-token", section: SecretsAndAuth, phase: Preflight, kind: Automated, severity: Error,
        checklist: "prefer `GITHUB_TOKEN` for package publish from GitHub Actions",
        summary: "The publish workflow logs in to the registry with GITHUB_TOKEN (secrets.GITHUB_TOKEN or github.token).",
        why: "GITHUB_TOKEN is short-lived and scoped to this repository and run.",
        fix: "Use `password: ${{ secrets.GITHUB_TOKEN }}` (or env GITHUB_TOKEN for `cargo xtask publish`).",
    },
    SecretsNoLongLivedPat => {
        id: "secrets-no-long-lived-pat", section: SecretsAndAuth, phase: Preflight, kind: Automated, severity: Error,
        checklist: "do not use long-lived personal access tokens for routine image publish",
        summary: "The publish workflow references no secret other than GITHUB_TOKEN.",
        why: "A personal access token outlives the run and usually carries far more than packages: write.",
        fix: "Remove the secrets.<NAME> reference and rely on GITHUB_TOKEN with packages: write.",
    },
    // Operator preflight.
    BuildCore => {
        id: "build-core", section: OperatorPreflight, phase: Preflight, kind: Automated, severity: Error,
        checklist: "`core/Dockerfile` builds successfully",
        summary: "core/Dockerfile builds through the Docker Engine API, in both editions.",
        why: "A tag whose image cannot build publishes nothing, or half of a release.",
        fix: "Read the failing Dockerfile step and the engine message in the evidence; reproduce with `cargo xtask preflight --only build-core`.",
    },
    BuildRunner => {
        id: "build-runner", section: OperatorPreflight, phase: Preflight, kind: Automated, severity: Error,
        checklist: "`runner/Dockerfile` builds successfully",
        summary: "runner/Dockerfile builds through the Docker Engine API, in both editions.",
        why: "A tag whose image cannot build publishes nothing, or half of a release.",
        fix: "Read the failing Dockerfile step and the engine message in the evidence; reproduce with `cargo xtask preflight --only build-runner`.",
    },
    BuildConsole => {
        id: "build-console", section: OperatorPreflight, phase: Preflight, kind: Automated, severity: Error,
        checklist: "`console/Dockerfile` builds successfully when console is in scope",
        summary: "console/Dockerfile builds through the Docker Engine API, in both editions, when console is in scope.",
        why: "A tag whose image cannot build publishes nothing, or half of a release.",
        fix: "Read the failing Dockerfile step and the engine message in the evidence; reproduce with `cargo xtask preflight --components core,runner,console --only build-console`.",
    },
    BuildSmoke => {
        id: "build-smoke", section: OperatorPreflight, phase: Preflight, kind: Automated, severity: Error,
        checklist: "image changes match the intended component release",
        summary: "Each built image runs and reports the intended component, version, commit and edition; core answers /healthz.",
        why: "An image that builds but runs the wrong binary or edition would ship silently.",
        fix: "Check the staged binary and build args named in the evidence; rerun `cargo xtask preflight --only build-smoke -v`.",
    },
    BuildPublicMetadataClean => {
        id: "build-public-metadata-clean", section: OperatorPreflight, phase: Preflight, kind: Automated, severity: Error,
        checklist: "do not expose commercial-only defaults in public package metadata",
        summary: "Built public images carry no enterprise-repository URL and no commercial-only default in labels, env or config.",
        why: "Image config is public metadata for a public package.",
        fix: "Remove the label, env or build arg named in the evidence from the public build.",
    },
    ChangesMatchRelease => {
        id: "changes-match-release", section: OperatorPreflight, phase: Preflight, kind: Automated, severity: Error,
        checklist: "image changes match the intended component release",
        summary: "Images whose inputs changed since the previous release are exactly the components in this release.",
        why: "Shipping a changed image outside the release, or releasing an unchanged one, means notes and reality disagree.",
        fix: "Add the component to --components, or revert the change to the files named in the evidence.",
    },
    NotesDraftComplete => {
        id: "notes-draft-complete", section: OperatorPreflight, phase: Preflight, kind: Automated, severity: Error,
        checklist: "release notes include the exact git commit and expected image tags",
        summary: "The release-notes draft names HEAD's full commit and every expected image tag.",
        why: "Auditors and customers trace an image back to its source through the notes.",
        fix: "Write `<notes dir>/VERSION.draft.md` naming HEAD's commit and every expected tag (`cargo xtask release VERSION --dry-run` prints them), then rerun `cargo xtask preflight --release VERSION --only notes`.",
    },
    DocsDigestPinning => {
        id: "docs-digest-pinning", section: OperatorPreflight, phase: Preflight, kind: Automated, severity: Error,
        checklist: "customer-facing deployment docs reference digest pinning",
        summary: "Every reference to one of our packages in customer docs and manifests carries @sha256:<64 hex>.",
        why: "Tags move; a customer deployment pinned by tag can silently change.",
        fix: "Write `ghcr.io/ORG/PACKAGE:VERSION@sha256:<digest>`; `cargo xtask verify VERSION --delivery` prints the references.",
    },
    // Post-release.
    VerifyPackagesExist => {
        id: "verify-packages-exist", section: PostRelease, phase: PostRelease, kind: Automated, severity: Error,
        checklist: "both expected GHCR packages exist",
        summary: "Both editions of every component in scope exist in the registry.",
        why: "A half-published release gives customers one edition and not the other.",
        fix: "Open the publish workflow run named in the notes; rerun it for the tag (`cargo xtask release VERSION` resumes).",
    },
    VerifySemverTag => {
        id: "verify-semver-tag", section: PostRelease, phase: PostRelease, kind: Automated, severity: Error,
        checklist: "expected semver tag is present",
        summary: "Each package has the release's semver tag.",
        why: "Customers and the notes refer to the semver tag.",
        fix: "Rerun the publish workflow for the tag; check its logs for a failed push.",
    },
    VerifyShaTag => {
        id: "verify-sha-tag", section: PostRelease, phase: PostRelease, kind: Automated, severity: Error,
        checklist: "expected git sha tag is present",
        summary: "Each package has the sha-<7 hex> tag, with the same digest as the semver tag.",
        why: "The sha tag ties an image to its commit; differing digests mean two different builds were published.",
        fix: "Rerun the publish workflow for the tag; if digests differ, find which run pushed which tag.",
    },
    VerifyLatestPolicy => {
        id: "verify-latest-policy", section: PostRelease, phase: PostRelease, kind: Automated, severity: Error,
        checklist: "`latest` moved only for `release-v*` or an explicit manual dispatch with `publish_latest=true`",
        summary: "`latest` equals this release's digest exactly when the policy says it moves, and is unchanged otherwise.",
        why: "Customers who follow `latest` must only get releases that were meant for them.",
        fix: "Move `latest` back to the digest recorded as 'before' in the notes (`cargo xtask promote PREVIOUS`), then find what moved it.",
    },
    VerifyVisibility => {
        id: "verify-visibility", section: PostRelease, phase: PostRelease, kind: Automated, severity: Error,
        checklist: "package visibility is still private",
        summary: "Commercial packages are private and public ones public, per the Packages API and an anonymous pull attempt.",
        why: "A publish can create a package with the wrong visibility; an anonymous pull is the proof.",
        fix: "A public edition the first release created is private (a package a workflow creates inherits the private repository's visibility): an org admin makes it public once, Package settings > Danger Zone > Change visibility > Public (docs/runbook.md, First release). A commercial package that became public cannot be made private again: rotate it.",
    },
    VerifyPublicMetadataClean => {
        id: "verify-public-metadata-clean", section: PostRelease, phase: PostRelease, kind: Automated, severity: Error,
        checklist: "do not expose commercial-only defaults in public package metadata",
        summary: "Published public images' config, labels, annotations and attestations carry no enterprise URL or commercial default.",
        why: "What is in the registry is what customers see, whatever the build said.",
        fix: "Rebuild without the named label or env and publish a new patch release.",
    },
    VerifyManifestDigestsRecorded => {
        id: "verify-manifest-digests-recorded", section: PostRelease, phase: PostRelease, kind: Automated, severity: Error,
        checklist: "package digest used by deployment manifests is recorded in the release notes",
        summary: "Digests in deployment manifests equal the released digests and appear in the release notes.",
        why: "The notes are the audit trail from a running deployment back to a release.",
        fix: "Update the manifests with the digests from `cargo xtask verify VERSION --delivery` and rerun `cargo xtask release VERSION` to rewrite the notes.",
    },
    // Post-release evidence beyond tags and digests (`verify --deep`, and every `release`).
    VerifyRuns => {
        id: "verify-runs", section: PostRelease, phase: PostRelease, kind: Automated, severity: Error,
        checklist: "image changes match the intended component release",
        summary: "Each released image, pulled by digest from the registry through the Docker engine, runs and reports this release's version, the tag's commit and its edition; core answers its health probe.",
        why: "Tags and digests prove where an image is, not what it is: an image built from another commit under this release's tags would pass every other check.",
        fix: "Read what the image printed in the evidence; if it names another version or commit, find which run pushed that digest under this release's tags, then republish the tag (`cargo xtask release VERSION` resumes) or cut a patch release.",
    },
    VerifyContents => {
        id: "verify-contents", section: PostRelease, phase: PostRelease, kind: Automated, severity: Error,
        checklist: "do not expose commercial-only defaults in public package metadata",
        summary: "Each released image's layers, read from the registry, hold exactly the binary, the CA bundle and the user database with owner 0:0 and the expected modes, the binary carrying the tag's commit; nothing in a public image names the enterprise repository or a commercial-only default.",
        why: "A stray file or a string in the binary ships to every customer who pulls; public images are world-readable.",
        fix: "Remove the stray file or string named in the evidence from the build (Dockerfile, staged context, binary), and publish a new patch release; a leaked commercial default must also be rotated.",
    },
    // Customer delivery.
    DeliveryDigestReferences => {
        id: "delivery-digest-references", section: CustomerDelivery, phase: Delivery, kind: Automated, severity: Error,
        checklist: "share image references by digest, not just by tag",
        summary: "Every image reference handed to customers is `host/org/package:version@sha256:...`.",
        why: "A tag alone can be moved after the customer verified it.",
        fix: "Use the references printed by `cargo xtask verify VERSION --delivery`.",
    },
    DeliveryNoEnterpriseRepo => {
        id: "delivery-no-enterprise-repo", section: CustomerDelivery, phase: Delivery, kind: Automated, severity: Error,
        checklist: "do not expose the enterprise source repository",
        summary: "Customer-facing docs and delivery output never name or link the enterprise repository.",
        why: "The enterprise repository is private; links leak its existence and structure.",
        fix: "Remove the link named in the evidence; point to the public SDK or catalog instead.",
    },
    DeliveryPluginLinks => {
        id: "delivery-plugin-links", section: CustomerDelivery, phase: Delivery, kind: Automated, severity: Error,
        checklist: "direct plugin developers to the public SDK and catalog repositories",
        summary: "Customer docs point plugin developers to the public SDK and catalog repositories from release.toml.",
        why: "Plugin developers need the public SDK, not the enterprise source.",
        fix: "Add links to customer.sdk_repository and customer.catalog_repository in the customer docs.",
    },
    // Manual attestations: lines that no API shows.
    ManualActionsPackageWrite => {
        id: "manual-actions-package-write", section: RepositorySettings, phase: Preflight, kind: Manual, severity: Error,
        checklist: "GitHub Actions allowed to create and update packages",
        summary: "Each package grants this repository's Actions write access (Package settings > Manage Actions access).",
        why: "Without it the publish workflow's GITHUB_TOKEN cannot push (GHCR answers `permission_denied: write_package` only at push time, after the tag exists), and someone reaches for a PAT. No API shows, before the tag, what the workflow's token may write, so the release gate requires this attestation instead of finding out after the push.",
        fix: "Check each package's Manage Actions access (a package that does not exist yet is created by the first push and needs nothing), then attest with `--attest manual-actions-package-write`.",
    },
    ManualPackageInheritance => {
        id: "manual-package-inheritance", section: PackageSettings, phase: Preflight, kind: Manual, severity: Error,
        checklist: "inheritance from repository permissions: enabled unless you have a strong reason to decouple it",
        summary: "Commercial packages inherit access from the repository.",
        why: "Decoupled permissions drift from the repository's reviewed access list.",
        fix: "Package settings > Inherit access from source repository; attest with `--attest manual-package-inheritance`.",
    },
    ManualPackageDeleteRestricted => {
        id: "manual-package-delete-restricted", section: PackageSettings, phase: Preflight, kind: Manual, severity: Error,
        checklist: "delete/restore package permission limited to release administrators",
        summary: "Only the release administrators from release.toml hold the admin role that deletes and restores packages.",
        why: "Deleting a package version breaks every customer pinned to its digest.",
        fix: "Package settings > Manage access: admin only for repository.release_administrators; attest with `--attest manual-package-delete-restricted`.",
    },
    ManualCustomerCredentialsScoped => {
        id: "manual-customer-credentials-scoped", section: SecretsAndAuth, phase: Preflight, kind: Manual, severity: Error,
        checklist: "if customer pull access is needed, issue scoped credentials only for package read",
        summary: "Any customer pull credential is read:packages only.",
        why: "A customer credential with write or repo scope could overwrite images or read the source.",
        fix: "Reissue the credential with only read:packages; attest with `--attest manual-customer-credentials-scoped`.",
    },
    ManualEmergencyCredentialsRotated => {
        id: "manual-emergency-credentials-rotated", section: SecretsAndAuth, phase: Preflight, kind: Manual, severity: Error,
        checklist: "rotate any emergency manual credentials after use",
        summary: "Emergency manual credentials used since the last release have been rotated.",
        why: "A credential used by hand may have been copied anywhere.",
        fix: "Revoke and reissue it; attest with `--attest manual-emergency-credentials-rotated`.",
    },
    ManualMinimalPullCredentials => {
        id: "manual-minimal-pull-credentials", section: CustomerDelivery, phase: Delivery, kind: Manual, severity: Error,
        checklist: "share minimal pull credentials if private pull is required",
        summary: "Credentials shared with customers for private pulls are minimal (read-only, per customer, expiring).",
        why: "Shared credentials outlive the delivery and travel further than intended.",
        fix: "Issue a per-customer read:packages token with an expiry; attest with `--attest manual-minimal-pull-credentials`.",
    },
}

/// The verdict of one check on one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Warn,
    /// Deliberately not run, or not applicable (console not in scope, no `--release`).
    Skip,
    /// Should have run but could not: no permission, a rejected token, offline. Never a pass:
    /// it makes preflight's verdict "not ready" and refuses the release gate.
    #[serde(rename = "not-run")]
    NotRun,
    Manual,
}

/// What a result is based on. Every result carries at least one piece.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Evidence {
    /// A place in a file, relative to the workspace root.
    File {
        path: PathBuf,
        line: Option<u32>,
        excerpt: Option<String>,
    },
    /// A field of an API response.
    Api {
        endpoint: String,
        field: String,
        value: String,
    },
    /// An image and its digest.
    Digest { reference: String, digest: String },
    /// Anything else a person needs to judge the result (an engine message, a command).
    Note { text: String },
}

impl Evidence {
    pub fn file(path: impl AsRef<Path>, line: Option<u32>) -> Evidence {
        Evidence::File {
            path: path.as_ref().to_path_buf(),
            line,
            excerpt: None,
        }
    }
    pub fn file_excerpt(
        path: impl AsRef<Path>,
        line: Option<u32>,
        excerpt: impl Into<String>,
    ) -> Evidence {
        Evidence::File {
            path: path.as_ref().to_path_buf(),
            line,
            excerpt: Some(excerpt.into()),
        }
    }
    pub fn api(
        endpoint: impl Into<String>,
        field: impl Into<String>,
        value: impl ToString,
    ) -> Evidence {
        Evidence::Api {
            endpoint: endpoint.into(),
            field: field.into(),
            value: value.to_string(),
        }
    }
    pub fn digest(reference: impl Into<String>, digest: impl Into<String>) -> Evidence {
        Evidence::Digest {
            reference: reference.into(),
            digest: digest.into(),
        }
    }
    pub fn note(text: impl Into<String>) -> Evidence {
        Evidence::Note { text: text.into() }
    }
}

/// One result.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub id: CheckId,
    pub status: Status,
    pub message: String,
    pub evidence: Vec<Evidence>,
}

impl Outcome {
    fn new(
        id: CheckId,
        status: Status,
        message: impl Into<String>,
        evidence: Vec<Evidence>,
    ) -> Outcome {
        Outcome {
            id,
            status,
            message: message.into(),
            evidence,
        }
    }
    pub fn pass(id: CheckId, message: impl Into<String>, evidence: Vec<Evidence>) -> Outcome {
        Outcome::new(id, Status::Pass, message, evidence)
    }
    pub fn fail(id: CheckId, message: impl Into<String>, evidence: Vec<Evidence>) -> Outcome {
        Outcome::new(id, Status::Fail, message, evidence)
    }
    pub fn warn(id: CheckId, message: impl Into<String>, evidence: Vec<Evidence>) -> Outcome {
        Outcome::new(id, Status::Warn, message, evidence)
    }
    /// A skip always says why and how to enable the check.
    pub fn skip(
        id: CheckId,
        why: impl std::fmt::Display,
        enable: impl std::fmt::Display,
    ) -> Outcome {
        Outcome::new(
            id,
            Status::Skip,
            format!("skipped: {why}; to run it: {enable}"),
            vec![Evidence::note(format!("{why}"))],
        )
    }
    /// A check that should have run but could not (no permission, a rejected token, no
    /// network): says why and what to grant so it runs.
    pub fn not_run(
        id: CheckId,
        why: impl std::fmt::Display,
        grant: impl std::fmt::Display,
    ) -> Outcome {
        Outcome::new(
            id,
            Status::NotRun,
            format!("could not run: {why}; to run it: {grant}"),
            vec![Evidence::note(format!("{why}"))],
        )
    }
    /// A manual check awaiting (or holding) the operator's attestation.
    pub fn manual(id: CheckId, message: impl Into<String>, evidence: Vec<Evidence>) -> Outcome {
        Outcome::new(id, Status::Manual, message, evidence)
    }
}

/// Collects outcomes. The CLI prints them at the end; tests inspect them.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
}

impl Report {
    pub fn push(&mut self, outcome: Outcome) {
        self.outcomes.push(outcome);
    }
    pub fn extend(&mut self, outcomes: impl IntoIterator<Item = Outcome>) {
        self.outcomes.extend(outcomes);
    }
    /// Outcomes of one check.
    pub fn of(&self, id: CheckId) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(move |o| o.id == id)
    }
    /// The worst status reported for `id`, if any.
    pub fn status_of(&self, id: CheckId) -> Option<Status> {
        let rank = |s: Status| match s {
            Status::Fail => 5,
            Status::NotRun => 4,
            Status::Manual => 3,
            Status::Warn => 2,
            Status::Skip => 1,
            Status::Pass => 0,
        };
        self.of(id).map(|o| o.status).max_by_key(|s| rank(*s))
    }
}

/// The URL of the check documentation, for SARIF rule help.
pub fn help_base(cfg: &crate::config::Config) -> String {
    format!(
        "https://github.com/{}/blob/{}/docs/checks.md",
        cfg.raw.repository.name, cfg.raw.repository.default_branch
    )
}

/// The deep checks of verify (`--deep`): pulling and running each image, reading its layers.
pub const DEEP_VERIFY: [CheckId; 2] = [CheckId::VerifyRuns, CheckId::VerifyContents];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_and_prefixed() {
        const PREFIXES: [&str; 12] = [
            "repo-",
            "actions-",
            "workflow-",
            "packages-",
            "secrets-",
            "build-",
            "changes-",
            "notes-",
            "docs-",
            "verify-",
            "delivery-",
            "manual-",
        ];
        let mut seen = std::collections::BTreeSet::new();
        for c in ALL {
            let m = c.meta();
            assert!(seen.insert(m.id), "duplicate check id {}", m.id);
            assert!(
                !RETIRED.contains(&m.id),
                "check id {} was retired and must not be reused",
                m.id
            );
            assert!(
                m.id.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-'),
                "{} is not kebab-case",
                m.id
            );
            assert!(
                PREFIXES.iter().any(|p| m.id.starts_with(p)),
                "{} has no area prefix",
                m.id
            );
            assert_eq!(
                m.kind == Kind::Manual,
                m.id.starts_with("manual-"),
                "{}: manual checks use the manual- prefix",
                m.id
            );
            assert!(
                !m.summary.is_empty() && !m.why.is_empty() && !m.fix.is_empty(),
                "{} lacks documentation",
                m.id
            );
            assert_eq!(CheckId::from_id(m.id), Some(*c));
        }
    }
}
