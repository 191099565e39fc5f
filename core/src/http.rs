//! A deliberately tiny HTTP/1.1 stack shared by the three components: request and response types
//! here, a thread-per-connection server in [`server`], and a blocking client in [`client`].
//!
//! The components are statically linked into FROM-scratch images and may depend on nothing but
//! std and serde, so a framework is not an option. The subset implemented is the one the
//! deployment needs: one request per connection (`Connection: close`), bodies framed by
//! `Content-Length` on the way in, plain `http://` URLs on the way out.

pub mod client;
pub mod server;

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

pub use client::{Client, ClientError, ClientResponse, Url, get, post_json};
pub use server::{Limits, serve, serve_with_limits, spawn};

/// A parsed request, handed to a handler after the whole body has been read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, such as `GET`. `HEAD` requests reach handlers as `GET`, because the server
    /// answers them by dropping the body of the `GET` response.
    pub method: String,
    /// The request target in origin form, such as `/api/runners?limit=5`.
    pub target: String,
    /// Header fields in the order received, with names lowercased so lookups are simple.
    pub headers: Vec<(String, String)>,
    /// The body, exactly `Content-Length` bytes long (empty when there was none).
    pub body: Vec<u8>,
}

impl Request {
    /// The target without its query string, which is what routing looks at.
    pub fn path(&self) -> &str {
        match self.target.split_once('?') {
            Some((path, _query)) => path,
            None => &self.target,
        }
    }

    /// The first header field named `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A response for the server to send. The server adds the framing headers (`Content-Length`,
/// `Connection: close`, `Date`) itself, so handlers cannot get them wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, such as 200.
    pub status: u16,
    /// The `Content-Type` of `body`; ignored for statuses that have no body (204, 304).
    pub content_type: String,
    /// The body bytes.
    pub body: Vec<u8>,
    /// Any further header fields, such as `Allow` on a 405.
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// A response with an explicit content type.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type: content_type.to_owned(),
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// A plain-text response.
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body.into())
    }

    /// An HTML response; the caller is responsible for escaping (see [`escape_html`]).
    pub fn html(status: u16, body: impl Into<String>) -> Response {
        Response::new(status, "text/html; charset=utf-8", body.into())
    }

    /// A JSON response. Serialization of our own types cannot fail in practice, but if it ever
    /// does the client gets a 500 rather than a truncated document.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Response {
        match serde_json::to_vec(value) {
            Ok(body) => Response::new(status, "application/json", body),
            Err(error) => Response::text(500, format!("could not encode the response: {error}")),
        }
    }

    /// A JSON error body of the form `{"error": message}`, so API clients always get JSON.
    pub fn json_error(status: u16, message: &str) -> Response {
        Response::json(status, &serde_json::json!({ "error": message }))
    }

    /// A 204 No Content.
    pub fn no_content() -> Response {
        Response::new(204, "", Vec::new())
    }

    /// A 404 for any unknown path.
    pub fn not_found() -> Response {
        Response::text(404, "not found")
    }

    /// A 405 that lists the methods the path does support, as RFC 9110 requires.
    pub fn method_not_allowed(allow: &str) -> Response {
        Response::text(405, "method not allowed").with_header("Allow", allow)
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// Escapes text for use in HTML element content and in quoted attribute values. Everything the
/// console shows comes from another service, so all of it goes through here.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// The reason phrase for a status code. Clients ignore it, but humans reading logs do not.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Seconds since the Unix epoch, which is how the APIs report times. A clock before 1970 is a
/// broken host, and reporting 0 is more useful there than failing the request.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Formats a Unix time as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) for the `Date` header,
/// which RFC 9110 asks origin servers with a clock to send.
pub fn http_date(unix_seconds: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];

    let days = unix_seconds / 86_400;
    let seconds_of_day = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        seconds_of_day / 3600,
        seconds_of_day % 3600 / 60,
        seconds_of_day % 60
    )
}

/// Converts days since 1970-01-01 into a (year, month, day) date in the proleptic Gregorian
/// calendar. This is Howard Hinnant's `civil_from_days`, restricted to dates after the epoch.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Whether `byte` may appear in a method or header name (`tchar` in RFC 9110).
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(is_token_byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_date_matches_the_rfc_example() {
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn escape_html_covers_markup_and_quotes() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn request_path_drops_the_query() {
        let request = Request {
            method: "GET".into(),
            target: "/api/runners?limit=1".into(),
            headers: vec![("host".into(), "x".into())],
            body: Vec::new(),
        };
        assert_eq!(request.path(), "/api/runners");
        assert_eq!(request.header("Host"), Some("x"));
    }
}
