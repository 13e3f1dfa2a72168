//! Remote XML-RPC servers mounted behind a prefix: a [`Registry`]'s
//! `inventory.count` is sent as `count` to the server at a URL, over the
//! reactor client's kept-alive connections, from the loop's own thread.
//!
//! Medusa's proxy handlers relayed HTTP requests on the same loop that
//! served them; this relays XML-RPC calls, so the front server adds what
//! the remote may lack (keep-alive, gzip, TLS, authentication, limits,
//! metrics, introspection merged with its own methods) while the remote
//! needs no change. Each [`Remote`] has its own [`AsyncClient`], so its
//! timeout and its cap on connections are its own, and a socketless
//! dispatcher (`introspection.rs`) that reads the remote's method list on
//! a timer.
//!
//! What a caller gets back: the remote's result, or its fault unchanged;
//! a remote that is down, does not answer in time, or answers with
//! something that is not XML-RPC gives fault -32300
//! ([`Fault::TRANSPORT_ERROR`]) whose string names the prefix and the URL
//! (never its user info); a remote with too many calls waiting gives
//! -32500 at once. Only calls the operator marks idempotent are tried
//! again, and only after a failure to get any answer (a fault is an
//! answer); the others are sent at most once, so not even the client's
//! usual second try on a kept-alive connection that closed unanswered is
//! made for them.
//!
//! [`Registry`]: crate::xmlrpc::Registry

use std::cell::RefCell;
use std::io;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use super::service::{MethodInfo, XmlRpcResponder};
use crate::http::Gauge;
use crate::reactor::AddDispatcher;
use crate::xmlrpc::client::url::Target;
use crate::xmlrpc::{
    AsyncClient, AsyncClientConfig, CallResult, ClientError, Fault, TlsConfig, Value,
};

mod introspection;

use introspection::Watch;

/// Limits and policy of one [`Remote`].
#[derive(Clone, Debug)]
pub struct RemoteConfig {
    /// From sending a call to its complete answer. Default 30 s.
    pub timeout: Duration,
    /// Calls on their way to the remote at once (its connections); more
    /// wait in a queue. Default 8.
    pub max_concurrent: usize,
    /// Calls that may wait for a connection; one more is refused at once
    /// with fault -32500 ("busy"), so a slow remote cannot pile up
    /// unbounded work. Default 64.
    pub max_waiting: usize,
    /// How many more times an idempotent call is tried when it got no
    /// answer (connection refused or reset, timeout, HTTP 5xx). Default 1.
    pub retries: u32,
    /// The remote's method names (without the prefix) that are safe to
    /// send twice; `"*"` stands for every method. Default none.
    pub idempotent: Vec<String>,
    /// How often the remote's method list is read again; at least 1 s.
    /// Default 60 s.
    pub refresh: Duration,
    /// Largest answer accepted. Default 10 MiB.
    pub max_response_bytes: usize,
    /// Whose certificates an `https://` remote must have.
    pub tls: TlsConfig,
}

impl Default for RemoteConfig {
    fn default() -> RemoteConfig {
        let client = AsyncClientConfig::default();
        RemoteConfig {
            timeout: Duration::from_secs(30),
            max_concurrent: 8,
            max_waiting: 64,
            retries: 1,
            idempotent: Vec::new(),
            refresh: Duration::from_secs(60),
            max_response_bytes: client.max_response_bytes,
            tls: client.tls,
        }
    }
}

/// A remote XML-RPC server, to be mounted with
/// [`Registry::mount`](crate::xmlrpc::Registry::mount).
///
/// ```no_run
/// use medusa::reactor::Reactor;
/// use medusa::xmlrpc::{Registry, Remote, RemoteConfig};
///
/// let mut reactor = Reactor::new()?;
/// let inventory = Remote::new(&mut reactor, "http://127.0.0.1:9000/RPC2", RemoteConfig::default())?;
/// let mut registry = Registry::new();
/// registry.mount("inventory.", inventory);
/// // install the registry with an XmlRpcHandler, then reactor.run()
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Remote {
    state: Rc<RefCell<State>>,
}

/// What a remote's calls, its watcher and the registry share, on the
/// loop's thread.
struct State {
    /// The URL as given (it may carry credentials: never shown); shared
    /// with each call on its way, not copied.
    url: Rc<str>,
    /// The URL without user info, for faults, logs and the status page.
    shown: String,
    /// `remote PREFIX (URL)`, as faults and logs name it; made once, when
    /// `Registry::mount` gives the prefix.
    name: Rc<str>,
    client: AsyncClient,
    config: RemoteConfig,
    health: Health,
    /// What the remote's introspection said the last time it answered:
    /// its methods under their own names, or `None` when it offers no
    /// introspection (or has not answered yet).
    methods: Option<Vec<MethodInfo>>,
    /// A refresh is under way (they do not overlap).
    refreshing: bool,
}

