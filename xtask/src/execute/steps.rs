//! The release's steps: one loop over the plan's steps still to do, matching on each
//! step's `plan::Action` and handing its data to one function per step. Each step checks
//! what is already done, so a rerun resumes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use super::observe::{Observation, github_client};
use super::resume::{ClockSource, PushClock, ResumeRecord, state_path, write_state};
use super::wait::{FindError, RunQuery, failure_message, find_run, push_run_filter, wait_run};
use super::{ReleaseOptions, operator, result_line, say};
use crate::checks::{Ctx, Report};
use crate::config::Config;
use crate::effects::git;
use crate::effects::github::{Github, WorkflowRun};
use crate::effects::registry::RegistryClient;
use crate::exit::policy;
use crate::flags::Format;
use crate::notes::{self, AttestationLine, CheckLine, NotesInput, PackageNotes};
use crate::plan::{self, Action, Plan, Request};
use crate::report::{self, Gate};
use crate::time::{now_epoch, rfc3339};
use crate::workspace::Workspace;

/// A release while its plan's steps run: what each step hands to the next.
pub(super) struct Releasing<'a> {
    ws: &'a Workspace,
    opts: &'a ReleaseOptions,
    plan: &'a Plan,
    obs: &'a Observation,
    registry: &'a RegistryClient,
    gh: Option<Github>,
    pub(super) version: String,
    /// The command that resumes this release.
    rerun: String,
    gate_lines: Vec<CheckLine>,
    gate_notes: Vec<String>,
    attestations: Vec<AttestationLine>,
    /// Whether this run created the tag.
    created_here: bool,
    /// When the tag was pushed, once known.
    clock: Option<PushClock>,
    /// The bound on finding and waiting for the run, set when the search starts.
    deadline: Option<Instant>,
    run: Option<WorkflowRun>,
    verified: Option<crate::verify::Verified>,
    notes: Option<WrittenNotes>,
    /// The steps done by this run, in order (into the JSON document as `executed`).
    pub(super) executed: Vec<plan::Step>,
}

/// The notes this run wrote.
struct WrittenNotes {
    input: NotesInput,
    internal: PathBuf,
    customer: PathBuf,
    record: PathBuf,
}

impl<'a> Releasing<'a> {
    pub(super) fn new(
        ws: &'a Workspace,
        opts: &'a ReleaseOptions,
        plan: &'a Plan,
        obs: &'a Observation,
        registry: &'a RegistryClient,
    ) -> Self {
        let req = &opts.request;
        let version = req.version.to_string();
        let rerun = format!(
            "cargo xtask release {version}{}",
            if req.latest { " --latest" } else { "" }
        );
        let resume = obs.resume.as_ref();
        let mut attestations = resume.map(|r| r.attestations.clone()).unwrap_or_default();
        for a in &opts.attestations.entries {
            if !attestations.iter().any(|x| x.id == a.id.id()) {
                attestations.push(AttestationLine {
                    id: a.id.id().to_string(),
                    by: a.by.clone(),
                    note: a.note.clone().unwrap_or_default(),
                });
            }
        }
        Releasing {
            ws,
            opts,
            plan,
            obs,
            registry,
            gh: None,
            version,
            rerun,
            gate_lines: resume.map(|r| r.gate.clone()).unwrap_or_default(),
            gate_notes: resume.map(|r| r.gate_notes.clone()).unwrap_or_default(),
            attestations,
            created_here: false,
            clock: None,
            deadline: None,
            run: None,
            verified: None,
            notes: None,
            executed: Vec::new(),
        }
    }

    /// The one loop: every step still to do, in the plan's order, one function each.
    pub(super) async fn walk(&mut self) -> anyhow::Result<()> {
        let plan = self.plan;
        for step in plan.todo() {
            match &step.action {
                Action::Preflight { after_push } => self.preflight(*after_push).await?,
                Action::CreateTag {
                    tag,
                    commit,
                    message,
                } => self.create_tag(tag, commit, message).await?,
                Action::PushTag {
                    remote,
                    tag,
                    commit,
                } => self.push_tag(remote, tag, commit).await?,
                Action::FindRun {
                    workflow,
                    tag,
                    commit,
                } => self.find_run(workflow, tag, commit).await?,
                Action::WaitRun => self.wait_run().await?,
                Action::Verify {
                    version,
                    components,
                    latest_before,
                    expect_latest,
                } => {
                    let input =
                        self.verify_input(version, components, latest_before, *expect_latest);
                    self.verify(input).await?
                }
                Action::WriteNotes {
                    customer,
                    record,
                    internal,
                } => self.write_notes(customer, record, internal).await?,
                Action::DraftRelease(draft) => self.draft_release(draft).await?,
            }
            self.executed.push(step.clone());
        }
        Ok(())
    }

