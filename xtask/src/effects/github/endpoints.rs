//! The endpoints the tool calls, one method each, grouped by the section numbers of
//! `github-and-ghcr-api.md`.

use super::*;

impl Github {
    /// GitHub's clock now: the `Date` header of a fresh answer about the repository (a 304
    /// carries one too, and costs nothing against the limit). `None` when the answer has no
    /// usable `Date` (a proxy may strip it).
    pub async fn server_time(&self, owner: &str, repo: &str) -> anyhow::Result<Option<u64>> {
        Ok(self
            .call(Method::GET, &Self::repo_path(owner, repo), None)
            .await?
            .date)
    }

    // --- 2. repository ---

    pub async fn repo(&self, owner: &str, repo: &str) -> anyhow::Result<Repo> {
        self.get_json(&Self::repo_path(owner, repo)).await
    }

    // --- 3. branch protection and branch rules ---

    /// Classic protection; `Ok(None)` for 404 "Branch not protected".
    pub(crate) async fn branch_protection(
        &self,
        owner: &str,
        repo: &str,
        branch: &str,
    ) -> anyhow::Result<Option<BranchProtection>> {
        let path = format!(
            "{}/branches/{}/protection",
            Self::repo_path(owner, repo),
            enc(branch)
        );
        match self.get_json(&path).await {
            Ok(p) => Ok(Some(p)),
            Err(e) => match GithubError::find(&e) {
                Some(GithubError::NotFound { message, .. })
                    if message.eq_ignore_ascii_case("Branch not protected") =>
                {
                    Ok(None)
                }
                _ => Err(e),
            },
        }
    }

    /// Active ruleset rules applying to a branch (3b).
    pub(crate) async fn branch_rules(
        &self,
        owner: &str,
        repo: &str,
        branch: &str,
    ) -> anyhow::Result<Vec<BranchRule>> {
        let path = format!(
            "{}/rules/branches/{}",
            Self::repo_path(owner, repo),
            enc(branch)
        );
        self.get_paged(&path, None).await
    }

    // --- 4. rulesets ---

    pub async fn rulesets(&self, owner: &str, repo: &str) -> anyhow::Result<Vec<RulesetSummary>> {
        let path = format!(
            "{}/rulesets?includes_parents=true",
            Self::repo_path(owner, repo)
        );
        self.get_paged(&path, None).await
    }

    pub async fn ruleset(&self, owner: &str, repo: &str, id: u64) -> anyhow::Result<Ruleset> {
        self.get_json(&format!("{}/rulesets/{id}", Self::repo_path(owner, repo)))
            .await
    }

    /// A team's numeric id (ruleset bypass actors name teams by id).
    pub async fn team_id(&self, org: &str, slug: &str) -> anyhow::Result<u64> {
        let t: IdOnly = self
            .get_json(&format!("/orgs/{}/teams/{}", enc(org), enc(slug)))
            .await?;
        Ok(t.id)
    }

    /// Teams with access to the repository (needs only `repo`, where the organisation's team
    /// endpoint needs `read:org`).
    pub async fn repo_teams(&self, owner: &str, repo: &str) -> anyhow::Result<Vec<TeamSummary>> {
        self.get_paged(&format!("{}/teams", Self::repo_path(owner, repo)), None)
            .await
    }

    /// A user's numeric id.
    pub async fn user_id(&self, login: &str) -> anyhow::Result<u64> {
        let u: IdOnly = self.get_json(&format!("/users/{}", enc(login))).await?;
        Ok(u.id)
    }

    // --- 5, 6. actions permissions ---

    pub async fn actions_permissions(
        &self,
        owner: &str,
        repo: &str,
    ) -> anyhow::Result<ActionsPermissions> {
        self.get_json(&format!(
            "{}/actions/permissions",
            Self::repo_path(owner, repo)
        ))
        .await
    }

    /// The `selected` actions policy (when `allowed_actions` is `selected`).
    pub async fn selected_actions(
        &self,
        owner: &str,
        repo: &str,
    ) -> anyhow::Result<SelectedActions> {
        self.get_json(&format!(
            "{}/actions/permissions/selected-actions",
            Self::repo_path(owner, repo)
        ))
        .await
    }

    pub async fn workflow_permissions(
        &self,
        owner: &str,
        repo: &str,
    ) -> anyhow::Result<WorkflowPermissions> {
        self.get_json(&format!(
            "{}/actions/permissions/workflow",
            Self::repo_path(owner, repo)
        ))
        .await
    }

    // --- 7. workflow runs ---

    fn runs_path(owner: &str, repo: &str, workflow: &str, filter: &RunFilter) -> String {
        format!(
            "{}/actions/workflows/{}/runs{}",
            Self::repo_path(owner, repo),
            enc(workflow),
            filter.query()
        )
    }

    /// Runs of a workflow (id or file name), newest first, all pages.
    pub async fn workflow_runs(
        &self,
        owner: &str,
        repo: &str,
        workflow: &str,
        filter: &RunFilter,
    ) -> anyhow::Result<Vec<WorkflowRun>> {
        let path = Self::runs_path(owner, repo, workflow, filter);
        self.get_paged(&path, Some("workflow_runs")).await
    }

    /// One page of runs only (what a poll loop wants: the newest few, cheaply via ETag).
    pub async fn workflow_runs_first_page(
        &self,
        owner: &str,
        repo: &str,
        workflow: &str,
        filter: &RunFilter,
    ) -> anyhow::Result<Vec<WorkflowRun>> {
        let path = Self::runs_path(owner, repo, workflow, filter);
        let list: RunList = self.get_json(&path).await?;
        Ok(list.workflow_runs)
    }

