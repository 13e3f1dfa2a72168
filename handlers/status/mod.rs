//! The status handler: Medusa's `status_handler`, at `/status`.
//!
//! `/status` is a self-contained HTML page (no external assets) with uptime,
//! the server's counters, every installed handler's own status, and the open
//! connections. `/status/metrics` has the same numbers in the Prometheus
//! text format, for monitoring to scrape.

use std::fmt::Write as _;
use std::time::Duration;

use crate::http::{
    html_escape, page_start, Handler, HandlerStatus, Outcome, Request, Response, ServerView,
    PAGE_END,
};

/// Open connections listed on the page at most.
const CHANNELS_SHOWN: usize = 100;

/// Medusa's `status_handler`.
#[doc(alias = "status_handler")]
pub struct StatusHandler {
    prefix: String,
    hits: u64,
}

impl StatusHandler {
    /// Serves `/status` and `/status/metrics`.
    pub fn new() -> StatusHandler {
        StatusHandler::at("/status")
    }

    /// Serves `prefix` and `prefix/metrics`.
    pub fn at(prefix: &str) -> StatusHandler {
        StatusHandler {
            prefix: prefix.trim_end_matches('/').to_string(),
            hits: 0,
        }
    }

    fn page(&self, server: &ServerView<'_>) -> String {
        let stats = server.stats;
        let uptime = server.started.elapsed();
        let mut html = page_start("medusa status");
        html.push_str(
            "<h1>medusa status</h1>\n<p><a href=\"/status/metrics\">Prometheus metrics</a></p>\n",
        );
        // Counters are per process: with medusad --workers, the pid says
        // which worker this page describes.
        let _ = writeln!(
            html,
            "<p>{} &mdash; process {} &mdash; up {}</p>",
            html_escape(&server.config.server_name),
            std::process::id(),
            human_duration(uptime)
        );
        html.push_str("<h2>Server</h2>\n<table>\n");
        for (name, value) in counters(server) {
            let _ = writeln!(
                html,
                "<tr><th>{}</th><td class=\"n\">{value}</td></tr>",
                html_escape(name)
            );
        }
        html.push_str(
            "</table>\n<h2>Handlers</h2>\n<table>\n<tr><th>handler</th><th>status</th></tr>\n",
        );
        let own = self.status();
        for handler in std::iter::once(own).chain(server.handler_statuses()) {
            let facts: Vec<String> = handler
                .facts
                .iter()
                .map(|(k, v)| format!("{}: {}", html_escape(k), html_escape(v)))
                .collect();
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td></tr>",
                html_escape(&handler.name),
                facts.join(", ")
            );
        }
        let channels = server.open_channels(CHANNELS_SHOWN);
        let _ = writeln!(
            html,
            "</table>\n<h2>Open connections ({})</h2>\n<table>\n<tr><th>client</th><th>open for</th><th>requests</th></tr>",
            stats.connections_open.get()
        );
        for channel in channels {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                channel.peer,
                human_duration(channel.opened.elapsed()),
                channel.requests
            );
        }
        html.push_str("</table>\n");
        html.push_str(PAGE_END);
        html
    }

    fn metrics(&self, server: &ServerView<'_>) -> String {
        let stats = server.stats;
        let mut text = String::with_capacity(1024);
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = write!(
                text,
                "# HELP medusa_{name} {help}\n# TYPE medusa_{name} {kind}\nmedusa_{name} {value}\n"
            );
        };
        metric(
            "uptime_seconds",
            "gauge",
            "Seconds since the server started.",
            server.started.elapsed().as_secs(),
        );
        metric(
            "worker_pid",
            "gauge",
            "Process id of the worker these counters belong to (they are per process).",
            u64::from(std::process::id()),
        );
        metric(
            "connections_total",
            "counter",
            "Connections accepted.",
            stats.connections_total.get(),
        );
        metric(
            "connections_open",
            "gauge",
            "Connections open now.",
            stats.connections_open.get(),
        );
        metric(
            "connections_refused_total",
            "counter",
            "Connections closed at once because max_connections were open.",
            stats.connections_refused.get(),
        );
        metric(
            "connections_evicted_total",
            "counter",
            "Idle keep-alive connections closed to make room at max_connections.",
            stats.connections_evicted.get(),
        );
        metric(
            "requests_total",
            "counter",
            "Requests answered.",
            stats.requests.get(),
        );
        metric(
            "errors_total",
            "counter",
            "Responses with a 4xx or 5xx status.",
            stats.errors.get(),
        );
        metric(
            "handler_panics_total",
            "counter",
            "Handler panics turned into 500s.",
            stats.panics.get(),
        );
        metric(
            "received_bytes_total",
            "counter",
            "Request bytes received.",
            stats.bytes_in.get(),
        );
        metric(
            "sent_bytes_total",
            "counter",
            "Response bytes sent.",
            stats.bytes_out.get(),
        );
        metric(
            "tls_handshake_failures_total",
            "counter",
            "TLS handshakes that failed.",
            stats.tls_handshake_failures.get(),
        );
        // Labelled by version, so not through `metric`.
        let _ = write!(
            text,
            "# HELP medusa_tls_handshakes_total TLS handshakes completed.\n\
             # TYPE medusa_tls_handshakes_total counter\n\
             medusa_tls_handshakes_total{{version=\"1.3\"}} {}\n\
             medusa_tls_handshakes_total{{version=\"1.2\"}} {}\n",
            stats.tls13_handshakes.get(),
            stats.tls12_handshakes.get()
        );
        text
    }
}

impl Default for StatusHandler {
    fn default() -> StatusHandler {
        StatusHandler::new()
    }
}

impl Handler for StatusHandler {
    fn matches(&self, request: &Request) -> bool {
        let rest = request.path.strip_prefix(self.prefix.as_str());
        matches!(rest, Some("" | "/" | "/metrics")) || request.path == "/metrics"
    }

    fn handle_request(&mut self, request: &mut Request, server: &ServerView<'_>) -> Outcome {
        if request.method != "GET" && request.method != "HEAD" {
            return Response::method_not_allowed(&["GET", "HEAD"]).into();
        }
        self.hits += 1;
        let response = if request.path.ends_with("/metrics") {
            Response::ok(
                "text/plain; version=0.0.4; charset=utf-8",
                self.metrics(server),
            )
        } else {
            Response::ok("text/html; charset=utf-8", self.page(server))
        };
        response.with_header("Cache-Control", "no-store").into()
    }

    fn status(&self) -> HandlerStatus {
        HandlerStatus {
            name: format!("status handler ({})", self.prefix),
            facts: vec![("hits".to_string(), self.hits.to_string())],
        }
    }
}

fn counters(server: &ServerView<'_>) -> Vec<(&'static str, u64)> {
    let s = server.stats;
    vec![
        ("connections total", s.connections_total.get()),
        ("connections open", s.connections_open.get()),
        ("connections refused", s.connections_refused.get()),
        ("idle connections evicted", s.connections_evicted.get()),
        ("requests", s.requests.get()),
        ("errors", s.errors.get()),
        ("handler panics", s.panics.get()),
        ("bytes in", s.bytes_in.get()),
        ("bytes out", s.bytes_out.get()),
        ("TLS 1.3 handshakes", s.tls13_handshakes.get()),
        ("TLS 1.2 handshakes", s.tls12_handshakes.get()),
        ("TLS handshake failures", s.tls_handshake_failures.get()),
    ]
}

/// `3d 04:05:06`-style durations.
fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}