    pub(super) async fn github(&mut self) -> anyhow::Result<&Github> {
        if self.gh.is_none() {
            self.gh = Some(github_client(&self.ws.config).await?);
        }
        Ok(self.gh.as_ref().expect("just set"))
    }

    /// The resume record for a push at `clock`.
    fn record(&self, clock: &PushClock) -> ResumeRecord {
        let plan = self.plan;
        ResumeRecord {
            version: self.version.clone(),
            tag: plan.tag.clone(),
            commit: plan.commit.clone(),
            moves_latest: plan.moves_latest,
            components: plan.components.clone(),
            latest_before: plan
                .packages
                .iter()
                .map(|p| (p.package.clone(), p.latest_before.clone()))
                .collect(),
            pushed_at: clock.at,
            pushed_at_clock: clock.source,
            gate: self.gate_lines.clone(),
            gate_notes: self.gate_notes.clone(),
            attestations: self.attestations.clone(),
        }
    }

    /// GitHub's clock now (the run of a push made after it is created after it).
    async fn github_clock(&mut self) -> anyhow::Result<PushClock> {
        let (owner, name) = self.ws.config.repo_owner_name();
        let gh = self.github().await?;
        PushClock::github(gh, owner, name).await
    }

    /// 1. The preflight gate (every error-severity check must pass).
    async fn preflight(&mut self, after_push: bool) -> anyhow::Result<()> {
        let (plan, config) = (self.plan, &self.ws.config);
        say(if after_push {
            format!(
                "preflight gate: {} was pushed from elsewhere without a resume record here, so whether a gate ran before it is unknown; running it now",
                plan.tag
            )
        } else {
            "preflight gate: running every preflight check".to_string()
        });
        let report = run_gate(self.ws, plan, &self.opts.request, self.opts).await?;
        let gate = Gate {
            deny_warnings: false,
            require_attestations: true,
            require_complete: true,
            readiness: crate::report::Readiness::Plain,
        };
        if report::exit_code(&report, gate) != crate::exit::OK {
            crate::note_part!(
                "{}",
                crate::secrets::redact_all(&report::render(
                    &report,
                    Format::Human,
                    gate,
                    "release gate",
                    &crate::preflight::help_base(config),
                ))
            );
            let rerun = &self.rerun;
            return Err(policy(if after_push {
                format!(
                    "preflight gate failed for {}, which was pushed from elsewhere: no notes were written; fix the failing checks above and rerun `{rerun}`",
                    plan.tag
                )
            } else {
                format!(
                    "preflight gate failed: nothing was tagged; fix the failing checks above and rerun `{rerun}`"
                )
            }));
        }
        say(format!("preflight gate passed ({})", summary(&report)));
        self.gate_lines = check_lines(&report);
        self.gate_notes = gate_notes(
            after_push,
            self.opts.request.allow_downgrade && plan.moves_latest,
        );
        Ok(())
    }

    /// 2. The resume record (before the tag exists, so a tag made here always has one),
    ///    then the annotated tag.
    async fn create_tag(&mut self, tag: &str, commit: &str, message: &str) -> anyhow::Result<()> {
        let clock = self.github_clock().await?;
        write_state(&self.ws.config, &self.record(&clock))?;
        git::create_annotated_tag(&self.ws.root, tag, commit, message)?;
        say(format!("created tag {tag} at {commit}"));
        self.created_here = true;
        Ok(())
    }

    /// 3. The push of exactly one tag, with the resume record written just before it.
    async fn push_tag(&mut self, remote: &str, tag: &str, commit: &str) -> anyhow::Result<()> {
        // GitHub's clock just before the push: the run of this push is created after it.
        let clock = self.github_clock().await?;
        let config = &self.ws.config;
        write_state(config, &self.record(&clock))?;
        push_exactly(
            &self.ws.root,
            remote,
            tag,
            commit,
            self.created_here,
            &self.rerun,
            &state_path(config, &self.version),
        )?;
        say(format!(
            "pushed tag {tag} to {remote}; it peels to {commit}"
        ));
        self.clock = Some(clock);
        Ok(())
    }

