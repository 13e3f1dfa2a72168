//! The XML-RPC handler: Medusa's `xmlrpc_handler`, installing any
//! [`XmlRpcService`] on an HTTP server.
//!
//! POST a `methodCall` to one of its paths (default `/RPC2`, exact match):
//! the body is gunzipped if it says `Content-Encoding: gzip`, decoded,
//! passed to the service's `call`, and the result or fault is encoded as a
//! `methodResponse` (`Content-Type: text/xml`), gzipped when the client
//! accepts gzip and the response is large. A GET shows an HTML page: the
//! service's methods when it describes them, else how to call it.
//!
//! Faults travel in 200 responses, as the spec says; HTTP errors are kept
//! for what is wrong at the HTTP level (a corrupt gzip body is 400, one
//! that inflates past `HttpConfig::max_decoded_body_bytes` 413, an unknown
//! content coding 501): [`Request::decoded_body`] decides.

// Peer-controlled sizes and counts: arithmetic here must say what happens
// at the edges (checked, saturating), never wrap silently in release.
#![warn(clippy::arithmetic_side_effects)]

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use crate::http::{
    content_length, html_escape, page_start, Handler, HandlerMetrics, HandlerStatus, Outcome,
    Request, Response, ServerView, PAGE_END,
};
use crate::xmlrpc::{
    decode_call, introspect, Answering, CallContext, Counters, DecodeLimits, EncodeOptions, Fault,
    MethodCall, Reply, XmlRpcService, INTROSPECTION,
};

/// Settings of an [`XmlRpcHandler`].
#[derive(Clone, Debug)]
pub struct XmlRpcConfig {
    /// Limits on incoming documents (nesting depth, size).
    pub decode: DecodeLimits,
    /// What the encoder may send (`<nil/>`, `<i8>`).
    pub encode: EncodeOptions,
    /// Responses larger than this are gzipped for clients that accept gzip
    /// (Python's threshold). Default 1400 bytes; `usize::MAX` disables.
    pub gzip_threshold: usize,
    /// Largest request body this handler takes, as sent, below the server's
    /// own `HttpConfig::max_body_bytes` (which every path shares): a
    /// declared `Content-Length` over it is refused with 413 before the
    /// body is read, a chunked body once it is in. `None` (the default):
    /// the server's limit alone.
    pub max_body_bytes: Option<u64>,
}

impl Default for XmlRpcConfig {
    fn default() -> XmlRpcConfig {
        XmlRpcConfig {
            decode: DecodeLimits::default(),
            encode: EncodeOptions::default(),
            gzip_threshold: 1400,
            max_body_bytes: None,
        }
    }
}

/// Medusa's `xmlrpc_handler`: serves `service` at one or more paths.
#[doc(alias = "xmlrpc_handler")]
pub struct XmlRpcHandler<S> {
    paths: Vec<String>,
    service: S,
    config: XmlRpcConfig,
    counters: Arc<Counters>,
}

impl<S: XmlRpcService> XmlRpcHandler<S> {
    /// Serves `service` at `path` (e.g. `/RPC2`).
    pub fn new(path: &str, service: S) -> XmlRpcHandler<S> {
        XmlRpcHandler::with_paths(&[path], service, XmlRpcConfig::default())
    }

    /// Serves `service` at every path in `paths`, with `config`.
    pub fn with_paths(paths: &[&str], service: S, config: XmlRpcConfig) -> XmlRpcHandler<S> {
        XmlRpcHandler {
            paths: paths.iter().map(|p| p.to_string()).collect(),
            service,
            config,
            counters: Arc::default(),
        }
    }

    /// The service.
    pub fn service(&self) -> &S {
        &self.service
    }

    /// Decode, call, encode: the answer now, or later through a responder
    /// (which makes its response the same way, with `answering`).
    fn answer(
        &mut self,
        call: Result<MethodCall, Fault>,
        server: &ServerView<'_>,
        answering: &Answering,
    ) -> Outcome {
        Counters::add(&self.counters.calls);
        let call = match call {
            Ok(call) => call,
            Err(fault) => return answering.response(Err(fault), "").into(),
        };
        let service = &mut self.service;
        let method = call.method;
        // Kept for the handler's own introspection: one method name, and
        // only for those three methods (not a multicall's calls).
        let system_params = INTROSPECTION
            .contains(&method.as_str())
            .then(|| call.params.clone());
        let mut cx = CallContext::new(server, answering, &method);
        let reply = panic::catch_unwind(AssertUnwindSafe(|| {
            service.call_or_defer(&method, call.params, &mut cx)
        }));
        let result = match reply {
            // A service that describes its methods but does not answer
            // introspection itself: the handler answers from what it says.
            // (Described only then: not for every unknown method.)
            Ok(Reply::Now(Err(fault))) if fault.code == Fault::METHOD_NOT_FOUND => system_params
                .and_then(|params| {
                    let methods = self.service.describe()?;
                    introspect(methods.as_slice(), &method, &params)
                })
                .unwrap_or(Err(fault)),
            Ok(Reply::Now(result)) => result,
            Ok(Reply::Later(later)) => return Outcome::Later(later),
            Err(_) => {
                // The panic message went to stderr through the panic hook;
                // the client learns only that it failed.
                log::error!("xmlrpc: method {method:?} panicked");
                Counters::add(&self.counters.panics);
                Err(Fault::internal_error(format!("method {method} failed")))
            }
        };
        answering.response(result, &method).into()
    }

