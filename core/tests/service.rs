//! Integration tests of the core service and the shared HTTP stack over real loopback sockets.
//!
//! Servers run in-process on `127.0.0.1:0` through the library's `spawn` functions, so these tests
//! exercise the exact code the binaries run, minus argument parsing (see `binary.rs` for that).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use aisopsflow_core::api::{Registered, Registration, RunnerRecord};
use aisopsflow_core::http::{self, Response};
use aisopsflow_core::{BuildInfo, service};

fn start_core() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = service::spawn(listener).expect("start core");
    format!("http://{address}")
}

fn expected_edition() -> &'static str {
    if cfg!(feature = "commercial") {
        "commercial"
    } else {
        "public"
    }
}

fn is_40_hex(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Sends raw bytes and returns everything the server answers before closing. This is how the
/// tests produce requests that no well-behaved client would send.
fn raw_exchange(base: &str, request: &[u8]) -> String {
    let address: SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn healthz_answers_ok() {
    let core = start_core();
    let response = http::get(&format!("{core}/healthz")).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "ok");
    assert_eq!(response.header("connection"), Some("close"));
}

#[test]
fn version_reports_component_edition_and_commit() {
    let core = start_core();
    let response = http::get(&format!("{core}/version")).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));

    let document: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(document["component"], "aisopsflow-core");
    assert_eq!(document["edition"], expected_edition());
    let commit = document["commit"].as_str().unwrap();
    assert!(
        is_40_hex(commit),
        "commit {commit:?} is not 40 lowercase hex"
    );
    assert!(!document["version"].as_str().unwrap().is_empty());
    // The license server is a commercial-only field; a public build must not even mention it.
    assert_eq!(
        document.get("license_server").is_some(),
        cfg!(feature = "commercial"),
        "{document}"
    );

    let info: BuildInfo = serde_json::from_value(document).unwrap();
    assert_eq!(info, BuildInfo::for_component("aisopsflow-core"));
}

#[test]
fn runners_register_heartbeat_and_are_listed() {
    let core = start_core();
    let registration = Registration {
        name: "builder-1".into(),
        version: BuildInfo::for_component("aisopsflow-runner"),
    };
    let response = http::post_json(
        &format!("{core}/api/runners"),
        &serde_json::to_string(&registration).unwrap(),
    )
    .unwrap();
    assert_eq!(response.status, 201, "{}", response.text());
    let Registered { id } = serde_json::from_slice(&response.body).unwrap();

    let heartbeat = http::post_json(&format!("{core}/api/runners/{id}/heartbeat"), "{}").unwrap();
    assert_eq!(heartbeat.status, 204);
    assert!(heartbeat.body.is_empty());

    let unknown =
        http::post_json(&format!("{core}/api/runners/{}/heartbeat", id + 1000), "{}").unwrap();
    assert_eq!(unknown.status, 404);

    let list = http::get(&format!("{core}/api/runners")).unwrap();
    assert_eq!(list.status, 200);
    let runners: Vec<RunnerRecord> = serde_json::from_slice(&list.body).unwrap();
    assert_eq!(runners.len(), 1);
    assert_eq!(runners[0].id, id);
    assert_eq!(runners[0].name, "builder-1");
    assert_eq!(runners[0].version, registration.version);
    assert!(runners[0].last_heartbeat >= runners[0].registered_at);
    assert!(runners[0].registered_at > 0);
}

#[test]
fn invalid_registration_is_a_json_400() {
    let core = start_core();
    let response = http::post_json(&format!("{core}/api/runners"), r#"{"name": 5}"#).unwrap();
    assert_eq!(response.status, 400);
    let error: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert!(error["error"].as_str().unwrap().contains("name"), "{error}");
}

#[test]
fn unknown_paths_and_methods_are_rejected() {
    let core = start_core();
    assert_eq!(http::get(&format!("{core}/nope")).unwrap().status, 404);
    let response = http::post_json(&format!("{core}/healthz"), "{}").unwrap();
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("GET, HEAD"));
}

#[test]
fn malformed_requests_get_400() {
    let core = start_core();
    for request in [
        &b"this is not http\r\n\r\n"[..],
        b"GET /healthz HTTP/1.1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
        b"POST /api/runners HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    ] {
        let answer = raw_exchange(&core, request);
        assert!(
            answer.starts_with("HTTP/1.1 400 "),
            "{:?} was answered with {answer:?}",
            String::from_utf8_lossy(request)
        );
    }
    // The server must survive all of that.
    assert_eq!(http::get(&format!("{core}/healthz")).unwrap().status, 200);
}

