//! Per-method metrics and the load graph, over real sockets: Python's
//! `xmlrpc.client` makes calls (answers, faults, a blocking method on a
//! worker thread, hundreds of random names), curl reads `/status/metrics`
//! and `/status`, the Prometheus text is parsed here and by Python's
//! `prometheus_client` (the reference parser), and headless Chromium
//! renders medusad's `/status`.
//!
//! `prometheus_client` is installed by `.ci/run`; where it is missing the
//! cross-check prints SKIPPED (and fails under `CI=1`), the rest runs.

mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use medusa::handlers::{StatusHandler, XmlRpcHandler};
use medusa::http::{HttpConfig, HttpServer};
use medusa::xmlrpc::{Fault, Registry, Value, WorkerPool, XmlRpcService};
use util::browser::{chromium, headless, screenshot};
use util::curl::curl;
use util::daemon::Daemon;
use util::{localhost, python_lines, TestServer};

/// The per-handler cap on method names (`src/xmlrpc/server/method_stats.rs`).
const MAX_TRACKED_METHODS: usize = 256;

/// Answers every method name with the name: the case where only the cap
/// bounds the names tracked.
struct AnswersAll;

impl XmlRpcService for AnswersAll {
    fn call(&mut self, method: &str, _params: Vec<Value>) -> Result<Value, Fault> {
        Ok(Value::from(method))
    }
}

/// `/RPC2`: `add(int, int)` and `slow()` (20 ms on a worker thread, so
/// answered through a deferred reply); `/any`: [`AnswersAll`]; `/status`.
fn server() -> TestServer {
    TestServer::start(|reactor| {
        let pool = Arc::new(WorkerPool::new(1, 4));
        let mut registry = Registry::new();
        registry.register("add", |a: i32, b: i32| a.wrapping_add(b));
        registry.register_blocking("slow", pool, |_| {
            std::thread::sleep(Duration::from_millis(20));
            Ok(Value::from("slept"))
        });
        let server = HttpServer::bind(localhost(), HttpConfig::default())?;
        server.install_handler(StatusHandler::new());
        server.install_handler(XmlRpcHandler::new("/RPC2", registry));
        server.install_handler(XmlRpcHandler::new("/any", AnswersAll));
        let addr = server.local_addr()?;
        reactor.add(server)?;
        Ok(addr)
    })
}

/// A method name that needs escaping in a label value.
const WEIRD: &str = "we\"ird\\name";

/// The calls, from Python: on `/RPC2` add 3 times answered and twice
/// faulted, slow once, 300 random unknown names (each -32601); on `/any`
/// the weird name first, then 300 names `m0`..`m299`.
const LOAD: &str = r#"
import random, string, sys, xmlrpc.client
base, weird = sys.argv[1], sys.argv[2]
rpc = xmlrpc.client.ServerProxy(base + "/RPC2")
for i in range(3):
    assert rpc.add(i, 1) == i + 1
for _ in range(2):
    try:
        rpc.add("x", 1)
        raise SystemExit("add('x', 1) answered")
    except xmlrpc.client.Fault as f:
        assert f.faultCode == -32602, f
assert rpc.slow() == "slept"
for _ in range(300):
    name = "random_" + "".join(random.choice(string.ascii_letters) for _ in range(16))
    try:
        getattr(rpc, name)()
        raise SystemExit(name + " answered")
    except xmlrpc.client.Fault as f:
        assert f.faultCode == -32601, f
anything = xmlrpc.client.ServerProxy(base + "/any")
assert getattr(anything, weird)() == weird
for i in range(300):
    assert getattr(anything, "m%d" % i)() == "m%d" % i
print("done")
"#;

