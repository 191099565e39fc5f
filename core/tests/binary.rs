//! Tests of the built `aisopsflow-core` binary: its `--version` line, its command line, and a
//! real `serve` process whose port is read from the startup line on stderr.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::thread;

use aisopsflow_core::http;

const BINARY: &str = env!("CARGO_BIN_EXE_aisopsflow-core");

fn expected_edition() -> &'static str {
    if cfg!(feature = "commercial") {
        "commercial"
    } else {
        "public"
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .output()
        .expect("run aisopsflow-core")
}

/// A `serve` process that is killed when the test ends, pass or fail, so no server outlives it.
struct Server {
    child: Child,
    base_url: String,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(BINARY)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start aisopsflow-core");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let Some((_, address)) = line.trim().rsplit_once("listening on ") else {
            let _ = child.kill();
            panic!("unexpected startup line {line:?}");
        };
        let base_url = format!("http://{address}");
        // Keep reading stderr so that later log lines never fill the pipe or hit a closed one.
        thread::spawn(move || {
            let mut rest = Vec::new();
            let _ = stderr.read_to_end(&mut rest);
        });
        Server { child, base_url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn version_flag_prints_the_documented_line() {
    let output = run(&["--version"]);
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let line = stdout.trim_end();

    assert!(line.starts_with("aisopsflow-core "), "{line:?}");
    let (_, after) = line.split_once(" (commit ").expect("contains ` (commit `");
    let (commit, tail) = after.split_at(40);
    assert!(
        commit
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{line:?}"
    );
    assert_eq!(
        tail,
        format!(", edition {})", expected_edition()),
        "{line:?}"
    );
    let version = &line["aisopsflow-core ".len()..line.find(" (commit ").unwrap()];
    assert_eq!(version, aisopsflow_core::build_info::VERSION);
}

#[test]
fn serve_prints_its_address_and_answers_over_http() {
    let server = Server::start(&["serve", "--listen", "127.0.0.1:0"]);
    let response = http::get(&format!("{}/version", server.base_url)).unwrap();
    assert_eq!(response.status, 200);
    let document: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(document["component"], "aisopsflow-core");
    assert_eq!(document["edition"], expected_edition());
    let commit = document["commit"].as_str().unwrap();
    assert!(
        commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
        "{commit}"
    );

    // The healthcheck subcommand is what a FROM-scratch image's HEALTHCHECK runs.
    let healthy = run(&[
        "healthcheck",
        "--url",
        &format!("{}/healthz", server.base_url),
    ]);
    assert!(
        healthy.status.success(),
        "{}",
        String::from_utf8_lossy(&healthy.stderr)
    );
    let not_found = run(&[
        "healthcheck",
        "--url",
        &format!("{}/missing", server.base_url),
    ]);
    assert_eq!(not_found.status.code(), Some(1));
}

#[test]
fn listen_flag_works_without_the_serve_subcommand() {
    let server = Server::start(&["--listen=127.0.0.1:0"]);
    assert_eq!(
        http::get(&format!("{}/healthz", server.base_url))
            .unwrap()
            .status,
        200
    );
}

#[test]
fn healthcheck_fails_when_nothing_listens() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let output = run(&["healthcheck", "--url", &format!("http://{address}/healthz")]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&address.to_string()), "{stderr}");
}

#[test]
fn bad_arguments_exit_2_with_usage() {
    for args in [
        &["frobnicate"][..],
        &["serve", "--bogus"],
        &["serve", "--listen"],
        &["healthcheck", "x"],
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("usage: aisopsflow-core"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn unusable_listen_address_is_a_clear_error() {
    let output = run(&["serve", "--listen", "not-an-address"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot listen on not-an-address"),
        "{stderr}"
    );
}
