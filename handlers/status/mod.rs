//! The status handler: Medusa's `status_handler`, at `/status`.
//!
//! `/status` is a self-contained HTML page (no script, nothing loaded from
//! elsewhere) that reloads itself every [`REFRESH_SECONDS`]: uptime, a
//! graph of the load over the last minutes, the server's counters, per
//! method calls, faults and latencies, every installed handler's own
//! status, and the open connections. `/status/metrics` has the same
//! numbers in the Prometheus text format, for monitoring to scrape.
//! `/status/health` is for load balancers: `200 ok` while serving, `503
//! draining` once a graceful shutdown has begun (on a connection that was
//! already open: new ones are no longer accepted), so that the balancer
//! takes this server out before it goes.
//!
//! | file | concept |
//! | --- | --- |
//! | `mod.rs` | the handler and its page |
//! | `exposition.rs` | the Prometheus text |
//! | `graph.rs` | the load graph (SVG) |

mod exposition;
mod graph;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::http::{
    html_escape, page_start_with, Handler, HandlerMetrics, HandlerStatus, Outcome, Request,
    Response, ServerView, PAGE_END,
};
use graph::{load_graph, Series};

/// The page reloads itself this often (a `<meta http-equiv="refresh">`).
const REFRESH_SECONDS: u32 = 5;

/// Open connections listed on the page at most.
const CHANNELS_SHOWN: usize = 100;

/// Medusa's `status_handler`.
#[doc(alias = "status_handler")]
pub struct StatusHandler {
    prefix: String,
    hits: u64,
}

impl StatusHandler {
    /// Serves `/status`, `/status/metrics` and `/status/health`.
    pub fn new() -> StatusHandler {
        StatusHandler::at("/status")
    }

    /// Serves `prefix`, `prefix/metrics` and `prefix/health`.
    pub fn at(prefix: &str) -> StatusHandler {
        StatusHandler {
            prefix: prefix.trim_end_matches('/').to_string(),
            hits: 0,
        }
    }

    fn page(&self, server: &ServerView<'_>) -> String {
        let stats = server.stats;
        let uptime = server.started.elapsed();
        let refresh = format!("<meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">");
        let mut html = page_start_with("medusa status", &refresh);
        let _ = writeln!(
            html,
            "<h1>medusa status</h1>\n<p><a href=\"{}/metrics\">Prometheus metrics</a></p>",
            html_escape(&self.prefix)
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
        let metrics = server.handler_metrics();
        load_section(&mut html, server, &metrics);
        html.push_str("<h2>Server</h2>\n<table>\n");
        for (name, value) in counters(server) {
            let _ = writeln!(
                html,
                "<tr><th>{}</th><td class=\"n\">{value}</td></tr>",
                html_escape(name)
            );
        }
        html.push_str("</table>\n");
        operations_section(&mut html, &metrics);
        html.push_str("<h2>Handlers</h2>\n<table>\n<tr><th>handler</th><th>status</th></tr>\n");
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
}

impl Default for StatusHandler {
    fn default() -> StatusHandler {
        StatusHandler::new()
    }
}

impl Handler for StatusHandler {
    fn matches(&self, request: &Request) -> bool {
        let rest = request.path.strip_prefix(self.prefix.as_str());
        matches!(rest, Some("" | "/" | "/metrics" | "/health")) || request.path == "/metrics"
    }

    fn handle_request(&mut self, request: &mut Request, server: &ServerView<'_>) -> Outcome {
        if request.method != "GET" && request.method != "HEAD" {
            return Response::method_not_allowed(&["GET", "HEAD"]).into();
        }
        self.hits += 1;
        let response = if request.path.ends_with("/health") {
            health(server)
        } else if request.path.ends_with("/metrics") {
            Response::ok(
                "text/plain; version=0.0.4; charset=utf-8",
                exposition::metrics_text(server),
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

/// `/status/health`: up, or draining. A 503 needs no `Connection: close`
/// of its own: no connection is kept alive during a shutdown.
fn health(server: &ServerView<'_>) -> Response {
    if server.is_shutting_down() {
        Response::new(503)
            .with_header("Content-Type", "text/plain; charset=utf-8")
            .with_body("draining\n")
    } else {
        Response::ok("text/plain; charset=utf-8", "ok\n")
    }
}

/// The load graph: requests, HTTP errors and XML-RPC faults (all
/// handlers' added up) per second, over the last minutes.
fn load_section(html: &mut String, server: &ServerView<'_>, metrics: &[HandlerMetrics]) {
    let now = Instant::now();
    let requests = server.stats.request_history.per_interval(now);
    let errors = server.stats.error_history.per_interval(now);
    let mut faults = vec![0u64; requests.len()];
    for handler in metrics {
        for (sum, &n) in faults.iter_mut().zip(&handler.fault_history) {
            *sum = sum.saturating_add(n);
        }
    }
    html.push_str("<h2>Load</h2>\n");
    html.push_str(&load_graph(&[
        Series {
            name: "requests/s",
            color: "#1f5f7a",
            counts: &requests,
        },
        Series {
            name: "HTTP errors/s",
            color: "#d08a00",
            counts: &errors,
        },
        Series {
            name: "faults/s",
            color: "#b3261e",
            counts: &faults,
        },
    ]));
}

/// Per operation of every handler that keeps metrics (the XML-RPC
/// handlers' methods): calls, faults, and latencies estimated from the
/// histogram's buckets.
fn operations_section(html: &mut String, metrics: &[HandlerMetrics]) {
    if metrics.is_empty() {
        return;
    }
    html.push_str(concat!(
        "<h2>Methods</h2>\n<table id=\"methods\">\n<tr><th>handler</th><th>method</th>",
        "<th>calls</th><th>faults</th><th>mean</th><th>p50</th><th>p99</th></tr>\n"
    ));
    for handler in metrics {
        let labels: Vec<String> = handler.labels.iter().map(|(_, v)| v.clone()).collect();
        let labels = html_escape(&labels.join(" "));
        for op in &handler.operations {
            let latency = &op.latency;
            let _ = writeln!(
                html,
                "<tr><td>{labels}</td><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                html_escape(&op.name),
                op.calls,
                op.faults,
                seconds(latency.mean()),
                seconds(latency.quantile(0.5)),
                seconds(latency.quantile(0.99)),
            );
        }
    }
    html.push_str("</table>\n");
}

/// A latency for the table: milliseconds below a second; a dash for none.
fn seconds(value: Option<f64>) -> String {
    match value {
        None => "&mdash;".to_string(),
        Some(s) if s < 1.0 => format!("{:.3} ms", s * 1000.0),
        Some(s) => format!("{s:.3} s"),
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
