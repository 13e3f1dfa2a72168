//! `/` when no files are served: a page that says what this server offers
//! and links it, instead of a bare 404 with no way further.

use crate::http::{
    html_escape, page_start, Handler, HandlerStatus, Outcome, Request, Response, ServerView,
    PAGE_END,
};

/// Answers `GET /` with links to what the server serves.
#[derive(Debug, Clone)]
pub struct LandingHandler {
    title: String,
    links: Vec<(String, String)>,
}

impl LandingHandler {
    /// A page titled `title` listing `links`: (path, what it is) pairs,
    /// e.g. `("/RPC2", "XML-RPC endpoint")`.
    pub fn new(title: &str, links: Vec<(String, String)>) -> LandingHandler {
        LandingHandler {
            title: title.to_string(),
            links,
        }
    }
}

impl Handler for LandingHandler {
    fn matches(&self, request: &Request) -> bool {
        request.path == "/"
    }

    fn handle_request(&mut self, request: &mut Request, server: &ServerView<'_>) -> Outcome {
        if !matches!(request.method.as_str(), "GET" | "HEAD") {
            return Response::method_not_allowed(&["GET", "HEAD"]).into();
        }
        let mut html = page_start(&self.title);
        html.push_str(&format!(
            "<h1>{}</h1>\n<p>{}</p>\n<ul>\n",
            html_escape(&self.title),
            html_escape(&server.config.server_name)
        ));
        for (path, what) in &self.links {
            let path = html_escape(path);
            html.push_str(&format!(
                "<li><a href=\"{path}\"><code>{path}</code></a>: {}</li>\n",
                html_escape(what)
            ));
        }
        html.push_str("</ul>\n");
        html.push_str(PAGE_END);
        Response::ok("text/html; charset=utf-8", html).into()
    }

    fn status(&self) -> HandlerStatus {
        HandlerStatus {
            name: "landing page (/)".to_string(),
            facts: Vec::new(),
        }
    }
}