/// What the last exchange with the remote showed.
#[derive(Clone, Debug)]
enum Health {
    /// Nothing has come back yet.
    Unknown,
    /// It answered (a result or a fault).
    Up { at: Instant },
    /// It did not answer: since when, and why.
    Down { since: Instant, error: String },
}

impl Drop for State {
    /// The remote is unmounted (a reload replaced it): calls in flight
    /// finish, then the client's hub leaves the loop.
    fn drop(&mut self) {
        self.client.close();
    }
}

impl Remote {
    /// The server at `url` (`http://`, `https://`, `unix:///path`, as for
    /// [`AsyncClient::call`]), called through a client of its own on
    /// `reactor`'s loop; its method list is read at once and every
    /// `config.refresh`.
    pub fn new(
        reactor: &mut impl AddDispatcher,
        url: &str,
        config: RemoteConfig,
    ) -> io::Result<Remote> {
        let target = Target::parse(url)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let client = AsyncClient::new(
            reactor,
            AsyncClientConfig {
                max_connections_per_server: config.max_concurrent.max(1),
                request_timeout: config.timeout,
                max_response_bytes: config.max_response_bytes,
                tls: config.tls.clone(),
                ..AsyncClientConfig::default()
            },
        )?;
        let refresh = config.refresh.max(Duration::from_secs(1));
        let state = Rc::new(RefCell::new(State {
            url: url.into(),
            name: format!("remote ({})", target.shown()).into(),
            shown: target.shown(),
            client,
            config,
            health: Health::Unknown,
            methods: None,
            refreshing: false,
        }));
        reactor.add_dispatcher(Box::new(Watch::new(Rc::downgrade(&state), refresh)))?;
        Ok(Remote { state })
    }

    /// `url` as faults, logs and the status page show a remote: the
    /// server and path, never the user info; or why a remote cannot be
    /// called at that URL.
    pub fn shown_url(url: &str) -> Result<String, ClientError> {
        Target::parse(url).map(|target| target.shown())
    }

    pub(crate) fn set_prefix(&self, prefix: &str) {
        let mut state = self.state.borrow_mut();
        state.name = format!("remote {prefix} ({})", state.shown).into();
    }

    /// Sends `method` (the remote's own name) with `params`; the answer,
    /// or a fault naming this remote, goes to `responder`.
    pub(crate) fn forward(&self, method: &str, params: Vec<Value>, responder: XmlRpcResponder) {
        let (call, busy) = {
            let state = self.state.borrow();
            let waiting = state.client.queued();
            let busy = (waiting >= state.config.max_waiting).then(|| {
                Fault::application_error(format!(
                    "{} is busy: {waiting} calls wait for it already; try again",
                    state.name
                ))
            });
            let idempotent = state
                .config
                .idempotent
                .iter()
                .any(|name| name == "*" || name == method);
            let call = Call {
                state: Rc::downgrade(&self.state),
                client: state.client.clone(),
                url: state.url.clone(),
                name: state.name.clone(),
                method: method.to_string(),
                idempotent,
                retries: if idempotent { state.config.retries } else { 0 },
                timeout: state.config.timeout,
            };
            (call, busy)
        };
        match busy {
            Some(fault) => responder.respond(Err(fault)),
            None => call.send(params, responder),
        }
    }

    /// What the cached introspection says of `method` (the remote's own
    /// name): `None` if the remote listed its methods and this is not one.
    pub(crate) fn info(&self, method: &str) -> Option<MethodInfo> {
        let state = self.state.borrow();
        match &state.methods {
            Some(methods) => methods.iter().find(|m| m.name == method).cloned(),
            None => Some(MethodInfo {
                name: method.to_string(),
                help: format!(
                    "Sent to the remote server {}, which does not describe its methods.",
                    state.shown
                ),
                signatures: Vec::new(),
            }),
        }
    }

    /// The remote's methods as last listed, under their own names.
    pub(crate) fn methods(&self) -> Vec<MethodInfo> {
        self.state.borrow().methods.clone().unwrap_or_default()
    }

    /// Its health as numbers for `/status/metrics`: whether it answered
    /// last time, since when it has not, how many methods it listed.
    pub(crate) fn gauges(&self, prefix: &str) -> Vec<Gauge> {
        let state = self.state.borrow();
        let labels = vec![
            ("prefix".to_string(), prefix.to_string()),
            ("url".to_string(), state.shown.clone()),
        ];
        let gauge = |name, help, value| Gauge {
            name,
            help,
            labels: labels.clone(),
            value,
        };
        let (up, down_for) = match &state.health {
            Health::Up { .. } => (1.0, 0.0),
            Health::Unknown => (0.0, 0.0),
            Health::Down { since, .. } => (0.0, since.elapsed().as_secs_f64()),
        };
        let methods = state.methods.as_ref().map_or(0, Vec::len);
        vec![
            gauge(
                "xmlrpc_remote_up",
                "1 if the mounted remote server answered its last call, else 0.",
                up,
            ),
            gauge(
                "xmlrpc_remote_down_seconds",
                "Seconds since the mounted remote server stopped answering (0 while it answers).",
                down_for,
            ),
            gauge(
                "xmlrpc_remote_methods",
                "Methods the mounted remote server listed the last time it was asked.",
                methods as f64,
            ),
        ]
    }

