//! The integration tests: one crate, run against the real local parts (the Docker engine, the
//! distribution registry, git with bare remotes, and the in-process GitHub stand-in).

/// Returns from the test when `AISOPSFLOW_SKIP_DOCKER=1` (loudly), and otherwise fails with
/// how to get what is missing: a Docker engine and the distribution registry. The README's test
/// command, `cargo xtask test`, provisions them first (`xtask/src/setup.rs`), so this fails only
/// under a bare `cargo test` on a machine that lacks them.
#[macro_export]
macro_rules! docker_required {
    () => {
        if std::env::var("AISOPSFLOW_SKIP_DOCKER").as_deref() == Ok("1") {
            eprintln!("\n!!!! SKIPPED {}: AISOPSFLOW_SKIP_DOCKER=1 !!!!\n", module_path!());
            return;
        }
        for tool in ["docker-registry", "skopeo", "git"] {
            // Where the binary is missing, setup may run the registry as an image instead.
            let found = (tool == "docker-registry" && std::env::var_os(xtask::setup::ENV_REGISTRY_IMAGE).is_some())
                || std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
            assert!(found, "`{tool}` is not on PATH: run the tests with `cargo xtask test`, which installs it (as root on Debian/Ubuntu) or names the install command (or set AISOPSFLOW_SKIP_DOCKER=1 to skip, loudly)");
        }
        let engine = std::process::Command::new("docker").arg("info").output();
        assert!(
            engine.is_ok_and(|o| o.status.success()),
            "no Docker engine answers: run the tests with `cargo xtask test`, which starts one (as root) or names the install command (or set AISOPSFLOW_SKIP_DOCKER=1 to skip, loudly)"
        );
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