    /// When an earlier run (or someone elsewhere) pushed the tag: the push time from the
    /// resume record, else from the tag's own date.
    fn pushed_clock(&mut self) -> anyhow::Result<PushClock> {
        let (plan, config, root) = (self.plan, &self.ws.config, &self.ws.root);
        if git::try_rev_parse(root, &format!("refs/tags/{}", plan.tag))?.is_none() {
            // Pushed from another clone: verify and the notes read the local tag.
            git::fetch_tag(root, &config.raw.repository.remote, &plan.tag)?;
        }
        if let Some(r) = &self.obs.resume {
            return Ok(PushClock {
                at: r.pushed_at,
                source: r.pushed_at_clock,
            });
        }
        let at = git::tag_date(root, &plan.tag)?.unwrap_or(0);
        say(format!(
            "no resume record for {} (it was pushed from elsewhere): looking for runs created after the tag's date ({}); `latest` before is what the registry showed just now",
            plan.tag,
            rfc3339(at)
        ));
        let clock = PushClock {
            at,
            source: ClockSource::TagDate,
        };
        // Keep what the gate found: a rerun after an interruption must not lose it.
        write_state(config, &self.record(&clock))?;
        Ok(clock)
    }

    /// 4. The publish run for this push.
    async fn find_run(&mut self, workflow: &str, tag: &str, commit: &str) -> anyhow::Result<()> {
        let clock = match self.clock {
            Some(c) => c,
            None => self.pushed_clock()?,
        };
        self.clock = Some(clock);
        let config = &self.ws.config;
        let deadline = Instant::now() + self.opts.timeout;
        self.deadline = Some(deadline);
        let filter = push_run_filter(commit, &clock);
        say(format!(
            "waiting for the {workflow} run of push {tag} at {}: {}",
            &commit[..commit.len().min(12)],
            clock.describe()
        ));
        let (opts, rerun) = (self.opts, self.rerun.clone());
        let gh = self.github().await?;
        let query = RunQuery {
            repo: config.repo_owner_name(),
            workflow,
            filter,
            tag: Some(tag),
            earliest: clock.earliest(),
        };
        let run = find_run(gh, &query, deadline, opts.poll)
            .await
        .map_err(|e| match e {
            FindError::Timeout => policy(format!(
                "no publish run appeared for tag {tag} at commit {commit} within {} s (--timeout): Actions may be disabled or the workflow's triggers may not match the tag; check `cargo xtask preflight --only actions-enabled --only workflow-triggers`, then rerun `{rerun}` to keep waiting",
                opts.timeout.as_secs()
            )),
            FindError::Other(e) => e,
        })?;
        say(format!("found run {}: {}", run.id, run.html_url));
        self.run = Some(run);
        Ok(())
    }

    /// 5. The wait for the run to complete successfully.
    async fn wait_run(&mut self) -> anyhow::Result<()> {
        let found = self.run.clone().expect("find-run precedes wait-run");
        let deadline = self.deadline.expect("set by find-run");
        let (opts, rerun) = (self.opts, self.rerun.clone());
        let owner_name = self.ws.config.repo_owner_name();
        let gh = self.github().await?;
        let (run, jobs) = wait_run(gh, owner_name, found.id, deadline, opts.poll)
            .await
            .map_err(|e| match e {
                FindError::Timeout => policy(format!(
                    "timed out after {} s (--timeout) waiting for publish run {} ({}); rerun `{rerun}` to resume the wait, or raise --timeout",
                    opts.timeout.as_secs(),
                    found.id,
                    found.html_url
                )),
                FindError::Other(e) => e,
            })?;
        if !run.succeeded() {
            return Err(policy(format!(
                "{}; no notes were written; read the run log, fix the cause, re-run the workflow run on GitHub, then rerun `{rerun}` (it finds the newest run for the tag)",
                failure_message(&run, &jobs)
            )));
        }
        say(format!("run {} succeeded", run.id));
        self.run = Some(run);
        Ok(())
    }

    fn verify_input(
        &self,
        version: &str,
        components: &[String],
        latest_before: &str,
        expect_latest: bool,
    ) -> crate::verify::VerifyInput {
        crate::verify::VerifyInput {
            version: version.to_string(),
            components: components.to_vec(),
            only: Vec::new(),
            latest_before: Some(latest_before.to_string()),
            expect_latest: Some(expect_latest),
            delivery: false,
            offline: false,
            // What the registry's bytes are, too: every image runs and holds only its files.
            deep: true,
            skip: self.opts.skip_checks.clone(),
            recorded: None,
        }
    }

