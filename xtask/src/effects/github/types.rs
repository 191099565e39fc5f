//! Response and request bodies: only the fields we read or send.

use super::*;

// --- Response types: only the fields we read. ---

#[derive(Debug, Clone, Deserialize)]
pub(super) struct IdOnly {
    pub(super) id: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Owner {
    pub login: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct RepoPermissions {
    pub admin: bool,
    #[serde(default)]
    pub maintain: bool,
    pub push: bool,
    pub pull: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Repo {
    pub id: u64,
    pub full_name: String,
    pub private: bool,
    #[serde(default)]
    pub visibility: Option<String>,
    pub default_branch: String,
    #[serde(default)]
    pub archived: bool,
    pub owner: Owner,
    #[serde(default)]
    pub permissions: Option<RepoPermissions>,
    #[serde(default)]
    pub html_url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub(crate) struct Enabled {
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub(crate) struct BranchProtection {
    #[serde(default)]
    pub required_pull_request_reviews: Option<serde_json::Value>,
    #[serde(default)]
    pub required_status_checks: Option<serde_json::Value>,
    #[serde(default)]
    pub enforce_admins: Option<Enabled>,
    /// `{enabled}` with nothing required (`branch-protection`): `{}` is valid.
    #[serde(default)]
    pub allow_force_pushes: Option<MaybeEnabled>,
    #[serde(default)]
    pub allow_deletions: Option<MaybeEnabled>,
}

/// An `{enabled: boolean}` object whose `enabled` the description does not require.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub(crate) struct MaybeEnabled {
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub(crate) struct BranchRule {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
    #[serde(default)]
    pub ruleset_source_type: Option<String>,
    #[serde(default)]
    pub ruleset_source: Option<String>,
    #[serde(default)]
    pub ruleset_id: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct RulesetSummary {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub source_type: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    pub enforcement: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct BypassActor {
    #[serde(default)]
    pub actor_id: Option<u64>,
    pub actor_type: String,
    #[serde(default)]
    pub bypass_mode: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct RefNameCondition {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Conditions {
    #[serde(default)]
    pub ref_name: Option<RefNameCondition>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Rule {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Ruleset {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub source_type: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    pub enforcement: String,
    /// `None` means "not visible to this token", not "nobody".
    #[serde(default)]
    pub bypass_actors: Option<Vec<BypassActor>>,
    #[serde(default)]
    pub current_user_can_bypass: Option<String>,
    #[serde(default)]
    pub conditions: Option<Conditions>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct ActionsPermissions {
    pub enabled: bool,
    #[serde(default)]
    pub allowed_actions: Option<String>,
    #[serde(default)]
    pub selected_actions_url: Option<String>,
    #[serde(default)]
    pub sha_pinning_required: Option<bool>,
}

/// The `selected` policy (`selected-actions`): nothing in it is required.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct SelectedActions {
    #[serde(default)]
    pub github_owned_allowed: bool,
    #[serde(default)]
    pub verified_allowed: bool,
    #[serde(default)]
    pub patterns_allowed: Vec<String>,
}

/// A team as `repos/list-teams` lists it: only what a ruleset bypass actor needs.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct TeamSummary {
    pub id: u64,
    pub slug: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct WorkflowPermissions {
    pub default_workflow_permissions: String,
    pub can_approve_pull_request_reviews: bool,
}

/// Filters of the workflow-runs list (7a).
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub event: Option<String>,
    pub branch: Option<String>,
    pub head_sha: Option<String>,
    pub status: Option<String>,
    /// Search syntax: `>=2024-05-01T10:00:00Z` or `A..B`.
    pub created: Option<String>,
    pub actor: Option<String>,
    pub per_page: Option<u32>,
}

impl RunFilter {
    pub(super) fn query(&self) -> String {
        let mut url = Url::parse("http://x/").expect("static url");
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in [
                ("event", &self.event),
                ("branch", &self.branch),
                ("head_sha", &self.head_sha),
                ("status", &self.status),
                ("created", &self.created),
                ("actor", &self.actor),
            ] {
                if let Some(v) = v {
                    q.append_pair(k, v);
                }
            }
            if let Some(n) = self.per_page {
                q.append_pair("per_page", &n.to_string());
            }
        }
        match url.query() {
            Some(q) if !q.is_empty() => format!("?{q}"),
            _ => String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct RunList {
    #[allow(dead_code)]
    total_count: u64,
    pub(super) workflow_runs: Vec<WorkflowRun>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct WorkflowRun {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    pub workflow_id: u64,
    #[serde(default)]
    pub path: Option<String>,
    pub event: String,
    #[serde(default)]
    pub head_branch: Option<String>,
    pub head_sha: String,
    #[serde(default)]
    pub run_number: u64,
    #[serde(default)]
    pub run_attempt: Option<u64>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default)]
    pub display_title: Option<String>,
}

impl WorkflowRun {
    pub fn is_completed(&self) -> bool {
        self.status.as_deref() == Some("completed")
    }
    pub fn succeeded(&self) -> bool {
        self.is_completed() && self.conclusion.as_deref() == Some("success")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
    pub number: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Job {
    pub id: u64,
    pub run_id: u64,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub completed_at: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct DispatchedRun {
    pub workflow_run_id: u64,
    pub run_url: String,
    pub html_url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct MiniRepo {
    pub id: u64,
    pub full_name: String,
    #[serde(default)]
    pub private: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Package {
    pub id: u64,
    pub name: String,
    pub package_type: String,
    pub visibility: String,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub version_count: u64,
    #[serde(default)]
    pub owner: Option<Owner>,
    #[serde(default)]
    pub repository: Option<MiniRepo>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct ContainerMetadata {
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct VersionMetadata {
    #[serde(default)]
    pub package_type: String,
    #[serde(default)]
    pub container: Option<ContainerMetadata>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct PackageVersion {
    pub id: u64,
    /// For containers: the manifest digest `sha256:...`.
    pub name: String,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default)]
    pub metadata: Option<VersionMetadata>,
}

impl PackageVersion {
    pub fn tags(&self) -> &[String] {
        self.metadata
            .as_ref()
            .and_then(|m| m.container.as_ref())
            .map(|c| c.tags.as_slice())
            .unwrap_or(&[])
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct NewRelease {
    pub tag_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_commitish: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub draft: bool,
    pub prerelease: bool,
    /// `"true"`, `"false"` or `"legacy"` (a string, per the API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub make_latest: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    #[serde(default)]
    pub target_commitish: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub prerelease: bool,
    #[serde(default)]
    pub immutable: Option<bool>,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub published_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct GitObject {
    #[serde(rename = "type")]
    pub kind: String,
    pub sha: String,
    #[serde(default)]
    pub url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct GitRef {
    #[serde(rename = "ref")]
    pub full_ref: String,
    #[serde(default)]
    pub url: String,
    pub object: GitObject,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct TagObject {
    pub tag: String,
    pub sha: String,
    #[serde(default)]
    pub message: String,
    pub object: GitObject,
}