    pub async fn workflow_run(
        &self,
        owner: &str,
        repo: &str,
        id: u64,
    ) -> anyhow::Result<WorkflowRun> {
        self.get_json(&format!(
            "{}/actions/runs/{id}",
            Self::repo_path(owner, repo)
        ))
        .await
    }

    pub async fn run_jobs(&self, owner: &str, repo: &str, id: u64) -> anyhow::Result<Vec<Job>> {
        self.get_paged(
            &format!("{}/actions/runs/{id}/jobs", Self::repo_path(owner, repo)),
            Some("jobs"),
        )
        .await
    }

    // --- 8. dispatch ---

    /// Dispatches a workflow. Under `API_2026` (or with `return_run_details` under
    /// `API_2022`) the answer names the run; otherwise it is `None` and the caller finds the
    /// run through the runs list.
    pub async fn dispatch(
        &self,
        owner: &str,
        repo: &str,
        workflow: &str,
        git_ref: &str,
        inputs: &serde_json::Map<String, serde_json::Value>,
        return_run_details: bool,
    ) -> anyhow::Result<Option<DispatchedRun>> {
        let path = format!(
            "{}/actions/workflows/{}/dispatches",
            Self::repo_path(owner, repo),
            enc(workflow)
        );
        let mut body = serde_json::json!({"ref": git_ref, "inputs": inputs});
        // The field was removed in 2026-03-10 (always 200 there); older servers reject it.
        if return_run_details && self.api_version == API_2022 {
            body["return_run_details"] = serde_json::Value::Bool(true);
        }
        let (_, run) = self.send_json(Method::POST, &path, &body).await?;
        Ok(run)
    }

    // --- 9. packages ---

    /// The organisation's packages of a type (`container`), all pages.
    pub async fn org_packages(
        &self,
        org: &str,
        package_type: &str,
    ) -> anyhow::Result<Vec<Package>> {
        self.get_paged(
            &format!(
                "/orgs/{}/packages?package_type={}",
                enc(org),
                enc(package_type)
            ),
            None,
        )
        .await
    }

    /// One package; `name` is percent-encoded here (`app/worker` → `app%2Fworker`).
    pub async fn org_package(
        &self,
        org: &str,
        package_type: &str,
        name: &str,
    ) -> anyhow::Result<Package> {
        self.get_json(&format!(
            "/orgs/{}/packages/{}/{}",
            enc(org),
            enc(package_type),
            enc(name)
        ))
        .await
    }

    pub async fn org_package_versions(
        &self,
        org: &str,
        package_type: &str,
        name: &str,
    ) -> anyhow::Result<Vec<PackageVersion>> {
        self.get_paged(
            &format!(
                "/orgs/{}/packages/{}/{}/versions",
                enc(org),
                enc(package_type),
                enc(name)
            ),
            None,
        )
        .await
    }

    // --- 10. releases ---

    pub async fn create_release(
        &self,
        owner: &str,
        repo: &str,
        new: &NewRelease,
    ) -> anyhow::Result<Release> {
        let body = serde_json::to_value(new)?;
        let (_, rel) = self
            .send_json(
                Method::POST,
                &format!("{}/releases", Self::repo_path(owner, repo)),
                &body,
            )
            .await?;
        rel.ok_or_else(|| exit::external("POST releases: empty answer"))
    }

    /// The published release for a tag; `Ok(None)` when there is none (drafts are invisible).
    pub async fn release_by_tag(
        &self,
        owner: &str,
        repo: &str,
        tag: &str,
    ) -> anyhow::Result<Option<Release>> {
        let path = format!(
            "{}/releases/tags/{}",
            Self::repo_path(owner, repo),
            enc(tag)
        );
        not_found_is_none(self.get_json(&path).await)
    }

    // --- 11. git refs ---

    /// An exact ref such as `tags/v1.2.3`; `Ok(None)` if missing.
    pub async fn git_ref(
        &self,
        owner: &str,
        repo: &str,
        r: &str,
    ) -> anyhow::Result<Option<GitRef>> {
        let path = format!("{}/git/ref/{}", Self::repo_path(owner, repo), enc_ref(r));
        not_found_is_none(self.get_json(&path).await)
    }

    /// Refs starting with `prefix` (e.g. `tags/v1.2`); filter for exact matches yourself.
    pub async fn matching_refs(
        &self,
        owner: &str,
        repo: &str,
        prefix: &str,
    ) -> anyhow::Result<Vec<GitRef>> {
        let path = format!(
            "{}/git/matching-refs/{}",
            Self::repo_path(owner, repo),
            enc_ref(prefix)
        );
        // The operation declares no query parameters (no `per_page`); it still sends `Link`.
        self.get_paged_with(&path, None, false).await
    }

    /// An annotated tag object, to peel it to its commit.
    pub async fn tag_object(
        &self,
        owner: &str,
        repo: &str,
        sha: &str,
    ) -> anyhow::Result<TagObject> {
        self.get_json(&format!(
            "{}/git/tags/{}",
            Self::repo_path(owner, repo),
            enc(sha)
        ))
        .await
    }

    /// Creates `refs/tags/...` pointing at `sha`.
    pub async fn create_ref(
        &self,
        owner: &str,
        repo: &str,
        full_ref: &str,
        sha: &str,
    ) -> anyhow::Result<GitRef> {
        let body = serde_json::json!({"ref": full_ref, "sha": sha});
        let (_, r) = self
            .send_json(
                Method::POST,
                &format!("{}/git/refs", Self::repo_path(owner, repo)),
                &body,
            )
            .await?;
        r.ok_or_else(|| exit::external("POST git/refs: empty answer"))
    }
}