    /// 6. Verify against the registry, with the recorded `latest` before.
    async fn verify(&mut self, input: crate::verify::VerifyInput) -> anyhow::Result<()> {
        let mut verified = crate::verify::verify(self.ws, self.registry, &input).await?;
        // The first release: the public editions were created private (a package first
        // pushed by a workflow inherits the private repository's visibility), and only an
        // org admin can make them public, once, in the web UI.
        if verified.fails_only_for_visibility_flips() {
            self.first_release_flips(&verified).await?;
            verified = crate::verify::verify(self.ws, self.registry, &input).await?;
        }
        let config = &self.ws.config;
        if verified.failed() {
            crate::note_part!(
                "{}",
                crate::secrets::redact_all(&crate::verify::render(
                    &verified,
                    Format::Human,
                    &crate::preflight::help_base(config)
                ))
            );
            return Err(policy(format!(
                "verify failed after a successful publish run ({}); no notes were written; follow the failed checks' fixes above, then rerun `{}` to verify again and write the notes",
                self.run_url(),
                self.rerun
            )));
        }
        say(format!("verify passed ({})", summary(&verified.report)));
        self.verified = Some(verified);
        Ok(())
    }

    fn run_url(&self) -> String {
        self.run
            .as_ref()
            .map(|r| r.html_url.clone())
            .unwrap_or_default()
    }

    /// The org admin's one-way visibility flips of a first release: done by `--rehearse`'s
    /// admin, else the release stops with the admin's instructions.
    async fn first_release_flips(&self, verified: &crate::verify::Verified) -> anyhow::Result<()> {
        let config = &self.ws.config;
        for o in verified
            .report
            .outcomes
            .iter()
            .filter(|o| o.status == crate::checks::Status::Fail)
        {
            say(format!("verify: FAIL {}: {}", o.id.id(), o.message));
        }
        if let Some(admin) = &self.opts.admin {
            for p in &verified.visibility_flips {
                say((admin.0)(&format!("{}/{p}", config.org())).await?);
            }
            return Ok(());
        }
        let urls: Vec<String> = verified
            .visibility_flips
            .iter()
            .map(|p| {
                crate::effects::registry::package_settings_url(&format!("{}/{p}", config.org()))
            })
            .collect();
        crate::say_part!(
            "{}",
            crate::secrets::redact_all(&crate::verify::render(
                verified,
                Format::Human,
                &crate::preflight::help_base(config)
            ))
        );
        Err(policy(format!(
            "first release: the publish run ({}) created {} private, as ghcr.io does for packages a workflow of a private repository creates; no notes were written. An org admin must now make each public once (this cannot be undone): open {}, Danger Zone → Change visibility → Public. Then rerun `{}` to verify again and write the notes",
            self.run_url(),
            verified.visibility_flips.join(", "),
            urls.join(", "),
            self.rerun
        )))
    }

    /// The notes' and the record's package entries, from what verify saw.
    async fn package_entries(
        &self,
        verified: &crate::verify::Verified,
    ) -> anyhow::Result<(Vec<PackageNotes>, Vec<crate::record::Package>)> {
        let (rerun, version) = (&self.rerun, &self.version);
        let by_pkg: BTreeMap<&str, &crate::verify::PackageState> = verified
            .packages
            .iter()
            .map(|p| (p.image.package.as_str(), p))
            .collect();
        let mut packages = Vec::new();
        let mut record_packages = Vec::new();
        for p in &self.plan.packages {
            let state = by_pkg.get(p.package.as_str()).ok_or_else(|| {
                policy(format!(
                    "verify did not report {}; rerun `{rerun}`",
                    p.package
                ))
            })?;
            let digest = state
                .semver
                .as_ref()
                .map(|r| r.digest.clone())
                .ok_or_else(|| {
                    policy(format!(
                        "{}:{version} is missing from the registry; rerun `{rerun}`",
                        p.repository
                    ))
                })?;
            record_packages.push(
                crate::verify::from_record::record_package(
                    self.registry,
                    state,
                    p.tags.clone(),
                    p.latest_before.clone(),
                )
                .await?,
            );
            packages.push(PackageNotes {
                package: p.package.clone(),
                component: p.component.clone(),
                edition: p.edition.clone(),
                visibility: p.visibility,
                repository: p.repository.clone(),
                tags: p.tags.clone(),
                digest,
                latest_before: p.latest_before.clone(),
                latest_after: state.latest.as_ref().map(|r| r.digest.clone()),
            });
        }
        Ok((packages, record_packages))
    }

