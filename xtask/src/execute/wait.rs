//! Finding and waiting for a workflow run: the run search (`find_run`, by commit, event,
//! tag and creation time), the wait with its live view (`wait_run`), the poll intervals
//! (ETag polls cost no rate limit while nothing changes) and the failure message naming the
//! failed job and step. `release` and `promote` share them.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use super::resume::PushClock;
use crate::effects::github::{Github, Job, RunFilter, WorkflowRun};
use crate::time::{now_epoch, parse_rfc3339, rfc3339};

/// How often to poll GitHub while waiting.
#[derive(Debug, Clone, Copy)]
pub struct Poll {
    /// The interval after a change (and at the start).
    pub initial: Duration,
    /// The longest interval while nothing changes.
    pub max: Duration,
}

impl Default for Poll {
    fn default() -> Self {
        Poll {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(10),
        }
    }
}

/// Why a wait ended without its answer.
#[derive(Debug)]
pub enum FindError {
    /// The deadline passed.
    Timeout,
    Other(anyhow::Error),
}

impl From<anyhow::Error> for FindError {
    fn from(e: anyhow::Error) -> Self {
        FindError::Other(e)
    }
}

/// The interval to sleep next: back to `initial` after a change, else 1.5× up to `max`, and
/// never faster than the remaining rate-limit budget allows.
pub(crate) fn next_interval(gh: &Github, current: Duration, changed: bool, poll: Poll) -> Duration {
    interval_after(
        current,
        changed,
        poll,
        gh.stats().last_rate.as_ref(),
        now_epoch(),
    )
}

/// `next_interval` with the rate-limit headers and the clock passed in.
pub(crate) fn interval_after(
    current: Duration,
    changed: bool,
    poll: Poll,
    rate: Option<&crate::effects::github::RateLimit>,
    now: u64,
) -> Duration {
    let mut next = if changed {
        poll.initial
    } else {
        current.mul_f32(1.5).clamp(poll.initial, poll.max)
    };
    if let Some((Some(remaining), Some(reset))) = rate.map(|r| (r.remaining, r.reset)) {
        // Spread what is left of the window over the time until it resets, keeping the
        // budget from running dry while a long run is watched.
        if remaining < 100 {
            let left = reset.saturating_sub(now).max(1);
            next = next.max(Duration::from_secs(left / remaining.max(1)));
        }
    }
    next
}

async fn sleep_until_or_deadline(interval: Duration, deadline: Instant) -> bool {
    let now = Instant::now();
    if now >= deadline {
        return false;
    }
    tokio::time::sleep(interval.min(deadline - now)).await;
    true
}

/// The runs-list filter for the publish run of a tag push of `commit` (see `find_run`).
pub fn push_run_filter(commit: &str, clock: &PushClock) -> RunFilter {
    RunFilter {
        event: Some("push".into()),
        head_sha: Some(commit.to_string()),
        created: Some(format!(">={}", rfc3339(clock.earliest()))),
        per_page: Some(20),
        ..RunFilter::default()
    }
}

/// Which run to look for: the runs of `workflow` in `repo` matching `filter`, whose
/// `head_sha` is the filter's commit, whose `head_branch` (when set) is `tag`, created at or
/// after `earliest` (`PushClock::earliest`: the push time with its clock's tolerance).
#[derive(Debug, Clone)]
pub struct RunQuery<'a> {
    pub repo: (&'a str, &'a str),
    pub workflow: &'a str,
    pub filter: RunFilter,
    pub tag: Option<&'a str>,
    pub earliest: u64,
}

/// Polls until a run matches `query`, up to `deadline`. The newest such run wins; an earlier
/// run is never taken.
pub async fn find_run(
    gh: &Github,
    query: &RunQuery<'_>,
    deadline: Instant,
    poll: Poll,
) -> Result<WorkflowRun, FindError> {
    let RunQuery {
        repo: (owner, repo),
        workflow,
        ref filter,
        tag,
        earliest,
    } = *query;
    let mut interval = poll.initial;
    loop {
        let runs = gh
            .workflow_runs_first_page(owner, repo, workflow, filter)
            .await?;
        let best = runs
            .into_iter()
            .filter(|r| {
                filter.head_sha.as_deref().is_none_or(|s| r.head_sha == s)
                    && filter.event.as_deref().is_none_or(|e| r.event == e)
                    && match (tag, r.head_branch.as_deref()) {
                        (Some(t), Some(b)) => b == t || b == format!("refs/tags/{t}"),
                        _ => true,
                    }
                    && parse_rfc3339(&r.created_at).is_some_and(|c| c >= earliest)
            })
            .max_by_key(|r| (parse_rfc3339(&r.created_at).unwrap_or(0), r.id));
        if let Some(run) = best {
            return Ok(run);
        }
        interval = next_interval(gh, interval, false, poll);
        if !sleep_until_or_deadline(interval, deadline).await {
            return Err(FindError::Timeout);
        }
    }
}

