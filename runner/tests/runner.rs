//! Tests of the runner against a live core on a loopback port: the library functions directly,
//! and the built `aisopsflow-runner` binary with `--once`.

use std::net::TcpListener;
use std::process::{Command, Output};

use aisopsflow_core::api::RunnerRecord;
use aisopsflow_core::http::{self, Client};
use aisopsflow_core::service;
use aisopsflow_runner::{Heartbeat, RunnerError};

const BINARY: &str = env!("CARGO_BIN_EXE_aisopsflow-runner");

fn start_core() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    format!("http://{}", service::spawn(listener).expect("start core"))
}

/// A URL where nothing listens: a port that was just free.
fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

fn runners(core: &str) -> Vec<RunnerRecord> {
    let response = http::get(&format!("{core}/api/runners")).unwrap();
    assert_eq!(response.status, 200);
    serde_json::from_slice(&response.body).unwrap()
}

fn run(args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .env_remove("AISOPSFLOW_CORE_URL")
        .output()
        .expect("run aisopsflow-runner")
}

#[test]
fn once_registers_with_core_and_core_lists_it() {
    let core = start_core();
    let output = run(&["run", "--core", &core, "--name", "ci-runner-7", "--once"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {stderr}"
    );

    let id: u64 = stdout
        .trim()
        .strip_prefix("registered as runner ")
        .unwrap_or_else(|| panic!("unexpected output {stdout:?}"))
        .parse()
        .unwrap();

    let listed = runners(&core);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].name, "ci-runner-7");
    assert_eq!(listed[0].version.component, "aisopsflow-runner");
    let expected_edition = aisopsflow_core::build_info::EDITION;
    assert_eq!(listed[0].version.edition, expected_edition);
    assert_eq!(listed[0].version.commit.len(), 40);
}

#[test]
fn core_url_comes_from_the_environment_too() {
    let core = start_core();
    let output = Command::new(BINARY)
        .args(["--once", "--name", "from-env"])
        .env("AISOPSFLOW_CORE_URL", format!("{core}/"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(runners(&core)[0].name, "from-env");
}

#[test]
fn unreachable_core_is_a_clear_error_naming_the_url() {
    let core = dead_url();
    let output = run(&["run", "--core", &core, "--once"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot reach core at {core}")),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn version_flag_prints_the_documented_line() {
    let output = run(&["--version"]);
    assert!(output.status.success());
    let line = String::from_utf8(output.stdout).unwrap();
    let line = line.trim_end();
    assert!(line.starts_with("aisopsflow-runner "), "{line:?}");
    let (_, after) = line.split_once(" (commit ").expect("contains ` (commit `");
    let (commit, tail) = after.split_at(40);
    assert!(
        commit
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{line:?}"
    );
    // The library says which edition the binaries were built as, whatever the feature flags
    // of this package were.
    let edition = aisopsflow_core::build_info::EDITION;
    assert_eq!(tail, format!(", edition {edition})"));
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["run", "--interval", "0"][..],
        &["run", "--interval", "soon"],
        &["run", "--core", "core:8080"],
        &["run", "--name"],
        &["run", "--frobnicate"],
        &["walk"],
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("usage: aisopsflow-runner"));
    }
}

#[test]
fn library_registers_and_detects_a_forgotten_registration() {
    let core = start_core();
    let client = Client::default();
    let id = aisopsflow_runner::register(&client, &core, "lib-runner").unwrap();
    assert_eq!(
        aisopsflow_runner::heartbeat(&client, &core, id).unwrap(),
        Heartbeat::Accepted
    );
    // An id core never issued is what a runner sees after core restarts.
    assert_eq!(
        aisopsflow_runner::heartbeat(&client, &core, id + 1).unwrap(),
        Heartbeat::UnknownRunner
    );
}

#[test]
fn rejected_registration_is_not_retried() {
    let core = start_core();
    let client = Client::default();
    // Control characters are refused by core with a 400, which retrying cannot fix.
    let error = aisopsflow_runner::register_with_retry(&client, &core, "bad\u{7}name").unwrap_err();
    assert!(
        matches!(error, RunnerError::Rejected { status: 400, .. }),
        "{error}"
    );
    assert!(!error.is_transient());
    assert!(runners(&core).is_empty());
}
