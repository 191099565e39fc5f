//! The check registry: every line of the GHCR operations checklist as a check with a stable id.
//!
//! Ids are kebab-case, prefixed by area so `--only PREFIX` selects related checks. Ids are
//! never renamed or reused: retire one by moving it to `RETIRED`. Each check has a phase, a
//! kind (automated or manual attestation), a default severity, a one-line summary, why it
//! matters and how to fix it.
//!
//! The table at the end fixes the ids and their report order; each id's metadata is a `Meta`
//! const in the area module that judges it (`settings::REPO_PRIVATE` beside `repo_private`),
//! so an id's documentation and its judgement are read in one place, as zizmor's
//! `audit_meta!` keeps them. A tidy test (`every_check_meta_lives_where_its_id_is_reported`)
//! keeps each const in the module that reports its id. `docs/checks.md` is generated from
//! this table (`cargo xtask docs-checks`), and a test keeps it current.

use serde::Serialize;

use super::{build, changes, delivery, docs, manual, notes, packages, settings, verify, workflow};

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
    ($( $variant:ident => $meta:path ),* $(,)?) => {
        /// Every check, in report order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum CheckId { $( $variant ),* }

        pub const ALL: &[CheckId] = &[ $( CheckId::$variant ),* ];

        impl CheckId {
            /// The check's metadata, defined beside its judgement in the area module.
            pub fn meta(self) -> &'static Meta {
                match self {
                    $( CheckId::$variant => &$meta ),*
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
    pub(crate) fn selected_by(self, only: &[String]) -> bool {
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
    RepoPrivate => settings::REPO_PRIVATE,
    RepoDefaultBranchProtected => settings::REPO_DEFAULT_BRANCH_PROTECTED,
    RepoTagCreationRestricted => settings::REPO_TAG_CREATION_RESTRICTED,
    ActionsEnabled => settings::ACTIONS_ENABLED,
    // GitHub Actions permissions.
    ActionsDefaultPermissionsRead => settings::ACTIONS_DEFAULT_PERMISSIONS_READ,
    ActionsCannotApprovePrs => settings::ACTIONS_CANNOT_APPROVE_PRS,
    WorkflowPresent => workflow::WORKFLOW_PRESENT,
    WorkflowPermissions => workflow::WORKFLOW_PERMISSIONS,
    WorkflowTopLevelPermissions => workflow::WORKFLOW_TOP_LEVEL_PERMISSIONS,
    WorkflowTriggers => workflow::WORKFLOW_TRIGGERS,
    WorkflowActionsPinned => workflow::WORKFLOW_ACTIONS_PINNED,
    WorkflowNoInjection => workflow::WORKFLOW_NO_INJECTION,
    WorkflowSinglePublisher => workflow::WORKFLOW_SINGLE_PUBLISHER,
    // GHCR package settings.
    PackagesAllowlist => packages::PACKAGES_ALLOWLIST,
    PackagesNamesDisjoint => packages::PACKAGES_NAMES_DISJOINT,
    PackagesRegistrySet => settings::PACKAGES_REGISTRY_SET,
    PackagesPublicVisibility => settings::PACKAGES_PUBLIC_VISIBILITY,
    PackagesCommercialPrivate => settings::PACKAGES_COMMERCIAL_PRIVATE,
    PackagesLinkedRepository => settings::PACKAGES_LINKED_REPOSITORY,
    PackagesReadmePinDigest => packages::PACKAGES_README_PIN_DIGEST,
    PackagesPublicMetadataClean => packages::PACKAGES_PUBLIC_METADATA_CLEAN,
    // Secrets and auth.
    SecretsGithubToken => workflow::SECRETS_GITHUB_TOKEN,
    SecretsNoLongLivedPat => workflow::SECRETS_NO_LONG_LIVED_PAT,
    // Operator preflight.
    BuildCore => build::BUILD_CORE,
    BuildRunner => build::BUILD_RUNNER,
    BuildConsole => build::BUILD_CONSOLE,
    BuildSmoke => build::BUILD_SMOKE,
    BuildPublicMetadataClean => build::BUILD_PUBLIC_METADATA_CLEAN,
    ChangesMatchRelease => changes::CHANGES_MATCH_RELEASE,
    NotesDraftComplete => notes::NOTES_DRAFT_COMPLETE,
    DocsDigestPinning => docs::DOCS_DIGEST_PINNING,
    // Post-release.
    VerifyPackagesExist => verify::VERIFY_PACKAGES_EXIST,
    VerifySemverTag => verify::VERIFY_SEMVER_TAG,
    VerifyShaTag => verify::VERIFY_SHA_TAG,
    VerifyLatestPolicy => verify::VERIFY_LATEST_POLICY,
    VerifyVisibility => verify::VERIFY_VISIBILITY,
    VerifyPublicMetadataClean => verify::VERIFY_PUBLIC_METADATA_CLEAN,
    VerifyManifestDigestsRecorded => verify::VERIFY_MANIFEST_DIGESTS_RECORDED,
    // Post-release evidence beyond tags and digests (`verify --deep`, and every `release`).
    VerifyRuns => verify::VERIFY_RUNS,
    VerifyContents => verify::VERIFY_CONTENTS,
    // Customer delivery.
    DeliveryDigestReferences => delivery::DELIVERY_DIGEST_REFERENCES,
    DeliveryNoEnterpriseRepo => delivery::DELIVERY_NO_ENTERPRISE_REPO,
    DeliveryPluginLinks => docs::DELIVERY_PLUGIN_LINKS,
    // Manual attestations: lines that no API shows.
    ManualActionsPackageWrite => manual::MANUAL_ACTIONS_PACKAGE_WRITE,
    ManualPackageInheritance => manual::MANUAL_PACKAGE_INHERITANCE,
    ManualPackageDeleteRestricted => manual::MANUAL_PACKAGE_DELETE_RESTRICTED,
    ManualCustomerCredentialsScoped => manual::MANUAL_CUSTOMER_CREDENTIALS_SCOPED,
    ManualEmergencyCredentialsRotated => manual::MANUAL_EMERGENCY_CREDENTIALS_ROTATED,
    ManualMinimalPullCredentials => manual::MANUAL_MINIMAL_PULL_CREDENTIALS,
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