/// One sample line: the metric's name, its labels, its value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses the text exposition format's sample lines (comments skipped),
/// undoing the label values' escapes.
fn parse_samples(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        let value: f64 = value.parse().expect("a number");
        let Some((name, rest)) = series.split_once('{') else {
            samples.push((series.to_string(), BTreeMap::new(), value));
            continue;
        };
        let mut labels = BTreeMap::new();
        let mut chars = rest.chars();
        loop {
            let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
            let key = key.trim_start_matches(',').to_string();
            if key == "}" || key.is_empty() {
                break;
            }
            assert_eq!(chars.next(), Some('"'), "{line}");
            let mut value = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some('n') => value.push('\n'),
                        Some(other) => value.push(other),
                        None => panic!("dangling escape: {line}"),
                    },
                    '"' => break,
                    c => value.push(c),
                }
            }
            labels.insert(key, value);
        }
        samples.push((name.to_string(), labels, value));
    }
    samples
}

/// The samples of metric `name` whose labels include `path`, keyed by the
/// `method` label (and `le`, for buckets).
fn by_method(samples: &[Sample], name: &str, path: &str) -> BTreeMap<String, Vec<(String, f64)>> {
    let mut map: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    for (n, labels, value) in samples {
        if n == name && labels.get("path").map(String::as_str) == Some(path) {
            let method = labels.get("method").cloned().expect("a method label");
            let le = labels.get("le").cloned().unwrap_or_default();
            map.entry(method).or_default().push((le, *value));
        }
    }
    map
}

/// The value of the one sample of `name` for `path` and `method`.
fn value(samples: &[Sample], name: &str, path: &str, method: &str) -> f64 {
    by_method(samples, name, path)
        .get(method)
        .and_then(|v| v.first())
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no {name} for {path} {method}"))
}

/// Every histogram of `path` is consistent: buckets in `le` order and
/// never decreasing, `+Inf` equal to `_count`, `_count` to the calls.
fn assert_histograms_consistent(samples: &[Sample], path: &str) {
    let buckets = by_method(
        samples,
        "medusa_xmlrpc_method_duration_seconds_bucket",
        path,
    );
    assert!(!buckets.is_empty(), "no buckets for {path}");
    for (method, buckets) in &buckets {
        let bounds: Vec<f64> = buckets
            .iter()
            .map(|(le, _)| {
                if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                }
            })
            .collect();
        assert!(
            bounds.windows(2).all(|w| w[0] < w[1]),
            "{method}: le order {bounds:?}"
        );
        assert_eq!(
            bounds.last(),
            Some(&f64::INFINITY),
            "{method}: ends at +Inf"
        );
        let counts: Vec<f64> = buckets.iter().map(|(_, v)| *v).collect();
        assert!(
            counts.windows(2).all(|w| w[0] <= w[1]),
            "{method}: cumulative {counts:?}"
        );
        let count = value(
            samples,
            "medusa_xmlrpc_method_duration_seconds_count",
            path,
            method,
        );
        let calls = value(samples, "medusa_xmlrpc_method_calls_total", path, method);
        assert_eq!(counts.last(), Some(&count), "{method}: +Inf is the count");
        assert_eq!(count, calls, "{method}: one observation per call");
        let sum = value(
            samples,
            "medusa_xmlrpc_method_duration_seconds_sum",
            path,
            method,
        );
        assert!(
            sum >= 0.0 && (count > 0.0 || sum == 0.0),
            "{method}: sum {sum}"
        );
    }
}

/// Python's `prometheus_client` parses the text; it prints every sample
/// as `name<TAB>labels as JSON<TAB>value`. `None` (with a note) where the
/// module is missing, except under `CI=1`.
fn reference_parse(text: &str) -> Option<Vec<Sample>> {
    let probe = python_lines(
        "import importlib.util; print(importlib.util.find_spec('prometheus_client') is not None)",
        &[],
    );
    if probe != ["True"] {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus_client is missing and CI is set: .ci/run should have installed it"
        );
        eprintln!(
            "\n!!! SKIPPED: Python's prometheus_client is not installed; the exposition was \
             checked by this test's own parser only.\n"
        );
        return None;
    }
    // A file, not an argument: the text is far longer than one argument
    // may be.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, text).unwrap();
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in family.samples:
        print("%s\t%s\t%r" % (s.name, json.dumps(s.labels, sort_keys=True), s.value))
