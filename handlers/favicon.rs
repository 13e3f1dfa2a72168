//! `/favicon.ico`: a small built-in icon (16×16, the server's colour),
//! so that a browser's visit costs one cached answer instead of a 404 on
//! every page counted among the errors.

use crate::http::{Handler, HandlerStatus, Outcome, Request, Response, ServerView};

/// The icon: an ICO holding one 16×16 PNG, 144 bytes.
const ICON: &[u8] = include_bytes!("favicon.ico");

/// Answers `GET /favicon.ico` with the built-in icon.
#[derive(Debug, Default)]
pub struct FaviconHandler;

impl FaviconHandler {
    /// The handler.
    pub fn new() -> FaviconHandler {
        FaviconHandler
    }
}

impl Handler for FaviconHandler {
    fn matches(&self, request: &Request) -> bool {
        request.path == "/favicon.ico"
    }

    fn handle_request(&mut self, request: &mut Request, _server: &ServerView<'_>) -> Outcome {
        let response = match request.method.as_str() {
            // A day: browsers ask again rarely, and a new icon still
            // shows within one.
            "GET" | "HEAD" => Response::ok("image/x-icon", ICON)
                .with_header("Cache-Control", "public, max-age=86400"),
            _ => Response::method_not_allowed(&["GET", "HEAD"]),
        };
        response.into()
    }

    fn status(&self) -> HandlerStatus {
        HandlerStatus {
            name: "favicon (/favicon.ico, built in)".to_string(),
            facts: Vec::new(),
        }
    }
}
