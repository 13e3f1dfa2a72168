//! `XmlRpcService`: the hook a service author implements.
//!
//! In Medusa you subclass `xmlrpc_handler` and override
//! `call(self, method, params)`; the handler decodes the request, calls it,
//! and encodes what it returns (or the fault it raises). This trait is that
//! override: implement `call`, and install the service on an HTTP server
//! with `XmlRpcHandler` (in `handlers/`).
//!
//! ```
//! use medusa::xmlrpc::{Fault, Value, XmlRpcService};
//!
//! /// The recipe's server: one method, `add`.
//! struct Calculator;
//!
//! impl XmlRpcService for Calculator {
//!     fn call(&mut self, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
//!         match (method, params.as_slice()) {
//!             ("add", [Value::Int(a), Value::Int(b)]) => Ok(Value::Int(a.wrapping_add(*b))),
//!             ("add", _) => Err(Fault::invalid_params("add(int, int)")),
//!             _ => Err(Fault::method_not_found(format!("no method {method}"))),
//!         }
//!     }
//! }
//! ```
//!
//! # Differences from Python
//!
//! - `call` returns `Result<Value, Fault>` instead of returning or raising.
//! - A panic inside `call` becomes a -32603 fault for that request only; the
//!   loop and every other client carry on.
//! - `describe` lets a service list its methods (help and signatures) for
//!   `system.*` introspection (the handler answers it from the list) and
//!   the handler's HTML page; the registry implements it for you.

use std::sync::Arc;

use super::answering::Answering;
use super::multicall::Gather;
use crate::http::{Gauge, Later, Responder, ServerView};
use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::value::Value;

/// One method as introspection shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MethodInfo {
    /// The method's name, e.g. `add`.
    pub name: String,
    /// Help text (`system.methodHelp`).
    pub help: String,
    /// Signatures (`system.methodSignature`): each is the return type then
    /// the parameter types, as XML-RPC type names (`int`, `string`, ...).
    pub signatures: Vec<Vec<String>>,
}

/// An XML-RPC service: Medusa's `xmlrpc_handler` with `call` overridden.
#[doc(alias = "xmlrpc_handler")]
pub trait XmlRpcService {
    /// Runs `method` with `params`: the value to return, or the fault to
    /// send. Runs on the loop's thread; do not block in it.
    fn call(&mut self, method: &str, params: Vec<Value>) -> Result<Value, Fault>;

    /// The methods this service offers, if it can say: the HTML page a GET
    /// shows lists them, and when `call` does not answer
    /// `system.listMethods`, `methodHelp` or `methodSignature` itself
    /// (it faults -32601), the handler answers them from this. `None`: no
    /// introspection.
    fn describe(&self) -> Option<Vec<MethodInfo>> {
        None
    }

    /// What the status page shows of this service beyond the handler's
    /// counters, as (name, value) pairs: the registry reports each mounted
    /// remote server's health. The default shows nothing.
    fn facts(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Values of the moment for `/status/metrics`, beside the handler's
    /// per-method counts: the registry gives each mounted remote's health.
    /// The default gives none.
    fn gauges(&self) -> Vec<Gauge> {
        Vec::new()
    }

    /// Like `call`, but may answer later: [`CallContext::defer`] gives a
    /// responder and the [`Reply::Later`] to return; complete the responder
    /// when the answer is ready (from a later loop event, or from another
    /// thread).
    /// The default answers now, with `call`.
    fn call_or_defer(
        &mut self,
        method: &str,
        params: Vec<Value>,
        _cx: &mut CallContext<'_>,
    ) -> Reply {
        Reply::Now(self.call(method, params))
    }
}

/// The answer of [`XmlRpcService::call_or_defer`].
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// Here it is.
    Now(Result<Value, Fault>),
    /// It will come through the responder [`CallContext::defer`] gave
    /// with this (the HTTP level's own [`Later`]).
    Later(Later),
}

/// What a call may ask of the server while it runs: a way to answer later.
pub struct CallContext<'a> {
    server: &'a ServerView<'a>,
    answering: &'a Answering,
    method: &'a str,
}

impl<'a> CallContext<'a> {
    pub(crate) fn new(
        server: &'a ServerView<'a>,
        answering: &'a Answering,
        method: &'a str,
    ) -> CallContext<'a> {
        CallContext {
            server,
            answering,
            method,
        }
    }

    /// Promises a later answer: complete the responder, and return
    /// `Reply::Later` with the [`Later`] from `call_or_defer`.
    pub fn defer(&mut self) -> (XmlRpcResponder, Later) {
        let (responder, later) = self.server.defer();
        let responder = XmlRpcResponder::new(Sink::Request {
            responder,
            answering: self.answering.clone(),
            method: self.method.to_string(),
        });
        (responder, later)
    }
}

/// Completes a deferred XML-RPC call; `Send`, so a worker thread can answer.
/// Dropping it unanswered answers fault -32603.
pub struct XmlRpcResponder {
    sink: Option<Sink>,
}

/// Where a deferred call's answer goes.
pub(super) enum Sink {
    /// The HTTP response to the request, made by the same path as an
    /// immediate reply's: gzipped and counted alike.
    Request {
        responder: Responder,
        answering: Answering,
        method: String,
    },
    /// Its place among the answers of a `system.multicall`.
    Part { gather: Arc<Gather>, index: usize },
}

impl XmlRpcResponder {
    pub(super) fn new(sink: Sink) -> XmlRpcResponder {
        XmlRpcResponder { sink: Some(sink) }
    }

    /// Sends the call's result or fault.
    pub fn respond(mut self, result: Result<Value, Fault>) {
        self.send(result);
    }

    /// The waker of the loop that will send the answer (`None` once
    /// answered).
    pub(crate) fn waker(&self) -> Option<crate::reactor::Waker> {
        match self.sink.as_ref()? {
            Sink::Request { responder, .. } => Some(responder.waker().clone()),
            Sink::Part { gather, .. } => Some(gather.waker().clone()),
        }
    }

    fn send(&mut self, result: Result<Value, Fault>) {
        match self.sink.take() {
            None => {}
            Some(Sink::Request {
                responder,
                answering,
                method,
            }) => responder.respond(move || answering.response(result, &method)),
            Some(Sink::Part { gather, index }) => gather.fill(index, result),
        }
    }
}

impl Drop for XmlRpcResponder {
    /// Dropped unanswered (a bug, or a worker that panicked): the caller
    /// still gets a fault rather than waiting for the response timeout.
    fn drop(&mut self) {
        self.send(Err(Fault::internal_error("the method gave no answer")));
    }
}

impl<S: XmlRpcService + ?Sized> XmlRpcService for Box<S> {
    fn call(&mut self, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
        (**self).call(method, params)
    }

    fn describe(&self) -> Option<Vec<MethodInfo>> {
        (**self).describe()
    }

    fn facts(&self) -> Vec<(String, String)> {
        (**self).facts()
    }

    fn gauges(&self) -> Vec<Gauge> {
        (**self).gauges()
    }

    fn call_or_defer(
        &mut self,
        method: &str,
        params: Vec<Value>,
        cx: &mut CallContext<'_>,
    ) -> Reply {
        (**self).call_or_defer(method, params, cx)
    }
}
