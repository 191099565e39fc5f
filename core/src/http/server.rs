//! The HTTP/1.1 server: accepts connections, parses one request per connection, calls a handler
//! and writes its response with `Connection: close`.
//!
//! One thread per connection is plenty for services that answer health checks, a status page and
//! runner heartbeats, and it keeps the code free of any runtime. Every limit below exists so that
//! a misbehaving client costs at most one thread for a bounded time and a bounded amount of memory.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use super::{Request, Response, http_date, is_token, reason_phrase, unix_now};

/// Bounds on what the server accepts from a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The request line plus all header lines, in bytes; more is answered with 431.
    pub max_head_bytes: usize,
    /// The number of header fields; more is answered with 431.
    pub max_headers: usize,
    /// The body, in bytes; a larger `Content-Length` is answered with 413.
    pub max_body_bytes: usize,
    /// How long a single read or write may block. It bounds how long a slow or silent client can
    /// hold a connection thread.
    pub io_timeout: Duration,
    /// Connections handled at once. Each one costs a thread, so beyond this new connections are
    /// closed straight away instead of letting a flood of clients exhaust memory.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 1024 * 1024,
            io_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// Serves `listener` forever with default [`Limits`], one thread per connection.
///
/// It never returns: accept errors (for example running out of file descriptors) are logged and
/// retried after a short pause, because a service that stops accepting is worse than one that
/// is briefly slow.
pub fn serve<H>(listener: TcpListener, handler: H)
where
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    serve_with_limits(listener, handler, Limits::default());
}

