//! The HTTP/1.1 client the components use to talk to each other: plain `http://` URLs, names
//! resolved through the system resolver, one request per connection, bounded waits everywhere.
//!
//! Host names go through `ToSocketAddrs`, i.e. the libc resolver, so Docker service names such as
//! `core` resolve the same way they would for any other program in the container.

use std::error::Error;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::build_info;

/// A response as received: status, header fields (names lowercased) and the decoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientResponse {
    /// The status code, such as 200.
    pub status: u16,
    /// Header fields in the order received, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body, with any chunked transfer coding removed.
    pub body: Vec<u8>,
}

impl ClientResponse {
    /// The body as text; invalid UTF-8 is replaced rather than rejected, since callers use this
    /// for messages and logs.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first header field named `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Why a request failed before a complete response arrived.
#[derive(Debug)]
pub enum ClientError {
    /// The URL is not an `http://host[:port][/path]` URL.
    InvalidUrl(String),
    /// The host name did not resolve to any address.
    Resolve { host: String, source: io::Error },
    /// No resolved address accepted a connection.
    Connect {
        address: SocketAddr,
        source: io::Error,
    },
    /// The connection failed or timed out while sending or receiving.
    Io(io::Error),
    /// The peer did not answer with valid HTTP/1.x.
    InvalidResponse(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::InvalidUrl(why) => write!(f, "invalid URL: {why}"),
            ClientError::Resolve { host, source } => write!(f, "cannot resolve {host}: {source}"),
            ClientError::Connect { address, source } => {
                write!(f, "cannot connect to {address}: {source}")
            }
            ClientError::Io(source) => write!(f, "connection failed: {source}"),
            ClientError::InvalidResponse(why) => write!(f, "invalid HTTP response: {why}"),
        }
    }
}

impl Error for ClientError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ClientError::Resolve { source, .. }
            | ClientError::Connect { source, .. }
            | ClientError::Io(source) => Some(source),
            ClientError::InvalidUrl(_) | ClientError::InvalidResponse(_) => None,
        }
    }
}

impl From<io::Error> for ClientError {
    fn from(error: io::Error) -> ClientError {
        ClientError::Io(error)
    }
}

/// A parsed `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// The host name or address, without brackets for IPv6.
    pub host: String,
    /// The port, 80 when the URL does not say.
    pub port: u16,
    /// The path and query in origin form, at least `/`.
    pub path: String,
}

impl Url {
    /// Parses `http://host[:port][/path][?query]`. Anything the request line or `Host` header
    /// could be abused with (whitespace, control characters, user info) is rejected here, so a
    /// URL from configuration can never inject extra header lines.
    pub fn parse(url: &str) -> Result<Url, ClientError> {
        let invalid = |why: &str| ClientError::InvalidUrl(format!("{url:?}: {why}"));

        let Some(scheme_end) = url.find("://") else {
            return Err(invalid("expected http://host:port/path"));
        };
        let scheme = &url[..scheme_end];
        if scheme.eq_ignore_ascii_case("https") {
            return Err(invalid(
                "https is not supported; the components speak plain HTTP",
            ));
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(invalid("only http:// URLs are supported"));
        }
        let rest = &url[scheme_end + 3..];
        let rest = rest
            .split_once('#')
            .map_or(rest, |(before, _fragment)| before);
        if !rest.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                "URLs may not contain spaces, control or non-ASCII characters",
            ));
        }

        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(invalid("user information in URLs is not supported"));
        }

        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("unterminated IPv6 address"))?;
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(invalid("unexpected text after the IPv6 address")),
                },
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("missing host"));
        }
        if host.contains([':', '[', ']']) && !authority.starts_with('[') {
            return Err(invalid("IPv6 addresses must be written in brackets"));
        }
        let port = match port {
            None => 80,
            Some(text) => match text.parse::<u16>() {
                Ok(port) if port != 0 && text.bytes().all(|b| b.is_ascii_digit()) => port,
                _ => return Err(invalid("invalid port")),
            },
        };
        let path = match path {
            "" => "/".to_owned(),
            path if path.starts_with('?') => format!("/{path}"),
            path => path.to_owned(),
        };
        Ok(Url {
            host: host.to_owned(),
            port,
            path,
        })
    }

    /// The value of the `Host` header: the port is left out when it is the default.
    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// A client with explicit timeouts. The free functions [`get`] and [`post_json`] use
