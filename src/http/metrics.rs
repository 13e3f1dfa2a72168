//! What a handler reports for the status page's metrics beyond its
//! [`HandlerStatus`](super::HandlerStatus) facts: counts and latencies per
//! operation (an XML-RPC handler's operations are its methods), and a
//! history of its faults for the load graph.

use super::histogram::HistogramSnapshot;

/// One operation's counts (an XML-RPC method's, say).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OperationStats {
    /// Its name: peer-controlled, to be escaped wherever it is shown.
    pub name: String,
    /// Answers given.
    pub calls: u64,
    /// Of those, failures (faults).
    pub faults: u64,
    /// How long the answers took.
    pub latency: HistogramSnapshot,
}

/// A handler's metrics, from [`Handler::metrics`](super::Handler::metrics).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HandlerMetrics {
    /// The metric family's stem: `xmlrpc_method` makes
    /// `medusa_xmlrpc_method_calls_total` and its siblings.
    pub family: &'static str,
    /// The label naming an operation, e.g. `method`.
    pub operation_label: &'static str,
    /// Labels saying which handler this is, e.g. `("path", "/RPC2")`.
    pub labels: Vec<(String, String)>,
    /// Per operation, in a stable order.
    pub operations: Vec<OperationStats>,
    /// Faults in each of the last
    /// [`HISTORY_SLOTS`](super::HISTORY_SLOTS) intervals, oldest first
    /// ([`RateHistory::per_interval`](super::RateHistory::per_interval)).
    pub fault_history: Vec<u64>,
    /// Values of the moment beyond the operations', such as whether each
    /// mounted remote server answers.
    pub gauges: Vec<Gauge>,
}

/// One value of the moment, exposed as `medusa_NAME{LABELS} VALUE`.
#[derive(Clone, Debug, PartialEq)]
pub struct Gauge {
    /// The metric's name after `medusa_`, e.g. `xmlrpc_remote_up`.
    pub name: &'static str,
    /// Its `# HELP` text.
    pub help: &'static str,
    /// Its labels (the handler's are added before them).
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: f64,
}