/// Like [`serve`], with explicit limits.
pub fn serve_with_limits<H>(listener: TcpListener, handler: H, limits: Limits)
where
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        match listener.accept() {
            Ok((stream, _peer)) => {
                if active.load(Ordering::Acquire) >= limits.max_connections {
                    // Dropping the stream closes it; the client can retry once load drops.
                    continue;
                }
                let slot = ConnectionSlot::take(&active);
                let handler = Arc::clone(&handler);
                let spawned =
                    thread::Builder::new()
                        .name("http-connection".into())
                        .spawn(move || {
                            let _slot = slot;
                            handle_connection(stream, &*handler, limits);
                        });
                if let Err(error) = spawned {
                    // The stream and the slot were moved into the closure and are dropped with
                    // it, which closes the connection and frees the slot; the client sees a reset
                    // instead of a hang.
                    eprintln!("http: cannot start a connection thread: {error}");
                    thread::sleep(Duration::from_millis(100));
                }
            }
            Err(error) => {
                eprintln!("http: accept failed: {error}");
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// One counted connection; dropping it, however the connection thread ends, frees the slot.
struct ConnectionSlot(Arc<AtomicUsize>);

impl ConnectionSlot {
    fn take(active: &Arc<AtomicUsize>) -> ConnectionSlot {
        active.fetch_add(1, Ordering::AcqRel);
        ConnectionSlot(Arc::clone(active))
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `listener` on a background thread and returns the address it is bound to. This is how
/// tests (and anything else embedding a service) start a server on `127.0.0.1:0`.
pub fn spawn<H>(listener: TcpListener, handler: H) -> io::Result<SocketAddr>
where
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let address = listener.local_addr()?;
    thread::Builder::new()
        .name(format!("http-server-{address}"))
        .spawn(move || serve(listener, handler))?;
    Ok(address)
}

/// Why a request could not be read. Each variant maps to the status the client is told.
#[derive(Debug, PartialEq, Eq)]
enum RequestError {
    /// The bytes were not a valid HTTP/1.x request (400).
    Malformed(&'static str),
    /// The request line or headers exceeded [`Limits`] (431).
    HeadTooLarge,
    /// `Content-Length` exceeded [`Limits::max_body_bytes`] (413).
    BodyTooLarge,
    /// The request used `Transfer-Encoding`, which this server does not implement (501).
    TransferEncoding,
    /// The request named an HTTP version other than 1.0 or 1.1 (505).
    Version,
    /// The client stopped sending before the request was complete (408).
    Timeout,
    /// The connection failed; there is nobody left to answer.
    Disconnected,
}

impl RequestError {
    fn response(&self) -> Option<Response> {
        let (status, message) = match self {
            RequestError::Malformed(why) => (400, *why),
            RequestError::HeadTooLarge => (431, "request line or header fields too large"),
            RequestError::BodyTooLarge => (413, "request body too large"),
            RequestError::TransferEncoding => (
                501,
                "Transfer-Encoding is not supported; send a Content-Length body",
            ),
            RequestError::Version => (505, "only HTTP/1.0 and HTTP/1.1 are supported"),
            RequestError::Timeout => (408, "timed out waiting for the request"),
            RequestError::Disconnected => return None,
        };
        Some(Response::text(status, message))
    }
}

impl From<io::Error> for RequestError {
    fn from(error: io::Error) -> RequestError {
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => RequestError::Timeout,
            _ => RequestError::Disconnected,
        }
    }
}

fn handle_connection<H>(stream: TcpStream, handler: &H, limits: Limits)
where
    H: Fn(&Request) -> Response,
{
    // Without timeouts a client that connects and says nothing would pin this thread forever.
    let _ = stream.set_read_timeout(Some(limits.io_timeout));
    let _ = stream.set_write_timeout(Some(limits.io_timeout));

    let mut reader = BufReader::new(&stream);
    let (response, head_only, fully_read) = match read_request(&mut reader, &limits) {
        Ok(None) => return,
        Ok(Some(mut request)) => {
            let head_only = request.method == "HEAD";
            if head_only {
                request.method = "GET".into();
            }
            // A panicking handler must still produce an answer, not a silently closed socket.
            let response = catch_unwind(AssertUnwindSafe(|| handler(&request)))
                .unwrap_or_else(|_| Response::text(500, "internal error"));
            (response, head_only, true)
        }
        Err(error) => match error.response() {
            Some(response) => (response, false, false),
            None => return,
        },
    };

    let mut writer = &stream;
    if write_response(&mut writer, &response, head_only).is_err() {
        return;
    }
    let _ = stream.shutdown(Shutdown::Write);

    if !fully_read {
        // Closing a socket that still has unread input makes the kernel send a reset, which can
        // destroy our error response before the client reads it. Draining briefly first lets the
        // client see the 400/413 it is owed.
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut sink = [0u8; 8192];
        let mut drained = 0usize;
        while drained < 256 * 1024 {
            match reader.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    }
}

/// Reads one request. `Ok(None)` means the client closed the connection without sending
/// anything, which load balancers and port probes do all the time and which deserves no answer.
fn read_request<R: BufRead>(
    reader: &mut R,
    limits: &Limits,
) -> Result<Option<Request>, RequestError> {
    let mut budget = limits.max_head_bytes;

    // RFC 9112 asks servers to ignore empty lines before the request line, which some clients
    // send after a previous request's body.
    let request_line = loop {
        match read_line(reader, &mut budget)? {
            None => return Ok(None),
            Some(line) if line.is_empty() => continue,
            Some(line) => break line,
        }
    };
    let (method, target, version) = parse_request_line(&request_line)?;

    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let line = read_line(reader, &mut budget)?.ok_or(RequestError::Malformed(
            "connection closed inside the header section",
        ))?;
        if line.is_empty() {
            break;
        }
        if headers.len() == limits.max_headers {
            return Err(RequestError::HeadTooLarge);
        }
        headers.push(parse_header_line(&line)?);
    }

    let header_values = |name: &'static str| header_values(&headers, name);

    if header_values("transfer-encoding").next().is_some() {
        return Err(RequestError::TransferEncoding);
    }
    // HTTP/1.1 makes Host mandatory and unique; enforcing it catches hand-written requests that
    // would otherwise be misrouted by any proxy in between.
    let host_count = header_values("host").count();
    if version == "HTTP/1.1" && host_count == 0 {
        return Err(RequestError::Malformed("missing Host header"));
    }
    if host_count > 1 {
        return Err(RequestError::Malformed("more than one Host header"));
    }

    let content_length = parse_content_length(header_values("content-length"))?;
    if content_length > limits.max_body_bytes {
        return Err(RequestError::BodyTooLarge);
    }
    let mut body = vec![0u8; content_length];
    reader
        .read_exact(&mut body)
        .map_err(|error| match error.kind() {
            io::ErrorKind::UnexpectedEof => {
                RequestError::Malformed("connection closed before Content-Length bytes of body")
            }
            _ => RequestError::from(error),
        })?;

    Ok(Some(Request {
        method,
        target,
        headers,
        body,
    }))
}

/// All values of the header fields named `name` (already lowercased), in order.
fn header_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(field, _)| field == name)
        .map(|(_, value)| value.as_str())
}

/// Reads one line of the request head, without its line ending, charging it to `budget`.
/// `Ok(None)` means end of input before any byte of the line.
fn read_line<R: BufRead>(
    reader: &mut R,
    budget: &mut usize,
) -> Result<Option<String>, RequestError> {
    let mut line = Vec::new();
    let read = reader
        .by_ref()
        .take(*budget as u64)
        .read_until(b'\n', &mut line)?;
    *budget -= read;
    if read == 0 {
        return if *budget == 0 {
            Err(RequestError::HeadTooLarge)
        } else {
            Ok(None)
        };
    }
    if line.last() != Some(&b'\n') {
        return Err(if *budget == 0 {
            RequestError::HeadTooLarge
        } else {
            RequestError::Malformed("connection closed in the middle of a line")
        });
    }
    line.pop();
    // CRLF is the standard line ending; RFC 9112 lets recipients accept a bare LF too.
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    // A CR anywhere else, or any other control byte, is a classic request-smuggling ingredient.
    if line.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(RequestError::Malformed(
            "control character in the request head",
        ));
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| RequestError::Malformed("request head is not valid UTF-8"))
}

