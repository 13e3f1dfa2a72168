//! A remote's method list, read through its own introspection and kept
//! for the front server's `system.listMethods`, `methodHelp`,
//! `methodSignature` and GET page, so those answer at once and merge the
//! remote's methods with the local ones.
//!
//! A socketless dispatcher, the [`Watch`], reads it when the remote is
//! mounted and then on a timer: `system.listMethods`, then the help and
//! signatures of every method in one `system.multicall`, or, if the
//! remote has no multicall (Python's `SimpleXMLRPCServer` by default),
//! two calls per method for the first [`MAX_DESCRIBED`]. A remote that
//! does not answer keeps its last list and is reported down; one without
//! introspection is still called, by any name under its prefix.

use std::collections::BTreeMap;
use std::io;
use std::rc::{Rc, Weak};
use std::time::Duration;

use mio::event::Source;

use super::State;
use crate::reactor::{Context, Dispatcher, TimerId};
use crate::xmlrpc::server::service::MethodInfo;
use crate::xmlrpc::{CallResult, ClientError, Value};

/// Most methods kept of one remote's list; the rest are not shown (they
/// can still be called).
const MAX_METHODS: usize = 10_000;
/// Longest method name kept, in bytes.
const MAX_NAME_BYTES: usize = 256;
/// Most methods described one by one when the remote has no multicall.
const MAX_DESCRIBED: usize = 256;

/// Reads a remote's method list now and every `refresh`, while the remote
/// is mounted.
pub(super) struct Watch {
    state: Weak<std::cell::RefCell<State>>,
    refresh: Duration,
    first: Option<TimerId>,
    timer: Option<TimerId>,
}

impl Watch {
    pub(super) fn new(state: Weak<std::cell::RefCell<State>>, refresh: Duration) -> Watch {
        Watch {
            state,
            refresh,
            first: None,
            timer: None,
        }
    }

    fn look(&mut self, cx: &mut Context<'_>) {
        match self.state.upgrade() {
            Some(state) => refresh(&state),
            // Unmounted: nothing left to watch.
            None => cx.close(),
        }
    }
}

impl Dispatcher for Watch {
    fn source(&mut self) -> Option<&mut dyn Source> {
        None
    }

    fn handle_added(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        // The first look on the loop's next pass, not now: the remote is
        // being made, and is mounted (named by its prefix) just after.
        self.first = Some(cx.set_timer(Duration::ZERO));
        self.timer = Some(cx.set_repeating(self.refresh));
        Ok(())
    }

    fn handle_timer(&mut self, cx: &mut Context<'_>, timer: TimerId) -> io::Result<()> {
        if self.timer == Some(timer) || self.first == Some(timer) {
            self.look(cx);
        }
        Ok(())
    }

    fn handle_shutdown(&mut self, cx: &mut Context<'_>) {
        // Not a reason to keep the loop running.
        cx.close();
    }
}

/// Starts reading the remote's method list, unless a reading is under way.
fn refresh(state: &Rc<std::cell::RefCell<State>>) {
    let (client, url) = {
        let mut s = state.borrow_mut();
        if s.refreshing {
            return;
        }
        s.refreshing = true;
        (s.client.clone(), s.url.clone())
    };
    let weak = Rc::downgrade(state);
    client.call(&url, "system.listMethods", Vec::new(), move |result| {
        listed(&weak, result)
    });
}