    fn post(&mut self, request: &mut Request, server: &ServerView<'_>) -> Outcome {
        if let Err(refusal) = self.within_body_limit(request.body.len() as u64) {
            return refusal.into();
        }
        // The method's latency counts from here, unzipping included.
        let started = Instant::now();
        let body = match request.take_decoded_body(server.config) {
            Ok(body) => body,
            Err(error) => return Response::error(error.status, &error.detail).into(),
        };
        let call = decode_call(&body, &self.config.decode);
        // Freed before the call is answered: a large call is held as its
        // values alone, not also as the document they came from.
        drop(body);
        let accepts_gzip = request.header_has_token("Accept-Encoding", "gzip");
        let answering = Answering {
            encode: self.config.encode,
            gzip_above: accepts_gzip.then_some(self.config.gzip_threshold),
            counters: self.counters.clone(),
            started,
        };
        self.answer(call, server, &answering)
    }

    /// 413 for a body (or a declared one) over `max_body_bytes`.
    fn within_body_limit(&self, length: u64) -> Result<(), Response> {
        match self.config.max_body_bytes {
            Some(limit) if length > limit => Err(Response::error(
                413,
                &format!("the body is over this endpoint's limit of {limit} bytes"),
            )),
            _ => Ok(()),
        }
    }

    /// The HTML page a browser sees: the methods, their help and
    /// signatures, or, for a service that does not list them, what to do.
    fn documentation(&self, request: &Request) -> Response {
        let methods = self.service.describe();
        let mut html = page_start("XML-RPC service");
        html.push_str(&format!(
            "<h1>XML-RPC service at <code>{}</code></h1>\n",
            html_escape(&request.path)
        ));
        let Some(methods) = methods else {
            html.push_str(concat!(
                "<p>POST a <code>methodCall</code> here. This service does not list its ",
                "methods (it offers no introspection).</p>\n"
            ));
            html.push_str(PAGE_END);
            return Response::ok("text/html; charset=utf-8", html);
        };
        html.push_str(&format!(
            "<p>POST a <code>methodCall</code> here. {} methods:</p>\n<dl>\n",
            methods.len()
        ));
        for method in methods {
            let signatures: Vec<String> = method
                .signatures
                .iter()
                .filter_map(|s| s.split_first())
                .map(|(ret, args)| {
                    format!(
                        "{}({}) &rarr; {}",
                        html_escape(&method.name),
                        html_escape(&args.join(", ")),
                        html_escape(ret)
                    )
                })
                .collect();
            html.push_str(&format!(
                "<dt><code>{}</code></dt>\n<dd>",
                html_escape(&method.name)
            ));
            if !signatures.is_empty() {
                html.push_str(&format!(
                    "<code>{}</code><br>",
                    signatures.join("</code><br><code>")
                ));
            }
            html.push_str(&format!("{}</dd>\n", html_escape(&method.help)));
        }
        html.push_str("</dl>\n");
        html.push_str(PAGE_END);
        Response::ok("text/html; charset=utf-8", html)
    }
}

impl<S: XmlRpcService> Handler for XmlRpcHandler<S> {
    fn matches(&self, request: &Request) -> bool {
        self.paths.contains(&request.path)
    }

    fn handle_request(&mut self, request: &mut Request, server: &ServerView<'_>) -> Outcome {
        let response = match request.method.as_str() {
            "POST" => return self.post(request, server),
            "GET" | "HEAD" => self.documentation(request),
            _ => Response::method_not_allowed(&["POST", "GET", "HEAD"]),
        };
        response.into()
    }

    fn admit(&mut self, request: &mut Request) -> Result<(), Response> {
        match request.header("Content-Length").and_then(content_length) {
            Some(length) => self.within_body_limit(length),
            None => Ok(()),
        }
    }

    fn status(&self) -> HandlerStatus {
        let c = &self.counters;
        let mut facts = vec![
            ("calls".to_string(), Counters::get(&c.calls).to_string()),
            ("faults".to_string(), Counters::get(&c.faults).to_string()),
            ("panics".to_string(), Counters::get(&c.panics).to_string()),
        ];
        // The service's own: a registry's remotes and their health.
        facts.extend(self.service.facts());
        HandlerStatus {
            name: format!("xml-rpc handler ({})", self.paths.join(", ")),
            facts,
        }
    }

    /// Per method: calls, faults, latency (the names bounded as
    /// `method_stats.rs` says), and the faults of the last minutes.
    fn metrics(&self) -> Option<HandlerMetrics> {
        let c = &self.counters;
        Some(HandlerMetrics {
            family: "xmlrpc_method",
            operation_label: "method",
            labels: vec![("path".to_string(), self.paths.join(","))],
            operations: c.methods.snapshot(),
            fault_history: c.fault_history.per_interval(Instant::now()),
            gauges: self.service.gauges(),
        })
    }
}