    /// Its health in a line, for the status page.
    pub(crate) fn health(&self) -> String {
        let state = self.state.borrow();
        let ago = |at: &Instant| at.elapsed().as_secs();
        let methods = match &state.methods {
            Some(methods) => format!("{} methods", methods.len()),
            None => "no introspection".to_string(),
        };
        match &state.health {
            Health::Unknown => format!("not contacted yet, {}", state.shown),
            Health::Up { at } => format!(
                "up, {}, {methods}, last answer {} s ago",
                state.shown,
                ago(at)
            ),
            Health::Down { since, error } => {
                format!("DOWN for {} s, {}: {error}", ago(since), state.shown)
            }
        }
    }
}

/// One call on its way to a remote, with what a retry or a fault needs.
struct Call {
    state: Weak<RefCell<State>>,
    client: AsyncClient,
    url: Rc<str>,
    /// `remote PREFIX (URL)`, as faults and logs name it.
    name: Rc<str>,
    method: String,
    /// Whether it may be sent more than once.
    idempotent: bool,
    /// Tries left after this one.
    retries: u32,
    timeout: Duration,
}

impl Call {
    fn send(self, params: Vec<Value>, responder: XmlRpcResponder) {
        // Kept only if it may be needed again.
        let again = (self.retries > 0).then(|| params.clone());
        let client = self.client.clone();
        let url = self.url.clone();
        let method = self.method.clone();
        let idempotent = self.idempotent;
        let answer = move |result: CallResult| {
            let error = match result {
                Ok(value) => {
                    self.answered();
                    return responder.respond(Ok(value));
                }
                // The remote's own fault reaches the caller unchanged.
                Err(ClientError::Fault(fault)) => {
                    self.answered();
                    return responder.respond(Err(fault));
                }
                Err(error) => error,
            };
            match again {
                Some(params) if unanswered(&error) => {
                    log::info!(
                        "{}: {:?} failed ({:?}); trying again",
                        self.name,
                        self.method,
                        error.to_string()
                    );
                    let retry = Call {
                        retries: self.retries.saturating_sub(1),
                        ..self
                    };
                    retry.send(params, responder);
                }
                _ => {
                    let fault = self.failed(&error);
                    responder.respond(Err(fault));
                }
            }
        };
        // Not idempotent: not even the client's own second try on a
        // kept-alive connection that closed without answering.
        match idempotent {
            true => client.call(&url, &method, params, answer),
            false => client.call_at_most_once(&url, &method, params, answer),
        }
    }

    fn answered(&self) {
        if let Some(state) = self.state.upgrade() {
            state.borrow_mut().answered();
        }
    }

    /// The fault for `error`, noted as the remote's health.
    fn failed(&self, error: &ClientError) -> Fault {
        let what = describe(error, self.timeout);
        if let Some(state) = self.state.upgrade() {
            state.borrow_mut().note_failure(&what);
        }
        // {:?}: the method is the caller's, and `what` may quote the remote.
        log::warn!("{}: {:?}: {what:?}", self.name, self.method);
        Fault::transport_error(format!("{}: {what}", self.name))
    }
}

impl State {
    fn answered(&mut self) {
        self.health = Health::Up { at: Instant::now() };
    }

    fn note_failure(&mut self, what: &str) {
        let since = match &self.health {
            Health::Down { since, .. } => *since,
            _ => Instant::now(),
        };
        self.health = Health::Down {
            since,
            error: what.to_string(),
        };
    }
}

/// Whether `error` means no answer came (worth another try for an
/// idempotent call), rather than an answer that was wrong.
fn unanswered(error: &ClientError) -> bool {
    match error {
        ClientError::Io(_) => true,
        ClientError::Http { status, .. } => *status >= 500,
        _ => false,
    }
}

/// What went wrong, in words for a fault string.
fn describe(error: &ClientError, timeout: Duration) -> String {
    match error {
        ClientError::Io(e) if e.kind() == io::ErrorKind::TimedOut => {
            format!("no answer within {} s", timeout.as_secs_f64())
        }
        ClientError::Io(e) => format!("unreachable: {e}"),
        ClientError::Http { status, reason } => format!("answered HTTP {status} {reason}"),
        ClientError::Protocol(problem) => {
            format!("answered something that is not XML-RPC: {problem}")
        }
        other => other.to_string(),
    }
}
