//! The console service: a status page that shows which core it is talking to, plus the usual
//! health and version endpoints.
//!
//! The page asks core for `/version` on every request rather than caching it, so what it shows is
//! always the core that is running now; that is the point of a status page during an upgrade.
//! It is a library so that tests can start it on a loopback port next to an in-process core.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use aisopsflow_core::http::{self, Client, Request, Response, escape_html};
use aisopsflow_core::{BuildInfo, VersionDocument};

/// The component name of the console.
pub const COMPONENT: &str = "aisopsflow-console";

/// The listen address used when neither `--listen` nor `AISOPSFLOW_LISTEN` says otherwise.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8081";

/// The console service, configured with core's base URL.
#[derive(Debug, Clone)]
pub struct ConsoleService {
    core_url: String,
    client: Client,
}

impl ConsoleService {
    /// A console that reads from core at `core_url` (such as `http://core:8080`).
    pub fn new(core_url: &str) -> ConsoleService {
        ConsoleService {
            core_url: core_url.trim_end_matches('/').to_owned(),
            // A browser waiting on the page is waiting on core, so core gets less patience than
            // the default client would give it.
            client: Client {
                connect_timeout: Duration::from_secs(2),
                io_timeout: Duration::from_secs(5),
                ..Client::default()
            },
        }
    }

    /// Core's base URL as configured.
    pub fn core_url(&self) -> &str {
        &self.core_url
    }

    /// Answers one request.
    pub fn handle(&self, request: &Request) -> Response {
        let allowed = |response: fn(&ConsoleService) -> Response| match request.method.as_str() {
            "GET" => response(self),
            _ => Response::method_not_allowed("GET, HEAD"),
        };
        match request.path() {
            "/" => allowed(ConsoleService::status_page),
            "/healthz" => allowed(|_| Response::text(200, "ok")),
            "/version" => {
                allowed(|_| Response::json(200, &VersionDocument::for_component(COMPONENT)))
            }
            _ => Response::not_found(),
        }
    }

    /// Renders the status page from core's live `/version`, or a 502 page saying why it could not.
    fn status_page(&self) -> Response {
        let response = match self.core_version() {
            Ok(core) => Response::html(200, render_page(&self.core_url, Ok(&core))),
            Err(message) => Response::html(502, render_page(&self.core_url, Err(&message))),
        };
        response.with_header("Cache-Control", "no-store")
    }

    fn core_version(&self) -> Result<BuildInfo, String> {
        let url = &self.core_url;
        let response = self
            .client
            .get(&format!("{url}/version"))
            .map_err(|error| format!("core unreachable at {url}: {error}"))?;
        if response.status != 200 {
            return Err(format!(
                "core at {url} answered {} to GET /version: {}",
                response.status,
                response.text().trim()
            ));
        }
        serde_json::from_slice(&response.body)
            .map_err(|error| format!("core at {url} sent an invalid /version document: {error}"))
    }
}

/// Builds the page. Every value that came from core or from configuration is escaped, because a
/// compromised or misconfigured core must not be able to script the operator's browser.
fn render_page(core_url: &str, core: Result<&BuildInfo, &str>) -> String {
    let own = BuildInfo::for_component(COMPONENT);
    let core_section = match core {
        Ok(core) => format!(
            "<table>\n\
             <tr><th>Component</th><td id=\"core-component\">{}</td></tr>\n\
             <tr><th>Version</th><td id=\"core-version\">{}</td></tr>\n\
             <tr><th>Commit</th><td id=\"core-commit\"><code>{}</code></td></tr>\n\
             <tr><th>Edition</th><td id=\"core-edition\">{}</td></tr>\n\
             </table>",
            escape_html(&core.component),
            escape_html(&core.version),
            escape_html(&core.commit),
            escape_html(&core.edition),
        ),
        Err(message) => format!(
            "<p class=\"error\" id=\"core-error\">{}</p>",
            escape_html(message)
        ),
    };
    format!(
        "<!DOCTYPE html>\n\
         <html lang=\"en\">\n\
         <head>\n\
         <meta charset=\"utf-8\">\n\
         <title>aisopsflow console</title>\n\
         <style>body{{font-family:sans-serif;margin:2em}}th{{text-align:left;padding-right:1em}}\
         .error{{color:#b00020}}</style>\n\
         </head>\n\
         <body>\n\
         <h1>aisopsflow</h1>\n\
         <h2>Core at {}</h2>\n\
         {core_section}\n\
         <footer><p>{}</p></footer>\n\
         </body>\n\
         </html>\n",
        escape_html(core_url),
        escape_html(&own.to_string()),
    )
}

/// Serves the console on `listener` forever.
pub fn serve(listener: TcpListener, core_url: &str) {
    let service = ConsoleService::new(core_url);
    http::serve(listener, move |request| service.handle(request));
}

/// Starts the console on `listener` in a background thread and returns its address.
pub fn spawn(listener: TcpListener, core_url: &str) -> io::Result<SocketAddr> {
    let service = ConsoleService::new(core_url);
    http::spawn(listener, move |request| service.handle(request))
}