#[test]
fn oversized_requests_are_refused_with_their_own_statuses() {
    let core = start_core();

    // The body is announced but never sent: the server must answer from the headers alone.
    let answer = raw_exchange(
        &core,
        b"POST /api/runners HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer:?}");

    let huge_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let answer = raw_exchange(&core, huge_header.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:?}");

    let answer = raw_exchange(
        &core,
        b"POST /api/runners HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 501 "), "{answer:?}");

    let answer = raw_exchange(&core, b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 505 "), "{answer:?}");
}

#[test]
fn head_gets_headers_without_a_body() {
    let core = start_core();
    let answer = raw_exchange(&core, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer:?}");
    assert!(answer.contains("\r\nContent-Length: 2\r\n"), "{answer:?}");
    assert!(answer.ends_with("\r\n\r\n"), "{answer:?}");
}

#[test]
fn silent_connections_do_not_disturb_the_server() {
    let core = start_core();
    let address: SocketAddr = core.trim_start_matches("http://").parse().unwrap();
    drop(TcpStream::connect(address).unwrap());
    assert_eq!(http::get(&format!("{core}/healthz")).unwrap().status, 200);
}

#[test]
fn client_resolves_host_names() {
    // `localhost` goes through the resolver like a Docker service name does; it may resolve to
    // ::1 first, which the client must skip over to reach the IPv4 listener.
    let core = start_core();
    let port = core.rsplit_once(':').unwrap().1;
    let response = http::get(&format!("http://localhost:{port}/healthz")).unwrap();
    assert_eq!(response.status, 200);
}

#[test]
fn client_reports_connection_failures() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let error = http::get(&format!("http://{address}/healthz")).unwrap_err();
    assert!(error.to_string().contains(&address.to_string()), "{error}");

    let error = http::get("http://no-such-host.invalid/healthz").unwrap_err();
    assert!(
        error.to_string().contains("no-such-host.invalid"),
        "{error}"
    );

    assert!(
        http::get("https://127.0.0.1/")
            .unwrap_err()
            .to_string()
            .contains("https")
    );
}

#[test]
fn panicking_handlers_become_500_and_requests_reach_handlers_intact() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = http::spawn(listener, |request| {
        if request.path() == "/panic" {
            panic!("deliberate panic to test the server's recovery");
        }
        Response::json(
            200,
            &serde_json::json!({
                "method": request.method,
                "target": request.target,
                "content_type": request.header("Content-Type"),
                "body": String::from_utf8_lossy(&request.body),
            }),
        )
    })
    .unwrap();

    assert_eq!(
        http::get(&format!("http://{address}/panic"))
            .unwrap()
            .status,
        500
    );

    let echo = http::post_json(&format!("http://{address}/echo?x=1"), r#"{"a":1}"#).unwrap();
    let echo: serde_json::Value = serde_json::from_slice(&echo.body).unwrap();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["target"], "/echo?x=1");
    assert_eq!(echo["content_type"], "application/json");
    assert_eq!(echo["body"], r#"{"a":1}"#);
}

#[test]
fn connections_beyond_the_limit_are_closed_and_the_slot_comes_back() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let limits = http::Limits {
        max_connections: 1,
        ..http::Limits::default()
    };
    std::thread::spawn(move || {
        http::serve_with_limits(listener, |_| Response::text(200, "ok"), limits)
    });

    // A client that connects and says nothing holds the only slot. The server accepts in
    // connection order, so the slot is taken before the next connection is looked at.
    let mut holder = TcpStream::connect(address).unwrap();
    let mut refused = TcpStream::connect(address).unwrap();
    let _ = refused.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut answer = Vec::new();
    let _ = refused.read_to_end(&mut answer);
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));

    // Once the holder finishes, the slot is freed. The server notices the close asynchronously,
    // so the test retries instead of asserting on timing.
    holder
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    holder.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer:?}");
    let recovered = (0..1000).any(|_| {
        let ok = http::get(&format!("http://{address}/healthz")).is_ok_and(|r| r.status == 200);
        if !ok {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        ok
    });
    assert!(recovered, "the server never accepted a connection again");
}