/// Waits for run `id` to complete, showing its jobs and steps as they change (a spinner on a
/// terminal, one line per change otherwise). Both the run and its jobs are read with ETags,
/// so polls of an unchanged run cost no rate limit.
pub async fn wait_run(
    gh: &Github,
    (owner, repo): (&str, &str),
    id: u64,
    deadline: Instant,
    poll: Poll,
) -> Result<(WorkflowRun, Vec<Job>), FindError> {
    let mut view = LiveView::new(std::io::stderr().is_terminal() && !crate::output::quiet());
    let mut interval = poll.initial;
    loop {
        let run = gh.workflow_run(owner, repo, id).await?;
        let jobs = gh.run_jobs(owner, repo, id).await?;
        let changed = view.update(&run, &jobs);
        if run.is_completed() {
            view.finish();
            return Ok((run, jobs));
        }
        interval = next_interval(gh, interval, changed, poll);
        if !sleep_until_or_deadline(interval, deadline).await {
            view.finish();
            return Err(FindError::Timeout);
        }
    }
}

/// Names the failed job and step of a completed run, with its URL.
pub(crate) fn failure_message(run: &WorkflowRun, jobs: &[Job]) -> String {
    let bad = |c: Option<&str>| matches!(c, Some(c) if c != "success" && c != "skipped" && c != "neutral");
    let job = jobs.iter().find(|j| bad(j.conclusion.as_deref()));
    let step = job.and_then(|j| j.steps.iter().find(|s| bad(s.conclusion.as_deref())));
    format!(
        "publish run {} {} at job `{}`, step `{}`: {}",
        run.id,
        match run.conclusion.as_deref() {
            Some("cancelled") => "was cancelled".to_string(),
            Some("failure") | None => "failed".to_string(),
            Some(c) => format!("failed ({c})"),
        },
        job.map(|j| j.name.as_str()).unwrap_or("(none reported)"),
        step.map(|s| s.name.as_str()).unwrap_or("(none reported)"),
        run.html_url
    )
}

/// The live view of a run.
struct LiveView {
    bar: Option<indicatif::ProgressBar>,
    seen: BTreeMap<String, String>,
}

impl LiveView {
    fn new(terminal: bool) -> LiveView {
        let bar = terminal.then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        LiveView {
            bar,
            seen: BTreeMap::new(),
        }
    }

    fn state(status: &str, conclusion: Option<&str>) -> String {
        match conclusion {
            Some(c) => format!("{status} ({c})"),
            None => status.to_string(),
        }
    }

    /// Records the new state; prints what changed. Returns whether anything did.
    fn update(&mut self, run: &WorkflowRun, jobs: &[Job]) -> bool {
        let mut items = vec![(
            format!("run {}", run.id),
            Self::state(
                run.status.as_deref().unwrap_or("unknown"),
                run.conclusion.as_deref(),
            ),
        )];
        for j in jobs {
            items.push((
                format!("job {}", j.name),
                Self::state(&j.status, j.conclusion.as_deref()),
            ));
            for s in &j.steps {
                items.push((
                    format!("job {} step {} {}", j.name, s.number, s.name),
                    Self::state(&s.status, s.conclusion.as_deref()),
                ));
            }
        }
        let mut changed = false;
        let mut current = None;
        for (k, v) in items {
            if v.starts_with("in_progress") {
                current = Some(format!("{k}: {v}"));
            }
            if self.seen.get(&k) != Some(&v) {
                changed = true;
                let line = format!("  {k}: {v}");
                match &self.bar {
                    Some(b) => b.println(line),
                    None => crate::note!("{line}"),
                }
                self.seen.insert(k, v);
            }
        }
        if let (Some(b), Some(c)) = (&self.bar, current) {
            b.set_message(c);
        }
        changed
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_back_off_while_unchanged_and_respect_the_budget() {
        let poll = Poll::default();
        let mut i = poll.initial;
        let mut seen = Vec::new();
        for _ in 0..6 {
            i = interval_after(i, false, poll, None, 0);
            seen.push(i.as_millis());
        }
        assert_eq!(seen, [3000, 4500, 6750, 10000, 10000, 10000]);
        assert_eq!(interval_after(i, true, poll, None, 0), poll.initial);
        let low = crate::effects::github::RateLimit {
            remaining: Some(10),
            reset: Some(1_000 + 600),
            ..Default::default()
        };
        assert_eq!(
            interval_after(poll.initial, true, poll, Some(&low), 1_000),
            Duration::from_secs(60),
            "10 requests left for 600 s: one a minute"
        );
        let plenty = crate::effects::github::RateLimit {
            remaining: Some(4_000),
            reset: Some(1_600),
            ..Default::default()
        };
        assert_eq!(
            interval_after(poll.initial, true, poll, Some(&plenty), 1_000),
            poll.initial
        );
    }

    #[test]
    fn failure_names_job_step_and_url() {
        let run: WorkflowRun = serde_json::from_value(serde_json::json!({
            "id": 7, "workflow_id": 1, "event": "push", "head_sha": "x",
            "status": "completed", "conclusion": "failure",
            "html_url": "https://github.com/o/r/actions/runs/7"
        }))
        .unwrap();
        let jobs: Vec<Job> = serde_json::from_value(serde_json::json!([{
            "id": 1, "run_id": 7, "name": "publish", "status": "completed", "conclusion": "failure",
            "steps": [
                {"name": "Set up job", "status": "completed", "conclusion": "success", "number": 1},
                {"name": "Publish images", "status": "completed", "conclusion": "failure", "number": 2},
                {"name": "Complete job", "status": "completed", "conclusion": "skipped", "number": 3}
            ]
        }]))
        .unwrap();
        assert_eq!(
            failure_message(&run, &jobs),
            "publish run 7 failed at job `publish`, step `Publish images`: https://github.com/o/r/actions/runs/7"
        );
    }
}
