//! Every route by which a long-lived credential can reach a registry login, a step that
//! pushes, or an action's inputs (issue #15 §4), against the workflow corpus in
//! tests/fixtures/workflows: each fixture is flagged with the right check id at the right
//! line, and the accepted spellings of the workflow's own token pass.

use crate::workflow_corpus::{assert_flagged, run};
use xtask::checks::workflow::IDS;
use xtask::checks::{CheckId, Outcome, Status};

const PAT: CheckId = CheckId::SecretsNoLongLivedPat;
const TOKEN: CheckId = CheckId::SecretsGithubToken;

fn both(name: &str, needle: &str) {
    assert_flagged(name, PAT, Status::Fail, needle);
    assert_flagged(name, TOKEN, Status::Fail, needle);
}

#[test]
fn podman_login_action_with_a_password_secret() {
    both("login-podman-action.yml", "secrets.REGISTRY_PASSWORD");
}

#[test]
fn login_action_through_workflow_env_indirection() {
    // The secret is named in the workflow-level env; the login reads it through env.X.
    assert_flagged(
        "login-action-env-indirection.yml",
        PAT,
        Status::Fail,
        "REG_PASS: ${{ secrets.GHCR_PAT }}",
    );
    assert_flagged(
        "login-action-env-indirection.yml",
        TOKEN,
        Status::Fail,
        "password: ${{ env.REG_PASS }}",
    );
}

#[test]
fn literal_token_in_a_login_action() {
    both("login-action-literal-token.yml", "password: ghp_");
}

#[test]
fn secret_picked_at_run_time_with_format() {
    both("login-action-secrets-format.yml", "secrets[format(");
}

#[test]
fn secret_by_index() {
    both("login-action-secrets-index.yml", "secrets['GHCR_PAT']");
}

#[test]
fn echo_into_docker_login_password_stdin() {
    both("shell-login-echo-stdin.yml", "| docker login ghcr.io");
}

#[test]
fn printf_of_a_job_env_var_into_docker_login() {
    let f = "shell-login-printf-job-env.yml";
    assert_flagged(
        f,
        PAT,
        Status::Fail,
        "GHCR_TOKEN: ${{ secrets.DEPLOY_TOKEN }}",
    );
    assert_flagged(f, TOKEN, Status::Fail, "| docker login ghcr.io --username");
    assert_flagged(
        f,
        TOKEN,
        Status::Fail,
        "GHCR_TOKEN: ${{ secrets.DEPLOY_TOKEN }}",
    );
}

#[test]
fn here_document_into_docker_login() {
    let f = "shell-login-heredoc.yml";
    assert_flagged(f, PAT, Status::Fail, "${{ secrets.ROBOT_TOKEN }}");
    assert_flagged(
        f,
        TOKEN,
        Status::Fail,
        "docker login ghcr.io -u release-bot --password-stdin <<EOF",
    );
    assert_flagged(f, TOKEN, Status::Fail, "${{ secrets.ROBOT_TOKEN }}");
}

#[test]
fn every_registry_cli_login() {
    let f = "shell-login-tools.yml";
    both(f, "podman login ghcr.io -u bot -p");
    // A literal through the step env.
    assert_flagged(f, TOKEN, Status::Fail, "skopeo login ghcr.io");
    assert_flagged(f, TOKEN, Status::Fail, "SKOPEO_PASS: not-the-github-token");
    // A here-string of an env var holding a secret.
    assert_flagged(f, TOKEN, Status::Fail, "oras login ghcr.io");
    assert_flagged(f, PAT, Status::Fail, "ORAS_PASS: ${{ secrets.ORAS_TOKEN }}");
    // A shell variable assigned from a secret in the script.
    assert_flagged(f, TOKEN, Status::Fail, "helm registry login");
    assert_flagged(f, PAT, Status::Fail, "HELM_PASS=");
    assert_flagged(
        f,
        TOKEN,
        Status::Fail,
        "sudo buildah login -u bot -p hunter2",
    );
    // A file: not provably GITHUB_TOKEN.
    assert_flagged(f, TOKEN, Status::Fail, "nerdctl login");
    // A login continued over three lines: flagged at the command and at the credential.
    assert_flagged(f, TOKEN, Status::Fail, "docker login ghcr.io \\");
    both(f, "--password \"${{ secrets.MULTILINE_PAT }}\"");
    // crane reads GITHUB_TOKEN through env: not flagged.
    let out = run(f);
    let crane = crate::workflow_corpus::line_of(f, "crane auth login");
    assert!(
        !out.iter().any(|o| o.status == Status::Fail
            && o.message.contains("crane")
            && crate::workflow_corpus::lines(o).first() == Some(&crane)),
        "{out:#?}"
    );
}

#[test]
fn to_json_of_all_secrets() {
    both("tojson-secrets.yml", "toJSON(secrets)");
}

#[test]
fn publish_token_from_workflow_level_env() {
    both(
        "workflow-env-pat.yml",
        "REGISTRY_TOKEN: ${{ secrets.GHCR_PAT }}",
    );
}

#[test]
fn secret_in_the_env_of_a_pushing_step() {
    both(
        "push-step-env-secret.yml",
        "DOCKER_CFG: ${{ secrets.DOCKER_CONFIG_JSON }}",
    );
}

#[test]
fn secret_as_an_input_of_any_action() {
    assert_flagged(
        "action-input-secret.yml",
        PAT,
        Status::Fail,
        "api-key: ${{ secrets.NOTIFY_KEY }}",
    );
}

#[test]
fn reusable_workflow_with_secrets_inherit() {
    assert_flagged(
        "reusable-remote-inherit.yml",
        PAT,
        Status::Fail,
        "secrets: inherit",
    );
}

#[test]
fn the_workflows_own_token_in_every_accepted_spelling_passes() {
    let out = run("good-shell-login.yml");
    for id in IDS {
        let mine: Vec<&Outcome> = out.iter().filter(|o| o.id == *id).collect();
        assert!(!mine.is_empty(), "no outcome for {}", id.id());
        for o in mine {
            assert_eq!(
                o.status,
                Status::Pass,
                "{}: {} {:?}",
                id.id(),
                o.message,
                o.evidence
            );
        }
    }
}