    /// What the notes say: the plan, the gate and what verify saw.
    async fn notes_input(
        &self,
        verified: &crate::verify::Verified,
    ) -> anyhow::Result<(
        NotesInput,
        Vec<crate::record::Package>,
        Vec<crate::record::Check>,
    )> {
        let (plan, config) = (self.plan, &self.ws.config);
        let verify_lines = check_lines(&verified.report);
        let mut record_checks = crate::record::checks("gate", &self.gate_lines);
        record_checks.extend(crate::record::checks("verify", &verify_lines));
        let mut checks = self.gate_lines.clone();
        checks.extend(verify_lines);
        let mut gate_notes = self.gate_notes.clone();
        if gate_notes.is_empty() {
            gate_notes.push(
                "No record of the gate's run was found (the resume record was missing when the notes were written): whether a gate ran before the push is unknown.".to_string(),
            );
        }
        let (packages, record_packages) = self.package_entries(verified).await?;
        let input = NotesInput {
            version: self.version.clone(),
            tag: plan.tag.clone(),
            commit: plan.commit.clone(),
            run_url: Some(self.run_url()),
            written_at: rfc3339(now_epoch()),
            moves_latest: plan.moves_latest,
            latest_reason: plan.latest_reason.clone(),
            packages,
            checks,
            gate: gate_notes,
            attestations: self.attestations.clone(),
            sdk_repository: config.raw.customer.sdk_repository.clone(),
            catalog_repository: config.raw.customer.catalog_repository.clone(),
        };
        Ok((input, record_packages, record_checks))
    }

    /// 7. The notes: the customer variant first, so the internal notes (the "done" marker)
    ///    never exist without it, and the release record before the internal notes.
    async fn write_notes(
        &mut self,
        customer: &Path,
        record: &Path,
        internal: &Path,
    ) -> anyhow::Result<()> {
        let verified = self.verified.take().expect("verify precedes the notes");
        let (input, record_packages, record_checks) = self.notes_input(&verified).await?;
        let release_record =
            self.release_record(&input, &verified, record_packages, record_checks)?;
        let write = |path: &Path, text: String| {
            crate::fsx::write_atomic(path, text.as_bytes()).with_context(|| {
                format!(
                    "writing {}; rerun `{}` to write the notes",
                    path.display(),
                    self.rerun
                )
            })
        };
        write(customer, notes::render_customer(&input))?;
        write(record, release_record.to_json())?;
        write(internal, notes::render_internal(&input))?;
        let _ = std::fs::remove_file(state_path(&self.ws.config, &self.version));
        self.notes = Some(WrittenNotes {
            input,
            customer: customer.to_path_buf(),
            record: record.to_path_buf(),
            internal: internal.to_path_buf(),
        });
        Ok(())
    }

    /// The release record (`docs/release-record.md`).
    fn release_record(
        &self,
        input: &NotesInput,
        verified: &crate::verify::Verified,
        packages: Vec<crate::record::Package>,
        checks: Vec<crate::record::Check>,
    ) -> anyhow::Result<crate::record::ReleaseRecord> {
        let (plan, config) = (self.plan, &self.ws.config);
        Ok(crate::record::ReleaseRecord {
            schema: crate::record::SCHEMA.into(),
            schema_version: crate::record::SCHEMA_VERSION,
            version: self.version.clone(),
            tag: plan.tag.clone(),
            commit: plan.commit.clone(),
            run_url: input.run_url.clone(),
            written_at: input.written_at.clone(),
            registry: config.registry_host(),
            org: config.org().to_string(),
            components: plan.components.clone(),
            moves_latest: plan.moves_latest,
            latest_reason: plan.latest_reason.clone(),
            latest_tag: config.raw.tags.latest.clone(),
            verify_skipped: verified
                .report
                .outcomes
                .iter()
                .filter(|o| {
                    crate::verify::DEEP.contains(&o.id) && o.status == crate::checks::Status::Skip
                })
                .map(|o| o.id.id().to_string())
                .collect(),
            packages,
            checks,
            attestations: input.attestations.clone(),
            release_toml: std::fs::read_to_string(&config.path).with_context(|| {
                format!("reading {} for the release record", config.path.display())
            })?,
        })
    }

