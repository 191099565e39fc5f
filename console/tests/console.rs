//! Tests of the console over loopback HTTP: next to a live core, next to fake cores that answer
//! badly, with no core at all, and as the built `aisopsflow-console` binary.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::thread;

use aisopsflow_core::BuildInfo;
use aisopsflow_core::http::{self, Response};
use aisopsflow_core::service;

const BINARY: &str = env!("CARGO_BIN_EXE_aisopsflow-console");

fn loopback() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("bind a loopback port")
}

fn start_core() -> String {
    format!("http://{}", service::spawn(loopback()).expect("start core"))
}

fn start_console(core_url: &str) -> String {
    format!(
        "http://{}",
        aisopsflow_console::spawn(loopback(), core_url).expect("start console")
    )
}

/// Starts a stand-in for core that answers every request with `response`.
fn start_fake_core(response: Response) -> String {
    let address = http::spawn(loopback(), move |_| response.clone()).unwrap();
    format!("http://{address}")
}

fn dead_url() -> String {
    let listener = loopback();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

#[test]
fn status_page_shows_the_live_core_version() {
    let core = start_core();
    let console = start_console(&core);

    let page = http::get(&format!("{console}/")).unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();

    // The console must show what core reports, so compare with core's own answer.
    let core_version: BuildInfo =
        serde_json::from_slice(&http::get(&format!("{core}/version")).unwrap().body).unwrap();
    assert!(
        html.contains(&format!(
            "<td id=\"core-component\">{}</td>",
            core_version.component
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<td id=\"core-version\">{}</td>",
            core_version.version
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!("<code>{}</code>", core_version.commit)),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<td id=\"core-edition\">{}</td>",
            core_version.edition
        )),
        "{html}"
    );
    assert!(
        html.contains(&core),
        "the page names the core it read: {html}"
    );
}

#[test]
fn status_page_reads_core_at_request_time() {
    let fake = BuildInfo {
        component: "aisopsflow-core".into(),
        version: "9.8.7-rc.1".into(),
        commit: "ab".repeat(20),
        edition: "commercial".into(),
    };
    let core = start_fake_core(Response::json(200, &fake));
    let html = http::get(&format!("{}/", start_console(&core)))
        .unwrap()
        .text();
    assert!(html.contains(">9.8.7-rc.1<"), "{html}");
    assert!(html.contains(&"ab".repeat(20)), "{html}");
    assert!(html.contains(">commercial<"), "{html}");
}

#[test]
fn values_from_core_are_html_escaped() {
    let hostile = BuildInfo {
        component: "<script>alert(1)</script>".into(),
        version: "1.0.0\"><img src=x onerror=alert(2)>".into(),
        commit: "0".repeat(40),
        edition: "public & <b>bold</b>".into(),
    };
    let core = start_fake_core(Response::json(200, &hostile));
    let html = http::get(&format!("{}/", start_console(&core)))
        .unwrap()
        .text();
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("public &amp; &lt;b&gt;bold&lt;/b&gt;"),
        "{html}"
    );
}

#[test]
fn unreachable_core_gives_502_with_a_clear_message() {
    let core = dead_url();
    let console = start_console(&core);
    let page = http::get(&format!("{console}/")).unwrap();
    assert_eq!(page.status, 502);
    let html = page.text();
    assert!(
        html.contains(&format!("core unreachable at {core}")),
        "{html}"
    );
    // The console itself is fine, and says so to its own health check.
    assert_eq!(
        http::get(&format!("{console}/healthz")).unwrap().status,
        200
    );
}

#[test]
fn broken_core_answers_give_502_saying_what_was_wrong() {
    let failing = start_fake_core(Response::text(500, "database on fire"));
    let page = http::get(&format!("{}/", start_console(&failing))).unwrap();
    assert_eq!(page.status, 502);
    assert!(
        page.text()
            .contains("answered 500 to GET /version: database on fire"),
        "{}",
        page.text()
    );

    let garbled = start_fake_core(Response::json(200, &serde_json::json!({"component": 1})));
    let page = http::get(&format!("{}/", start_console(&garbled))).unwrap();
    assert_eq!(page.status, 502);
    assert!(
        page.text().contains("invalid /version document"),
        "{}",
        page.text()
    );
}

#[test]
fn console_reports_its_own_version_and_health() {
    let console = start_console(&dead_url());
    let response = http::get(&format!("{console}/version")).unwrap();
    assert_eq!(response.status, 200);
    let info: BuildInfo = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(info, BuildInfo::for_component("aisopsflow-console"));

    let health = http::get(&format!("{console}/healthz")).unwrap();
    assert_eq!((health.status, health.text().as_str()), (200, "ok"));
    assert_eq!(
        http::get(&format!("{console}/missing")).unwrap().status,
        404
    );
}

/// A console process that is killed when the test ends, pass or fail.
struct ConsoleProcess {
    child: Child,
    base_url: String,
}

impl ConsoleProcess {
    fn start(args: &[&str]) -> ConsoleProcess {
        let mut child = Command::new(BINARY)
            .args(args)
            .env_remove("AISOPSFLOW_CORE_URL")
            .env_remove("AISOPSFLOW_LISTEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start aisopsflow-console");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let Some((_, address)) = line.trim().rsplit_once("listening on ") else {
            let _ = child.kill();
            panic!("unexpected startup line {line:?}");
        };
        let base_url = format!("http://{address}");
        // Keep draining stderr so that later log lines never hit a full or closed pipe.
        thread::spawn(move || {
            let mut rest = Vec::new();
            let _ = stderr.read_to_end(&mut rest);
        });
        ConsoleProcess { child, base_url }
    }
}

impl Drop for ConsoleProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn binary_serves_the_status_page_for_a_live_core() {
    let core = start_core();
    let console = ConsoleProcess::start(&["serve", "--listen", "127.0.0.1:0", "--core", &core]);
    let page = http::get(&format!("{}/", console.base_url)).unwrap();
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.text()
            .contains("<td id=\"core-component\">aisopsflow-core</td>")
    );

    let health = Command::new(BINARY)
        .args([
            "healthcheck",
            "--url",
            &format!("{}/healthz", console.base_url),
        ])
        .output()
        .unwrap();
    assert!(
        health.status.success(),
        "{}",
        String::from_utf8_lossy(&health.stderr)
    );
}

#[test]
fn binary_version_and_usage() {
    let output = Command::new(BINARY).arg("--version").output().unwrap();
    assert!(output.status.success());
    let line = String::from_utf8(output.stdout).unwrap();
    // The library says which edition the binaries were built as, whatever the feature flags
    // of this package were.
    let edition = aisopsflow_core::build_info::EDITION;
    assert!(line.starts_with("aisopsflow-console "), "{line:?}");
    assert!(line.contains(" (commit "), "{line:?}");
    assert!(
        line.trim_end().ends_with(&format!(", edition {edition})")),
        "{line:?}"
    );

    for args in [
        &["serve", "--core", "ftp://core"][..],
        &["serve", "--nope"],
        &["status"],
    ] {
        let output = Command::new(BINARY).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("usage: aisopsflow-console"));
    }
}
