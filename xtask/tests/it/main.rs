//! The integration tests: one crate, run against the real local parts (the Docker engine, the
//! distribution registry, git with bare remotes, and the in-process GitHub stand-in).

/// Returns from the test when `AISOPSFLOW_SKIP_DOCKER=1` (loudly), and otherwise fails with
/// how to get what is missing (`support::skip_docker`, the one gate).
#[macro_export]
macro_rules! docker_required {
    () => {
        if $crate::support::skip_docker(
            module_path!(),
            &["docker-registry", "skopeo", "git", "engine"],
        ) {
            return;
        }
    };
}

mod support;
pub use support::{git, git_identity};

mod change_inputs;
mod context;
mod conventions;
mod credential_routes;
mod credentials;
mod doc_inputs;
mod evidence;
mod gate;
mod ghcr;
mod github;
mod github_contract;
mod github_settings;
mod hostile_git;
mod images;
mod preflight;
mod publish;
mod registry;
mod rehearsal;
mod release;
mod reliability;
mod secrets;
mod setup;
mod support_env;
mod workflow_corpus;
mod workflow_repos;
