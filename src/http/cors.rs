//! CORS, for XML-RPC called from a web page on another origin: the
//! preflight `OPTIONS` answered by the server itself (before any handler
//! or credentials: a browser sends none with it), and the allowed origin
//! named on every response to it.

use std::time::Duration;

use super::{Request, Response};

/// Who may call from a browser.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorsConfig {
    /// Allowed origins, as browsers send them (`https://app.example`), or
    /// `*` for any. Empty (the default): no CORS headers at all.
    pub origins: Vec<String>,
    /// How long a browser may cache a preflight's answer.
    pub max_age: Duration,
}

impl CorsConfig {
    /// Whether CORS is on.
    pub fn enabled(&self) -> bool {
        !self.origins.is_empty()
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`,
    /// if it is allowed: the origin itself when it is listed (credentials
    /// may then be sent), `*` when only the wildcard allows it.
    fn allow(&self, origin: &str) -> Option<Allowed> {
        if self.origins.iter().any(|o| o == origin) {
            Some(Allowed::Listed)
        } else if self.origins.iter().any(|o| o == "*") {
            Some(Allowed::Any)
        } else {
            None
        }
    }

    /// The answer to a preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`), or `None` for any other request.
    /// A preflight from an origin not allowed gets 403.
    pub fn preflight(&self, request: &Request) -> Option<Response> {
        if !self.enabled() || request.method != "OPTIONS" {
            return None;
        }
        let origin = request.header("Origin")?;
        request.header("Access-Control-Request-Method")?;
        if self.allow(origin).is_none() {
            return Some(Response::error(403, "origin not allowed"));
        }
        // The origin itself is named by `decorate`, as on every answer.
        let response = Response::new(204)
            .with_header("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
            .with_header(
                "Access-Control-Allow-Headers",
                "Content-Type, Authorization, Accept-Encoding",
            )
            .with_header(
                "Access-Control-Max-Age",
                &self.max_age.as_secs().to_string(),
            );
        Some(response)
    }

    /// Names the allowed origin of `origin` (the request's `Origin`) on a
    /// response; nothing for an origin not allowed.
    pub fn decorate(&self, response: Response, origin: Option<&str>) -> Response {
        match origin.and_then(|o| Some((o, self.allow(o)?))) {
            Some((origin, allowed)) => allowed.decorate(response, origin),
            None => response,
        }
    }
}

#[derive(Clone, Copy)]
enum Allowed {
    Listed,
    Any,
}

impl Allowed {
    fn decorate(self, response: Response, origin: &str) -> Response {
        match self {
            Allowed::Listed => response
                .with_header("Access-Control-Allow-Origin", origin)
                .with_header("Access-Control-Allow-Credentials", "true")
                .with_header("Vary", "Origin"),
            Allowed::Any => response.with_header("Access-Control-Allow-Origin", "*"),
        }
    }
}