fn parse_request_line(line: &str) -> Result<(String, String, String), RequestError> {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::Malformed(
            "request line must be METHOD TARGET VERSION",
        ));
    };
    if !is_token(method) {
        return Err(RequestError::Malformed("invalid method"));
    }
    if !version.starts_with("HTTP/") {
        return Err(RequestError::Malformed("invalid HTTP version"));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        let digits = &version.as_bytes()[5..];
        let well_formed = digits.len() == 3
            && digits[0].is_ascii_digit()
            && digits[1] == b'.'
            && digits[2].is_ascii_digit();
        return Err(if well_formed {
            RequestError::Version
        } else {
            RequestError::Malformed("invalid HTTP version")
        });
    }
    if !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RequestError::Malformed("invalid request target"));
    }
    let target = origin_form(target).ok_or(RequestError::Malformed("invalid request target"))?;
    Ok((method.to_owned(), target, version.to_owned()))
}

/// Reduces a request target to origin form (`/path?query`). Servers must accept the absolute form
/// (`http://host/path`) that proxies send, even though our own clients never use it.
fn origin_form(target: &str) -> Option<String> {
    if target.starts_with('/') {
        return Some(target.to_owned());
    }
    let lower = target.to_ascii_lowercase();
    if !lower.starts_with("http://") && !lower.starts_with("https://") {
        return None;
    }
    let rest = &target[target.find("//")? + 2..];
    match rest.find(['/', '?']) {
        Some(at) if rest[at..].starts_with('/') => Some(rest[at..].to_owned()),
        Some(at) => Some(format!("/{}", &rest[at..])),
        None => Some("/".to_owned()),
    }
}

fn parse_header_line(line: &str) -> Result<(String, String), RequestError> {
    if line.starts_with([' ', '\t']) {
        // Obsolete line folding; RFC 9112 lets servers reject it, and supporting it buys nothing.
        return Err(RequestError::Malformed(
            "folded header lines are not supported",
        ));
    }
    let (name, value) = line
        .split_once(':')
        .ok_or(RequestError::Malformed("header line without a colon"))?;
    if !is_token(name) {
        return Err(RequestError::Malformed("invalid header name"));
    }
    Ok((
        name.to_ascii_lowercase(),
        value.trim_matches([' ', '\t']).to_owned(),
    ))
}

/// Parses the `Content-Length` fields. Several fields are accepted only when they agree, because
/// disagreeing lengths are how requests get smuggled past proxies.
fn parse_content_length<'a>(values: impl Iterator<Item = &'a str>) -> Result<usize, RequestError> {
    let mut length: Option<usize> = None;
    for value in values {
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RequestError::Malformed("invalid Content-Length"));
        }
        // Anything that does not fit in usize is certainly over the body limit.
        let parsed = value.parse::<usize>().unwrap_or(usize::MAX);
        match length {
            Some(previous) if previous != parsed => {
                return Err(RequestError::Malformed(
                    "conflicting Content-Length headers",
                ));
            }
            _ => length = Some(parsed),
        }
    }
    Ok(length.unwrap_or(0))
}