fn listed(weak: &Weak<std::cell::RefCell<State>>, result: CallResult) {
    let Some(state) = weak.upgrade() else {
        return;
    };
    let names = match result {
        Ok(Value::Array(names)) => names,
        Ok(_) | Err(ClientError::Fault(_)) => {
            // It answered, but offers no introspection (or not as the
            // spec says): called blind.
            let mut s = state.borrow_mut();
            s.answered();
            s.methods = None;
            s.refreshing = false;
            return;
        }
        Err(error) => {
            let mut s = state.borrow_mut();
            let what = super::describe(&error, s.config.timeout);
            log::warn!("{}: listing its methods: {what:?}", s.name);
            s.note_failure(&what);
            s.refreshing = false;
            return;
        }
    };
    let names: Vec<String> = names
        .into_iter()
        .filter_map(|name| match name {
            Value::String(name) if !name.starts_with("system.") && name.len() <= MAX_NAME_BYTES => {
                Some(name)
            }
            _ => None,
        })
        .take(MAX_METHODS)
        .collect();
    let (client, url) = {
        let mut s = state.borrow_mut();
        s.answered();
        (s.client.clone(), s.url.clone())
    };
    let calls = names
        .iter()
        .flat_map(|name| {
            ["system.methodHelp", "system.methodSignature"].map(|method| {
                Value::Struct(BTreeMap::from([
                    ("methodName".to_string(), Value::from(method)),
                    (
                        "params".to_string(),
                        Value::Array(vec![Value::from(name.as_str())]),
                    ),
                ]))
            })
        })
        .collect();
    let weak = weak.clone();
    client.call(
        &url,
        "system.multicall",
        vec![Value::Array(calls)],
        move |result| described(&weak, names, result),
    );
}

fn described(weak: &Weak<std::cell::RefCell<State>>, names: Vec<String>, result: CallResult) {
    let Some(state) = weak.upgrade() else {
        return;
    };
    let mut methods: Vec<MethodInfo> = names
        .into_iter()
        .map(|name| MethodInfo {
            name,
            ..MethodInfo::default()
        })
        .collect();
    let one_by_one = match result {
        Ok(Value::Array(results)) if results.len() == methods.len().saturating_mul(2) => {
            let mut results = results.into_iter();
            for method in &mut methods {
                let help = results.next().and_then(first);
                let signatures = results.next().and_then(first);
                describe_one(method, help, signatures);
            }
            false
        }
        // No multicall: a fault, or an answer that is not one.
        Ok(_) | Err(ClientError::Fault(_)) => true,
        Err(_) => false,
    };
    let wanted: Vec<String> = if one_by_one {
        methods
            .iter()
            .take(MAX_DESCRIBED)
            .map(|m| m.name.clone())
            .collect()
    } else {
        Vec::new()
    };
    let (client, url) = {
        let mut s = state.borrow_mut();
        s.methods = Some(methods);
        s.refreshing = false;
        (s.client.clone(), s.url.clone())
    };
    for name in wanted {
        for method in ["system.methodHelp", "system.methodSignature"] {
            let weak = weak.clone();
            let name = name.clone();
            client.call(
                &url,
                method,
                vec![Value::from(name.as_str())],
                move |result| {
                    let Some(state) = weak.upgrade() else {
                        return;
                    };
                    let Ok(value) = result else {
                        return;
                    };
                    let mut s = state.borrow_mut();
                    let Some(info) = s
                        .methods
                        .as_mut()
                        .and_then(|ms| ms.iter_mut().find(|m| m.name == name))
                    else {
                        return;
                    };
                    if method == "system.methodHelp" {
                        describe_one(info, Some(value), None);
                    } else {
                        describe_one(info, None, Some(value));
                    }
                },
            );
        }
    }
}

/// A multicall result's value: the one element of `[value]` (a fault
/// struct gives nothing).
fn first(result: Value) -> Option<Value> {
    match result {
        Value::Array(values) => values.into_iter().next(),
        _ => None,
    }
}

/// Takes what `methodHelp` and `methodSignature` answered, where it has
/// the expected shape: a string, and arrays of type names.
fn describe_one(info: &mut MethodInfo, help: Option<Value>, signatures: Option<Value>) {
    if let Some(Value::String(help)) = help {
        info.help = help;
    }
    if let Some(Value::Array(signatures)) = signatures {
        info.signatures = signatures
            .into_iter()
            .filter_map(|signature| match signature {
                Value::Array(types) => types
                    .into_iter()
                    .map(|t| match t {
                        Value::String(t) => Some(t),
                        _ => None,
                    })
                    .collect(),
                _ => None,
            })
            .collect();
    }
}