/// [`Client::default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// How long to wait for each TCP connection attempt.
    pub connect_timeout: Duration,
    /// How long any single read or write may block.
    pub io_timeout: Duration,
    /// The largest body accepted; bigger responses fail instead of exhausting memory.
    pub max_body_bytes: usize,
}

impl Default for Client {
    fn default() -> Client {
        Client {
            connect_timeout: Duration::from_secs(3),
            io_timeout: Duration::from_secs(10),
            max_body_bytes: 8 * 1024 * 1024,
        }
    }
}

impl Client {
    /// Sends `GET url`.
    pub fn get(&self, url: &str) -> Result<ClientResponse, ClientError> {
        self.request("GET", url, None, &[])
    }

    /// Sends `POST url` with a JSON body, given as already-encoded JSON text.
    pub fn post_json(&self, url: &str, json: &str) -> Result<ClientResponse, ClientError> {
        self.request("POST", url, Some("application/json"), json.as_bytes())
    }

    /// Sends one request and reads the whole response. Any status counts as success here;
    /// interpreting it is the caller's business.
    pub fn request(
        &self,
        method: &str,
        url: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<ClientResponse, ClientError> {
        if !super::is_token(method) {
            return Err(ClientError::InvalidUrl(format!(
                "invalid method {method:?}"
            )));
        }
        if content_type.is_some_and(|value| value.bytes().any(|b| b.is_ascii_control())) {
            return Err(ClientError::InvalidUrl("invalid content type".into()));
        }
        let url = Url::parse(url)?;
        let stream = self.connect(&url)?;
        stream.set_read_timeout(Some(self.io_timeout))?;
        stream.set_write_timeout(Some(self.io_timeout))?;

        let mut head = format!(
            "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: aisopsflow/{}\r\nAccept: */*\r\n\
             Connection: close\r\n",
            url.path,
            url.host_header(),
            build_info::VERSION
        );
        if let Some(content_type) = content_type {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        // A POST without a body still states its length, since some servers insist on one.
        if !body.is_empty() || method != "GET" && method != "HEAD" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");

        let mut message = head.into_bytes();
        message.extend_from_slice(body);
        (&stream).write_all(&message)?;
        (&stream).flush()?;

        read_response(
            &mut BufReader::new(&stream),
            method == "HEAD",
            self.max_body_bytes,
        )
    }

    /// Connects to the first resolved address that accepts, trying them in resolver order so
    /// that a dual-stack name still works when only one family is listening.
    fn connect(&self, url: &Url) -> Result<TcpStream, ClientError> {
        let addresses: Vec<SocketAddr> = (url.host.as_str(), url.port)
            .to_socket_addrs()
            .map_err(|source| ClientError::Resolve {
                host: url.host.clone(),
                source,
            })?
            .collect();
        let mut last_error = None;
        for address in addresses {
            match TcpStream::connect_timeout(&address, self.connect_timeout) {
                Ok(stream) => return Ok(stream),
                Err(source) => last_error = Some(ClientError::Connect { address, source }),
            }
        }
        Err(last_error.unwrap_or_else(|| ClientError::Resolve {
            host: url.host.clone(),
            source: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
        }))
    }
}

/// Sends `GET url` with the default timeouts.
pub fn get(url: &str) -> Result<ClientResponse, ClientError> {
    Client::default().get(url)
}

/// Sends `POST url` with a JSON body (already-encoded JSON text) and the default timeouts.
pub fn post_json(url: &str, json: &str) -> Result<ClientResponse, ClientError> {
    Client::default().post_json(url, json)
}

/// The most bytes a response's status line plus header fields may take.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;

fn read_response<R: BufRead>(
    reader: &mut R,
    head_request: bool,
    max_body: usize,
) -> Result<ClientResponse, ClientError> {
    let mut budget = MAX_RESPONSE_HEAD;
    let (status, headers) = loop {
        let status_line = read_line(reader, &mut budget)?;
        let status = parse_status_line(&status_line)?;
        let mut headers = Vec::new();
        loop {
            let line = read_line(reader, &mut budget)?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| ClientError::InvalidResponse(format!("bad header line {line:?}")))?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        // Interim responses such as 100 Continue precede the real one; skip them.
        if !(100..200).contains(&status) {
            break (status, headers);
        }
    };

    let header = |name: &str| {
        headers
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, v)| v)
    };
    let body = if head_request || status == 204 || status == 304 {
        Vec::new()
    } else if header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        read_chunked(reader, max_body)?
    } else if let Some(length) = header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| ClientError::InvalidResponse(format!("bad Content-Length {length:?}")))?;
        if length > max_body {
            return Err(too_large(max_body));
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        body
    } else {
        // Without framing, the body is whatever arrives before the server closes.
        let mut body = Vec::new();
        reader.take(max_body as u64 + 1).read_to_end(&mut body)?;
        if body.len() > max_body {
            return Err(too_large(max_body));
        }
        body
    };
    Ok(ClientResponse {
        status,
        headers,
        body,
    })
}