fn write_response<W: Write>(
    writer: &mut W,
    response: &Response,
    head_only: bool,
) -> io::Result<()> {
    let status = response.status;
    // 1xx, 204 and 304 responses never have a body, and 204 must not even announce a length.
    let bodiless = status < 200 || status == 204 || status == 304;

    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    head.push_str(&format!("Date: {}\r\n", http_date(unix_now())));
    if !bodiless {
        if !response.content_type.is_empty() {
            head.push_str(&format!("Content-Type: {}\r\n", response.content_type));
        }
        head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    for (name, value) in &response.headers {
        // Handlers build these from constants, but a stray newline would let one response
        // masquerade as two, so such fields are dropped rather than trusted.
        if is_token(name) && !value.bytes().any(|b| b == b'\r' || b == b'\n') {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");

    let mut message = head.into_bytes();
    if !bodiless && !head_only {
        message.extend_from_slice(&response.body);
    }
    writer.write_all(&message)?;
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Option<Request>, RequestError> {
        read_request(&mut raw.as_bytes(), &Limits::default())
    }

    #[test]
    fn parses_a_post_with_a_body() {
        let request =
            parse("POST /api/runners?x=1 HTTP/1.1\r\nHost: core\r\nContent-Length: 2\r\n\r\n{}")
                .unwrap()
                .unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.path(), "/api/runners");
        assert_eq!(request.header("content-length"), Some("2"));
        assert_eq!(request.body, b"{}");
    }

    #[test]
    fn accepts_bare_lf_and_leading_empty_lines_and_absolute_form() {
        let request = parse("\r\nGET http://core:8080/healthz?a HTTP/1.1\nHost: core\n\n")
            .unwrap()
            .unwrap();
        assert_eq!(request.target, "/healthz?a");
        assert_eq!(origin_form("http://core").as_deref(), Some("/"));
        assert_eq!(origin_form("http://core?x").as_deref(), Some("/?x"));
        assert_eq!(origin_form("ftp://core/x"), None);
    }

    #[test]
    fn empty_connection_is_not_an_error() {
        assert_eq!(parse(""), Ok(None));
    }

    #[test]
    fn rejects_malformed_requests() {
        for raw in [
            "GARBAGE\r\n\r\n",
            "GET /\r\n\r\n",
            "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\rInjected: y\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab",
            "GET / HTTP/1.1\r\nHost: x\r\n",
            "GET / HTTP/one\r\nHost: x\r\n\r\n",
            "GET nopath HTTP/1.1\r\nHost: x\r\n\r\n",
        ] {
            let result = parse(raw);
            assert!(
                matches!(result, Err(RequestError::Malformed(_))),
                "{raw:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn maps_limits_and_unsupported_features_to_their_statuses() {
        let limits = Limits {
            max_head_bytes: 64,
            max_headers: 2,
            max_body_bytes: 4,
            ..Limits::default()
        };
        let read = |raw: &str| read_request(&mut raw.as_bytes(), &limits);

        let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100));
        assert_eq!(read(&long), Err(RequestError::HeadTooLarge));
        assert_eq!(
            read("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n"),
            Err(RequestError::HeadTooLarge)
        );
        assert_eq!(
            read("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"),
            Err(RequestError::BodyTooLarge)
        );
        assert_eq!(
            read("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(RequestError::TransferEncoding)
        );
        assert_eq!(
            read("GET / HTTP/2.0\r\nHost: x\r\n\r\n"),
            Err(RequestError::Version)
        );
        // HTTP/1.0 predates Host, so its absence is fine there.
        assert!(read("GET / HTTP/1.0\r\n\r\n").unwrap().is_some());
    }

    #[test]
    fn writes_framing_headers_and_omits_bodies_where_required() {
        let mut out = Vec::new();
        write_response(&mut out, &Response::text(200, "ok"), false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("\r\nContent-Length: 2\r\n"), "{text}");
        assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nok"), "{text}");

        let mut out = Vec::new();
        write_response(&mut out, &Response::no_content(), false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("Content-Length"), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "{text}");

        let mut out = Vec::new();
        write_response(&mut out, &Response::text(200, "ok"), true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("Content-Length: 2\r\n") && text.ends_with("\r\n\r\n"),
            "{text}"
        );

        let mut out = Vec::new();
        let sneaky = Response::text(200, "ok").with_header("X-A", "1\r\nSet-Cookie: x");
        write_response(&mut out, &sneaky, false).unwrap();
        assert!(!String::from_utf8(out).unwrap().contains("Set-Cookie"));
    }
}