    /// 8. Optionally, the GitHub release as a draft, with the customer notes as its body.
    async fn draft_release(&mut self, draft: &plan::Draft) -> anyhow::Result<()> {
        let config = &self.ws.config;
        let body = match &self.notes {
            Some(n) => notes::render_customer(&n.input),
            // Written by an earlier run.
            None => std::fs::read_to_string(notes::customer_path(config, &self.version))
                .unwrap_or_default(),
        };
        let gh = self.github().await?;
        draft_release(gh, config, draft, &body).await
    }

    /// The result: lines for people, and `released` in the JSON document.
    pub(super) fn report_released(
        &self,
        doc: &mut serde_json::Map<String, serde_json::Value>,
    ) -> anyhow::Result<()> {
        let (plan, version, format) = (self.plan, &self.version, self.opts.format);
        let n = self.notes.as_ref().expect("the notes step ran");
        let run_url = self.run_url();
        result_line(
            format,
            format!("released {version} as {} ({run_url})", plan.tag),
        );
        for p in &n.input.packages {
            result_line(format, format!("  {}", p.reference(version)));
        }
        result_line(
            format,
            format!(
                "notes: {}, {} and the record {}; commit them through review",
                n.internal.display(),
                n.customer.display(),
                n.record.display()
            ),
        );
        doc.insert(
            "released".into(),
            serde_json::json!({
                "tag": plan.tag,
                "run_url": run_url,
                "references": n.input.packages.iter().map(|p| p.reference(version)).collect::<Vec<_>>(),
                "notes": [n.internal.display().to_string(), n.customer.display().to_string()],
                "record": n.record.display().to_string(),
            }),
        );
        Ok(())
    }
}

async fn draft_release(
    gh: &Github,
    config: &Config,
    draft: &plan::Draft,
    body: &str,
) -> anyhow::Result<()> {
    let (owner, name) = config.repo_owner_name();
    let new = crate::effects::github::NewRelease {
        tag_name: draft.tag.clone(),
        target_commitish: Some(draft.commit.clone()),
        name: Some(draft.name.clone()),
        body: Some(body.to_string()),
        draft: true,
        prerelease: draft.prerelease,
        make_latest: None,
    };
    match gh.create_release(owner, name, &new).await {
        Ok(r) => {
            say(format!(
                "created draft release {} ({})",
                r.tag_name, r.html_url
            ));
            Ok(())
        }
        Err(e) => match crate::effects::github::GithubError::find(&e) {
            Some(crate::effects::github::GithubError::Validation { codes, .. })
                if codes.iter().any(|c| c == "already_exists") =>
            {
                say(format!("the GitHub release {} already exists", draft.tag));
                Ok(())
            }
            _ => Err(e.context(format!("creating the draft release {}", draft.tag))),
        },
    }
}

/// What the notes say about the gate that just passed: when it ran and by whom (after the
/// push, for a tag pushed from elsewhere), and a downgrade of `latest` that was allowed.
fn gate_notes(after_push: bool, downgrade_allowed: bool) -> Vec<String> {
    let (at, by) = (rfc3339(now_epoch()), operator());
    let mut notes = vec![if after_push {
        format!(
            "The tag was pushed from elsewhere: whether a gate ran before the push is unknown. This gate ran after the push, at {at}, by {by}."
        )
    } else {
        format!("The gate ran before the tag was created, at {at}, by {by}.")
    }];
    if downgrade_allowed {
        notes.push(format!(
            "`latest` was allowed to move to a lower version with --allow-downgrade, by {by}."
        ));
    }
    notes
}