fn too_large(max_body: usize) -> ClientError {
    ClientError::InvalidResponse(format!("body larger than {max_body} bytes"))
}

fn read_line<R: BufRead>(reader: &mut R, budget: &mut usize) -> Result<String, ClientError> {
    let mut line = Vec::new();
    let read = reader
        .by_ref()
        .take(*budget as u64)
        .read_until(b'\n', &mut line)?;
    *budget -= read;
    if line.last() != Some(&b'\n') {
        return Err(ClientError::InvalidResponse(if *budget == 0 {
            "header section too large".into()
        } else {
            "connection closed before the response was complete".into()
        }));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn parse_status_line(line: &str) -> Result<u16, ClientError> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(ClientError::InvalidResponse(format!(
            "bad status line {line:?}"
        )));
    }
    code.parse()
        .map_err(|_| ClientError::InvalidResponse(format!("bad status line {line:?}")))
}

/// Removes the chunked transfer coding, which servers other than ours (proxies, for instance)
/// may use.
fn read_chunked<R: BufRead>(reader: &mut R, max_body: usize) -> Result<Vec<u8>, ClientError> {
    let mut body = Vec::new();
    let mut budget = MAX_RESPONSE_HEAD;
    loop {
        let line = read_line(reader, &mut budget)?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ClientError::InvalidResponse(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailer fields, if any, end with an empty line; we have no use for them.
            while !read_line(reader, &mut budget)?.is_empty() {}
            return Ok(body);
        }
        if size > max_body.saturating_sub(body.len()) {
            return Err(too_large(max_body));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        if !read_line(reader, &mut budget)?.is_empty() {
            return Err(ClientError::InvalidResponse(
                "chunk not followed by CRLF".into(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let url = Url::parse("http://core:8080/api/runners?x=1#frag").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.path.as_str()),
            ("core", 8080, "/api/runners?x=1")
        );
        assert_eq!(url.host_header(), "core:8080");

        let url = Url::parse("HTTP://example.com").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.path.as_str()),
            ("example.com", 80, "/")
        );
        assert_eq!(url.host_header(), "example.com");

        let url = Url::parse("http://[::1]:9000?q").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.path.as_str()),
            ("::1", 9000, "/?q")
        );
        assert_eq!(url.host_header(), "[::1]:9000");

        for bad in [
            "core:8080",
            "https://core",
            "ftp://core",
            "http://",
            "http://:80/",
            "http://core:0/",
            "http://core:99999/",
            "http://core:+80/",
            "http://user@core/",
            "http://core/a b",
            "http://core/\r\nX: y",
            "http://::1/",
            "http://[::1/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn reads_content_length_chunked_and_unframed_bodies() {
        let raw =
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
        let response = read_response(&mut raw.as_bytes(), false, 1024).unwrap();
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, &b"ok"[..])
        );

        let raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nab\r\n1\r\nc\r\n0\r\nT: 1\r\n\r\n";
        let response = read_response(&mut raw.as_bytes(), false, 1024).unwrap();
        assert_eq!(response.body, b"abc");

        let raw = "HTTP/1.0 404 Not Found\r\n\r\ngone";
        let response = read_response(&mut raw.as_bytes(), false, 1024).unwrap();
        assert_eq!((response.status, response.text().as_str()), (404, "gone"));

        let raw = "HTTP/1.1 204 No Content\r\n\r\n";
        assert!(
            read_response(&mut raw.as_bytes(), false, 1024)
                .unwrap()
                .body
                .is_empty()
        );
    }

    #[test]
    fn rejects_bad_responses() {
        for raw in [
            "",
            "SSH-2.0-OpenSSH\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            assert!(
                read_response(&mut raw.as_bytes(), false, 1024).is_err(),
                "{raw:?}"
            );
        }
    }
}
