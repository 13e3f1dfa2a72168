//! The auth handler: Medusa's `auth_handler`, HTTP Basic authentication in
//! front of another handler.
//!
//! A request without valid credentials gets 401 with `WWW-Authenticate`;
//! credentials that are not valid base64 get 400. Passwords are compared in
//! constant time (for equal lengths), so response timing does not reveal how
//! much of a guess was right. The authenticated user name goes into the
//! access log. Credentials are checked as soon as the head is in
//! ([`Handler::admit`]): a request with a body and without valid
//! credentials is answered 401 before its body is read.

// Peer-controlled sizes and counts: arithmetic here must say what happens
// at the edges (checked, saturating), never wrap silently in release.
#![warn(clippy::arithmetic_side_effects)]

use std::collections::HashMap;

use base64::Engine as _;

use crate::http::{Handler, HandlerMetrics, HandlerStatus, Outcome, Request, Response, ServerView};

/// Medusa's `auth_handler`: wraps `inner`, admitting only known users.
#[doc(alias = "auth_handler")]
pub struct AuthHandler<H> {
    realm: String,
    users: HashMap<String, String>,
    inner: H,
    /// Paths served without credentials: exact, or a prefix when the
    /// entry ends with `/`.
    public: Vec<String>,
    accepted: u64,
    refused: u64,
}

impl<H: Handler> AuthHandler<H> {
    /// Protects `inner` with the `users` (name → password) map.
    pub fn new(realm: &str, users: HashMap<String, String>, inner: H) -> AuthHandler<H> {
        AuthHandler {
            realm: realm.replace(['"', '\\', '\r', '\n'], ""),
            users,
            inner,
            public: Vec::new(),
            accepted: 0,
            refused: 0,
        }
    }

    /// Serves `paths` without asking for credentials (e.g.
    /// `/status/metrics` for a scraper): each is an exact path, or a prefix
    /// when it ends with `/`. Paths are compared as sent (still
    /// percent-encoded).
    pub fn with_public(mut self, paths: &[String]) -> AuthHandler<H> {
        self.public = paths.to_vec();
        self
    }

    fn is_public(&self, path: &str) -> bool {
        self.public
            .iter()
            .any(|p| p == path || (p.ends_with('/') && path.starts_with(p.as_str())))
    }

    /// The user name if the request carries valid credentials;
    /// `Err(response)` to send otherwise.
    fn authenticate(&self, request: &Request) -> Result<String, Response> {
        let Some(header) = request.header("Authorization") else {
            return Err(self.challenge("credentials required"));
        };
        let Some((scheme, encoded)) = header.split_once(' ') else {
            return Err(self.challenge("malformed Authorization header"));
        };
        if !scheme.eq_ignore_ascii_case("Basic") {
            return Err(self.challenge("only Basic authentication is supported"));
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return Err(Response::error(400, "credentials are not valid base64"));
        };
        let Ok(decoded) = String::from_utf8(decoded) else {
            return Err(Response::error(400, "credentials are not UTF-8"));
        };
        let Some((user, password)) = decoded.split_once(':') else {
            return Err(Response::error(400, "credentials lack a ':'"));
        };
        // Compare against something even for unknown users, so the answer
        // takes the same path either way.
        let expected = self
            .users
            .get(user)
            .map_or("\u{0}unknown-user", String::as_str);
        if constant_time_eq(password.as_bytes(), expected.as_bytes())
            && self.users.contains_key(user)
        {
            Ok(user.to_string())
        } else {
            Err(self.challenge("wrong user name or password"))
        }
    }

    fn challenge(&self, detail: &str) -> Response {
        Response::error(401, detail).with_header(
            "WWW-Authenticate",
            &format!("Basic realm=\"{}\"", self.realm),
        )
    }
}

impl<H: Handler> Handler for AuthHandler<H> {
    fn matches(&self, request: &Request) -> bool {
        self.inner.matches(request)
    }

    /// Credentials are checked on the head, so a stranger's body is never
    /// read.
    fn admit(&mut self, request: &mut Request) -> Result<(), Response> {
        if self.is_public(&request.path) {
            return self.inner.admit(request);
        }
        match self.authenticate(request) {
            Ok(_) => self.inner.admit(request),
            Err(response) => {
                self.refused = self.refused.wrapping_add(1);
                Err(response)
            }
        }
    }

    fn handle_request(&mut self, request: &mut Request, server: &ServerView<'_>) -> Outcome {
        if self.is_public(&request.path) {
            return self.inner.handle_request(request, server);
        }
        match self.authenticate(request) {
            Ok(user) => {
                self.accepted = self.accepted.wrapping_add(1);
                request.user = Some(user);
                self.inner.handle_request(request, server)
            }
            Err(response) => {
                self.refused = self.refused.wrapping_add(1);
                response.into()
            }
        }
    }

    fn status(&self) -> HandlerStatus {
        let mut status = self.inner.status();
        status.name = format!("auth handler (realm {}) around {}", self.realm, status.name);
        status
            .facts
            .push(("authorized".to_string(), self.accepted.to_string()));
        status
            .facts
            .push(("refused".to_string(), self.refused.to_string()));
        status
    }

    fn metrics(&self) -> Option<HandlerMetrics> {
        self.inner.metrics()
    }
}

/// Equality whose time depends only on the lengths, not on where the first
/// difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secrets"));
        assert!(constant_time_eq(b"", b""));
    }
}
