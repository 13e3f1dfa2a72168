//! `system.multicall`: several calls in one request, answered in order.
//!
//! Calls that answer at once are run in turn, as Python's
//! `system_multicall` does. When some answer later (program-backed and
//! blocking methods, calls to mounted remote servers), the multicall is
//! deferred itself: each of those gets a responder for its own place in a
//! [`Gather`], they run side by side, and the answer goes out, in the
//! calls' order, when the last one is in.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::registry::Registry;
use super::service::{CallContext, Reply, Sink, XmlRpcResponder, XmlRpcService};
use crate::reactor::Waker;
use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::value::Value;

/// One call of a multicall, as the request gives it: a method and its
/// parameters, or what is wrong with it.
type Part = Result<(String, Vec<Value>), Fault>;

impl Registry {
    /// Runs the calls in `params` one after the other, answering now;
    /// calls that answer later are faults here.
    pub(super) fn multicall_now(&mut self, params: Vec<Value>) -> Result<Value, Fault> {
        Ok(self.run_in_turn(parse(params)?))
    }

    /// Runs the calls in `params`; if some answer later, so does the
    /// multicall, through `cx`.
    pub(super) fn multicall(&mut self, params: Vec<Value>, cx: &mut CallContext<'_>) -> Reply {
        let parts = match parse(params) {
            Ok(parts) => parts,
            Err(fault) => return Reply::Now(Err(fault)),
        };
        let defers = |part: &Part| matches!(part, Ok((name, _)) if self.answers_later(name));
        if !parts.iter().any(defers) {
            return Reply::Now(Ok(self.run_in_turn(parts)));
        }
        let (responder, later) = cx.defer();
        let gather = Gather::new(parts.len(), responder);
        for (index, part) in parts.into_iter().enumerate() {
            match part {
                Ok((name, params)) if self.answers_later(&name) => {
                    self.start_later(&name, params, gather.part(index));
                }
                part => gather.fill(index, part.and_then(|(name, p)| self.call(&name, p))),
            }
        }
        Reply::Later(later)
    }

    fn run_in_turn(&mut self, parts: Vec<Part>) -> Value {
        let results = parts
            .into_iter()
            .map(|part| entry(part.and_then(|(name, params)| self.call(&name, params))))
            .collect();
        Value::Array(results)
    }
}

/// The calls of a multicall's one parameter, each checked.
fn parse(params: Vec<Value>) -> Result<Vec<Part>, Fault> {
    let wrong = || Fault::invalid_params("system.multicall takes one array of calls");
    let [Value::Array(calls)] = <[Value; 1]>::try_from(params).map_err(|_| wrong())? else {
        return Err(wrong());
    };
    Ok(calls.into_iter().map(parse_part).collect())
}

fn parse_part(call: Value) -> Part {
    let Value::Struct(mut members) = call else {
        return Err(Fault::invalid_params("each call must be a struct"));
    };
    match (members.remove("methodName"), members.remove("params")) {
        (Some(Value::String(name)), _) if name == "system.multicall" => Err(Fault::invalid_xmlrpc(
            "system.multicall may not call itself",
        )),
        (Some(Value::String(name)), None) => Ok((name, Vec::new())),
        (Some(Value::String(name)), Some(Value::Array(params))) => Ok((name, params)),
        (Some(Value::String(_)), Some(_)) => Err(Fault::invalid_params("params must be an array")),
        _ => Err(Fault::invalid_params("each call needs a string methodName")),
    }
}

/// A result as a multicall lists it: `[value]`, or a fault struct.
fn entry(result: Result<Value, Fault>) -> Value {
    match result {
        Ok(value) => Value::Array(vec![value]),
        Err(fault) => fault_struct(&fault),
    }
}

/// A fault as `system.multicall` reports it: `{faultCode, faultString}`.
fn fault_struct(fault: &Fault) -> Value {
    Value::Struct(BTreeMap::from([
        ("faultCode".to_string(), Value::Int(fault.code)),
        (
            "faultString".to_string(),
            Value::String(fault.message.clone()),
        ),
    ]))
}

/// The answers of a deferred multicall, filled in any order (from the
/// loop, or from worker threads), sent in order once all are in.
pub(crate) struct Gather {
    state: Mutex<Gathering>,
    /// The loop that sends the answer: a part that needs dispatchers of
    /// its own (a program's pipes) adds them through it.
    waker: Waker,
}

struct Gathering {
    results: Vec<Value>,
    /// Places not yet filled; each is filled once (a part's responder
    /// fills its place even when dropped unanswered).
    missing: usize,
    /// The multicall's own responder, until it is used.
    responder: Option<XmlRpcResponder>,
}

impl Gather {
    fn new(count: usize, responder: XmlRpcResponder) -> Arc<Gather> {
        let waker = responder
            .waker()
            .expect("a fresh responder has not answered yet");
        Arc::new(Gather {
            state: Mutex::new(Gathering {
                results: vec![Value::Nil; count],
                missing: count,
                responder: Some(responder),
            }),
            waker,
        })
    }

    /// A responder for the call at `index`.
    fn part(self: &Arc<Gather>, index: usize) -> XmlRpcResponder {
        XmlRpcResponder::new(Sink::Part {
            gather: self.clone(),
            index,
        })
    }

    pub(super) fn waker(&self) -> &Waker {
        &self.waker
    }

    /// Puts the answer of the call at `index` in its place; the last one
    /// in sends them all.
    pub(super) fn fill(&self, index: usize, result: Result<Value, Fault>) {
        let done = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(slot) = state.results.get_mut(index) {
                *slot = entry(result);
                state.missing = state.missing.saturating_sub(1);
            }
            if state.missing == 0 {
                let results = std::mem::take(&mut state.results);
                state.responder.take().map(|r| (r, results))
            } else {
                None
            }
        };
        // Outside the lock: responding may run a response's maker here.
        if let Some((responder, results)) = done {
            responder.respond(Ok(Value::Array(results)));
        }
    }
}

impl std::fmt::Debug for Gather {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("Gather")
            .field("calls", &state.results.len())
            .field("missing", &state.missing)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(values: &[i32]) -> Vec<Value> {
        values.iter().map(|&v| Value::Int(v)).collect()
    }

    #[test]
    fn multicall_returns_results_and_faults_without_recursion() {
        let mut r = Registry::new();
        r.register("add", |a: i32, b: i32| a + b);
        let call = |name: &str, params: Vec<Value>| {
            Value::Struct(BTreeMap::from([
                ("methodName".into(), Value::from(name)),
                ("params".into(), Value::Array(params)),
            ]))
        };
        let calls = Value::Array(vec![
            call("add", ints(&[1, 2])),
            call("nope", vec![]),
            call("system.multicall", vec![Value::Array(vec![])]),
            Value::Int(5),
        ]);
        let Ok(Value::Array(results)) = r.call("system.multicall", vec![calls]) else {
            panic!("array")
        };
        assert_eq!(results[0], Value::Array(vec![Value::Int(3)]));
        let code = |v: &Value| match v {
            Value::Struct(m) => m.get("faultCode").cloned(),
            _ => None,
        };
        assert_eq!(code(&results[1]), Some(Value::Int(Fault::METHOD_NOT_FOUND)));
        assert_eq!(code(&results[2]), Some(Value::Int(Fault::INVALID_XMLRPC)));
        assert_eq!(code(&results[3]), Some(Value::Int(Fault::INVALID_PARAMS)));
    }
}