/// Pushes exactly the release tag and confirms the remote's tag peels to the commit. A tag
/// of that name pushed by someone else meanwhile (the gate takes minutes) is named as such,
/// not as a credentials problem; the tag made here is then removed, so a rerun judges theirs.
fn push_exactly(
    root: &std::path::Path,
    remote: &str,
    tag: &str,
    commit: &str,
    created_here: bool,
    rerun: &str,
    state: &std::path::Path,
) -> anyhow::Result<()> {
    let refname = format!("refs/tags/{tag}");
    let theirs = |at: Option<&String>| -> anyhow::Error {
        // Their tag is not ours: neither our tag nor our record of it stays.
        if created_here {
            let _ = git::delete_local_tag(root, tag);
        }
        let _ = std::fs::remove_file(state);
        match at {
            Some(sha) if sha == commit => policy(format!(
                "someone else pushed tag {} to `{remote}` at this commit while the gate ran; nothing of ours was pushed; rerun `{rerun}` to follow that release (its gate's run is unknown, so the rerun runs the gate again and the notes say so)",
                tag
            )),
            Some(sha) => policy(format!(
                "someone else pushed tag {} to `{remote}` at commit {sha}, not {}, while the gate ran; nothing of ours was pushed; releases are immutable: choose a new version",
                tag, commit
            )),
            None => policy(format!(
                "the tag {} was not on `{remote}` after the push; inspect it with `git ls-remote {remote} {refname}` before rerunning",
                tag
            )),
        }
    };
    // Asked again just before the push: the gate may have run for minutes.
    let before = git::ls_remote(root, remote, std::slice::from_ref(&refname))?;
    if let Some(sha) = before.get(&refname) {
        return Err(theirs(Some(sha)));
    }
    if let Err(e) = git::push_tag(root, remote, tag) {
        let now = git::ls_remote(root, remote, std::slice::from_ref(&refname))?;
        return match now.get(&refname) {
            // Our push may have landed before the error (a lost connection): then it is ours.
            Some(sha) if sha == commit && remote_tag_is_ours(root, remote, tag)? => Ok(()),
            Some(sha) => Err(theirs(Some(sha))),
            None => Err(e),
        };
    }
    let refs = git::ls_remote(root, remote, std::slice::from_ref(&refname))?;
    match refs.get(&refname) {
        Some(sha) if sha == commit => Ok(()),
        other => Err(policy(format!(
            "after the push, {remote}'s tag {} peels to {}, not {}; inspect it with `git ls-remote {remote} {refname}` before rerunning",
            tag,
            other.map(String::as_str).unwrap_or("nothing"),
            commit,
        ))),
    }
}

/// Whether the remote's tag object is the one made here (same object id as the local tag).
fn remote_tag_is_ours(root: &std::path::Path, remote: &str, tag: &str) -> anyhow::Result<bool> {
    let refname = format!("refs/tags/{tag}");
    let local = git::local_ref_object(root, &refname)?;
    let theirs = git::remote_ref_object(root, remote, &refname)?;
    Ok(local.is_some() && theirs == local)
}

/// The preflight gate for this release. Checks skipped with `--skip-checks` are not run at
/// all (an area with no selected id does no work) and appear as skips that say so.
async fn run_gate(
    ws: &Workspace,
    plan: &Plan,
    req: &Request,
    opts: &ReleaseOptions,
) -> anyhow::Result<Report> {
    let skipped = |id: crate::checks::CheckId| {
        opts.skip_checks
            .iter()
            .find(|p| crate::preflight::skip_matches(p, id))
    };
    let who = operator();
    let run: Vec<crate::checks::CheckId> = crate::checks::ALL
        .iter()
        .copied()
        .filter(|id| crate::preflight::runs(*id) && skipped(*id).is_none())
        .collect();
    let ctx = Ctx {
        ws: ws.clone(),
        components: plan.components.clone(),
        // Every check unless something is skipped: then exactly the others, by full id.
        only: if opts.skip_checks.is_empty() {
            Vec::new()
        } else {
            run.iter().map(|id| id.id().to_string()).collect()
        },
        offline: false,
        release: Some(req.version.clone()),
    };
    let mut report = crate::preflight::gate(&ctx, &opts.attestations).await?;
    report.outcomes.retain(|o| skipped(o.id).is_none());
    for id in crate::checks::ALL.iter().copied() {
        if let Some(prefix) = skipped(id).filter(|_| crate::preflight::runs(id)) {
            report.push(crate::checks::Outcome::skip(
                id,
                format!("by {who} with --skip-checks {prefix}"),
                "release without --skip-checks, or run `cargo xtask preflight` for these checks",
            ));
        }
    }
    Ok(report)
}

fn check_lines(report: &Report) -> Vec<CheckLine> {
    report
        .outcomes
        .iter()
        .map(|o| CheckLine {
            id: o.id.id().to_string(),
            status: report::status_str(o.status).to_string(),
            message: o.message.clone(),
        })
        .collect()
}

fn summary(report: &Report) -> String {
    report::counts(report)
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}