"#;
    let lines = python_lines(script, &[file.to_str().unwrap()]);
    Some(
        lines
            .iter()
            .map(|line| {
                let mut parts = line.splitn(3, '\t');
                let name = parts.next().unwrap().to_string();
                let labels: BTreeMap<String, String> =
                    serde_json::from_str(parts.next().unwrap()).unwrap();
                let value = match parts.next().unwrap() {
                    "inf" => f64::INFINITY,
                    v => v.parse().unwrap(),
                };
                (name, labels, value)
            })
            .collect(),
    )
}

/// The points of the graph's line called `name` (`requests/s`, ...).
fn series_points(page: &str, name: &str) -> Vec<(f64, f64)> {
    let marker = format!("data-name=\"{name}\"");
    let line = page
        .split("<polyline")
        .find(|l| l.contains(&marker))
        .unwrap_or_else(|| panic!("no line {name} in the graph"));
    let points = line
        .split("points=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("points");
    points
        .split(' ')
        .map(|p| {
            let (x, y) = p.split_once(',').expect("x,y");
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

/// Whether a line rises above the graph's floor anywhere (its lowest y,
/// zero, is the largest).
fn rises(points: &[(f64, f64)]) -> bool {
    let floor = points.iter().map(|p| p.1).fold(f64::MIN, f64::max);
    points.iter().any(|p| p.1 < floor)
}

/// `GET url` with curl; the body.
fn get(url: &str) -> String {
    let (status, _, body) = curl(&["-H", "Host: localhost", url]);
    assert_eq!(status, 200, "GET {url}");
    String::from_utf8(body).unwrap()
}

/// Fetches `/status` until the graph shows requests and faults: the graph
/// shows complete 5 s intervals only, so the load appears once its
/// interval has ended.
fn status_with_load(base: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = get(&format!("{base}/status"));
        if rises(&series_points(&page, "requests/s")) && rises(&series_points(&page, "faults/s")) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "the graph never showed the load:\n{page}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Calls and faults per method, the histograms consistent, the unknown
/// names all under `(other)`, the names of a service that answers every
/// name capped, a name needing escapes round-tripped; Python's parser
/// reads the same samples.
#[test]
fn metrics_count_calls_faults_and_latency_per_method() {
    let server = server();
    let base = format!("http://{}", server.addr);
    assert_eq!(python_lines(LOAD, &[&base, WEIRD]), ["done"]);
    let text = get(&format!("{base}/status/metrics"));
    let samples = parse_samples(&text);

    let calls = by_method(&samples, "medusa_xmlrpc_method_calls_total", "/RPC2");
    let names: BTreeSet<&str> = calls.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from(["(other)", "add", "slow"]),
        "random names grew nothing"
    );
    let rpc = |name: &str, method: &str| value(&samples, name, "/RPC2", method);
    assert_eq!(rpc("medusa_xmlrpc_method_calls_total", "add"), 5.0);
    assert_eq!(rpc("medusa_xmlrpc_method_faults_total", "add"), 2.0);
    assert_eq!(rpc("medusa_xmlrpc_method_calls_total", "slow"), 1.0);
    assert_eq!(rpc("medusa_xmlrpc_method_faults_total", "slow"), 0.0);
    assert_eq!(rpc("medusa_xmlrpc_method_calls_total", "(other)"), 300.0);
    assert_eq!(rpc("medusa_xmlrpc_method_faults_total", "(other)"), 300.0);
    // slow's answer came from a worker after its 20 ms sleep: the time
    // counts to the answer, so nothing in the buckets up to 10 ms.
    assert!(rpc("medusa_xmlrpc_method_duration_seconds_sum", "slow") >= 0.02);
    let slow = &by_method(
        &samples,
        "medusa_xmlrpc_method_duration_seconds_bucket",
        "/RPC2",
    )["slow"];
    assert!(
        slow.iter().any(|(le, n)| le == "0.01" && *n == 0.0),
        "{slow:?}"
    );
    assert_histograms_consistent(&samples, "/RPC2");

    let any = by_method(&samples, "medusa_xmlrpc_method_calls_total", "/any");
    assert_eq!(any.len(), MAX_TRACKED_METHODS + 1, "the cap, and (other)");
    assert!(any.contains_key(WEIRD), "the escaped name reads back");
    let past_cap = 301 - MAX_TRACKED_METHODS;
    assert_eq!(
        value(
            &samples,
            "medusa_xmlrpc_method_calls_total",
            "/any",
            "(other)"
        ),
        past_cap as f64
    );
    assert_histograms_consistent(&samples, "/any");

    if let Some(reference) = reference_parse(&text) {
        let ours: BTreeSet<String> = samples.iter().map(|s| format!("{s:?}")).collect();
        let theirs: BTreeSet<String> = reference
            .iter()
            .map(|(name, labels, value)| format!("{:?}", (name, labels, value)))
            .collect();
        assert_eq!(ours, theirs, "prometheus_client reads the same samples");
    }
}

/// `/status` after load: the graph's lines rise, the method table lists
/// the calls, the page reloads itself and links the metrics.
#[test]
fn the_status_page_graphs_the_load_and_lists_the_methods() {
    let server = server();
    let base = format!("http://{}", server.addr);
    assert_eq!(python_lines(LOAD, &[&base, WEIRD]), ["done"]);
    let page = status_with_load(&base);
    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    assert!(page.contains("<a href=\"/status/metrics\">"));
    assert!(page.contains("<svg id=\"load\""));
    assert_eq!(
        series_points(&page, "requests/s").len(),
        120,
        "10 minutes of 5 s"
    );
    assert!(
        page.contains(
            "<td>/RPC2</td><td><code>add</code></td><td class=\"n\">5</td><td class=\"n\">2</td>"
        ),
        "add's row: {page}"
    );
    assert!(page
        .contains("<td><code>(other)</code></td><td class=\"n\">300</td><td class=\"n\">300</td>"));
    assert!(
        page.contains("<code>we&quot;ird\\name</code>"),
        "the peer's name escaped"
    );
    assert!(!page.contains("<script"), "no script");
}

/// medusad's `/status` in a real browser: the rendered DOM has the graph
/// and the method table; a screenshot is left in the target's temporary
/// directory (`status_page.png`) for a person to look at.
#[test]
fn chromium_renders_the_status_page() {
    let Some(chromium) = chromium() else { return };
    let daemon = Daemon::start(&[]);
    let base = format!("http://{}", daemon.addr);
    let script = r#"
import sys, xmlrpc.client
rpc = xmlrpc.client.ServerProxy(sys.argv[1] + "/RPC2")
for i in range(40):
    assert rpc.add(i, 2) == i + 2
for i in range(10):
    try:
        rpc.add("a", i)
        raise SystemExit("answered")
    except xmlrpc.client.Fault:
        pass
print("done")
"#;
    assert_eq!(python_lines(script, &[&base]), ["done"]);
    status_with_load(&base);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{base}/status");
    let dom = headless(&chromium, dir.path(), &["--dump-dom"], &url).stdout;
    assert!(dom.contains("<svg id=\"load\""), "the graph: {dom}");
    assert!(dom.contains("data-name=\"faults/s\""), "{dom}");
    assert!(
        dom.contains("<table id=\"methods\">"),
        "the method table: {dom}"
    );
    assert!(dom.contains("<code>add</code>"), "{dom}");
    screenshot(&chromium, dir.path(), "1100,1500", &url, "status_page.png");
    daemon.terminate("medusad");
}
