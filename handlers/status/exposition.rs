//! `/status/metrics`: the server's counters and the handlers' per-operation
//! metrics in the Prometheus text exposition format (version 0.0.4).

use std::fmt::Write as _;

use crate::http::{HandlerMetrics, OperationStats, ServerView};

/// The whole `/status/metrics` text.
pub(super) fn metrics_text(server: &ServerView<'_>) -> String {
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
    let handlers = server.handler_metrics();
    handler_metrics(&mut text, &handlers);
    gauges(&mut text, &handlers);
    text
}

/// A counter of each operation: its name's suffix, its help, its value.
type Counter = (&'static str, &'static str, fn(&OperationStats) -> u64);

/// The handlers' metrics: per family, a calls counter, a faults counter
/// and a duration histogram, labelled with the handler's labels and the
/// operation's name. A family's samples stay together under one `# TYPE`
/// whatever the number of handlers, as the format requires.
fn handler_metrics(text: &mut String, all: &[HandlerMetrics]) {
    let mut families: Vec<&'static str> = all.iter().map(|m| m.family).collect();
    families.sort_unstable();
    families.dedup();
    for family in families {
        let mine: Vec<&HandlerMetrics> = all.iter().filter(|m| m.family == family).collect();
        let Some(first) = mine.first() else { continue };
        let per = first.operation_label;
        let counters: [Counter; 2] = [
            ("calls_total", "Answers given", |op| op.calls),
            ("faults_total", "Answers that were faults", |op| op.faults),
        ];
        for (suffix, help, value) in counters {
            let _ = write!(
                text,
                "# HELP medusa_{family}_{suffix} {help}, per {per}.\n\
                 # TYPE medusa_{family}_{suffix} counter\n"
            );
            for (labels, op) in samples(&mine) {
                let _ = writeln!(text, "medusa_{family}_{suffix}{{{labels}}} {}", value(op));
            }
        }
        let _ = write!(
            text,
            "# HELP medusa_{family}_duration_seconds Time from the request to its answer, per {per}.\n\
             # TYPE medusa_{family}_duration_seconds histogram\n"
        );
        for (labels, op) in samples(&mine) {
            let latency = &op.latency;
            for (bound, below) in latency.cumulative() {
                let le = if bound.is_infinite() {
                    "+Inf".to_string()
                } else {
                    bound.to_string()
                };
                let _ = writeln!(
                    text,
                    "medusa_{family}_duration_seconds_bucket{{{labels},le=\"{le}\"}} {below}"
                );
            }
            let _ = write!(
                text,
                "medusa_{family}_duration_seconds_sum{{{labels}}} {}\n\
                 medusa_{family}_duration_seconds_count{{{labels}}} {}\n",
                latency.sum_seconds,
                latency.count()
            );
        }
    }
}

/// The handlers' gauges, those of one name together under one `# TYPE`,
/// each labelled with its handler's labels then its own.
fn gauges(text: &mut String, all: &[HandlerMetrics]) {
    let mut names: Vec<(&'static str, &'static str)> = all
        .iter()
        .flat_map(|m| m.gauges.iter().map(|g| (g.name, g.help)))
        .collect();
    names.sort_unstable();
    names.dedup_by_key(|(name, _)| *name);
    for (name, help) in names {
        let _ = write!(
            text,
            "# HELP medusa_{name} {help}\n# TYPE medusa_{name} gauge\n"
        );
        for handler in all {
            for gauge in handler.gauges.iter().filter(|g| g.name == name) {
                let labels: Vec<String> = handler
                    .labels
                    .iter()
                    .chain(&gauge.labels)
                    .map(|(k, v)| format!("{k}=\"{}\"", label_value(v)))
                    .collect();
                let _ = writeln!(
                    text,
                    "medusa_{name}{{{}}} {}",
                    labels.join(","),
                    gauge.value
                );
            }
        }
    }
}

/// Every operation of `handlers` with its label set written out
/// (`path="/RPC2",method="add"`).
fn samples<'a>(handlers: &[&'a HandlerMetrics]) -> Vec<(String, &'a OperationStats)> {
    let mut list = Vec::new();
    for handler in handlers {
        let mut common = String::new();
        for (name, value) in &handler.labels {
            let _ = write!(common, "{name}=\"{}\",", label_value(value));
        }
        for op in &handler.operations {
            let labels = format!(
                "{common}{}=\"{}\"",
                handler.operation_label,
                label_value(&op.name)
            );
            list.push((labels, op));
        }
    }
    list
}

/// A label value as the exposition format quotes it: backslash, double
/// quote and line feed escaped (the names are the peer's).
fn label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(label_value("system.listMethods"), "system.listMethods");
    }
}
