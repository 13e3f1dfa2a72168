//! `Registry`: typed methods by name, with introspection and multicall —
//! the convenience of Python's `SimpleXMLRPCServer` (`register_function`,
//! `register_introspection_functions`, `register_multicall_functions`).
//!
//! It is itself just an [`XmlRpcService`]: its `call` looks the method up.
//!
//! ```
//! use medusa::xmlrpc::{Fault, Registry, Value, XmlRpcService};
//!
//! let mut registry = Registry::new();
//! registry
//!     // checked_add: `a + b` would wrap silently in a release build.
//!     .register("add", |a: i32, b: i32| {
//!         a.checked_add(b).ok_or(Fault::invalid_params("the sum overflows an int"))
//!     })
//!     .help("Adds two integers.")
//!     .signature(&["int", "int", "int"]);
//! registry.register("div", |a: f64, b: f64| {
//!     if b == 0.0 { Err(Fault::application_error("division by zero")) } else { Ok(a / b) }
//! });
//!
//! assert_eq!(registry.call("add", vec![Value::Int(40), Value::Int(2)]), Ok(Value::Int(42)));
//! // Wrong count or types are -32602.
//! assert_eq!(registry.call("add", vec![Value::Int(1)]).unwrap_err().code, -32602);
//! ```
//!
//! Parameters are converted with serde ([`from_value`](crate::xmlrpc::from_value)), so a method may take
//! `i32`, `f64`, `String`, `Vec<T>`, `Option<T>`, [`Value`] itself, or your
//! own `#[derive(Deserialize)]` struct; it may return anything
//! `Serialize` ([`to_value`](crate::xmlrpc::to_value)), or `Result<T, Fault>`
//! to send a fault.
//!
//! Here: the registry and its `register*` methods; the `system.*` methods
//! are in `system.rs`, the conversion of a typed function's parameters and
//! result in `method.rs`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::method::Method;
use super::program::{Program, ProgramMethod};
use super::remote::Remote;
use super::service::{CallContext, MethodInfo, Reply, XmlRpcResponder, XmlRpcService};
use super::system::SYSTEM_METHODS;
use super::workers::WorkerPool;
use crate::http::Gauge;
use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::value::Value;

/// A method as the registry stores it.
enum Callable {
    /// Parameters in, value or fault out.
    Now(Box<dyn FnMut(Vec<Value>) -> Result<Value, Fault>>),
    /// Parameters and a responder in; the answer comes through the
    /// responder, later.
    Later(Box<dyn FnMut(Vec<Value>, XmlRpcResponder)>),
}

struct Entry {
    callable: Callable,
    help: String,
    signatures: Vec<Vec<String>>,
    /// From the Rust types (`register` only); `signatures` replace it.
    inferred: Option<Vec<String>>,
}

/// Methods by name, plus the `system.*` methods.
#[doc(alias = "SimpleXMLRPCServer")]
#[derive(Default)]
pub struct Registry {
    methods: BTreeMap<String, Entry>,
    /// Where names nobody registered go (Python's `register_instance`).
    fallback: Option<Box<dyn XmlRpcService>>,
    /// Remote servers by prefix, the longest prefix first.
    mounts: Vec<(String, Remote)>,
}

/// Returned by [`Registry::register`] to attach help and signatures.
pub struct MethodDoc<'a> {
    entry: &'a mut Entry,
}

impl MethodDoc<'_> {
    /// Help text for `system.methodHelp`.
    pub fn help(self, help: &str) -> Self {
        self.entry.help = help.to_string();
        self
    }

    /// Adds a signature for `system.methodSignature`: the return type, then
    /// the parameter types (`["int", "int", "int"]` for `add`). Signatures
    /// given here replace the one `register` infers from the types.
    pub fn signature(self, types: &[&str]) -> Self {
        self.entry
            .signatures
            .push(types.iter().map(|t| t.to_string()).collect());
        self
    }
}

impl Registry {
    /// An empty registry (the `system.*` methods are always there).
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers a typed function under `name` (Python's
    /// `register_function`). Replaces an earlier method of that name. Its
    /// signature is inferred from its types where they say it
    /// (`signature.rs`: `|a: i32, b: i32| a + b` is `int, int, int`).
    pub fn register<Args, Marker>(
        &mut self,
        name: &str,
        method: impl Method<Args, Marker> + 'static,
    ) -> MethodDoc<'_> {
        let mut method = method;
        let inferred = method.signature();
        let doc = self.register_raw(name, move |params| method.invoke(params));
        doc.entry.inferred = inferred.map(|types| types.iter().map(|t| t.to_string()).collect());
        doc
    }

    /// Registers a function over the raw parameter list.
    pub fn register_raw(
        &mut self,
        name: &str,
        f: impl FnMut(Vec<Value>) -> Result<Value, Fault> + 'static,
    ) -> MethodDoc<'_> {
        self.insert(name, Callable::Now(Box::new(f)))
    }

    /// Registers a method that answers later: it gets the parameters and an
    /// [`XmlRpcResponder`] to complete when the answer is ready, e.g. when
    /// calls it made to other servers come back, or from another thread.
    pub fn register_deferred(
        &mut self,
        name: &str,
        f: impl FnMut(Vec<Value>, XmlRpcResponder) + 'static,
    ) -> MethodDoc<'_> {
        self.insert(name, Callable::Later(Box::new(f)))
    }

    /// Registers a method that blocks or burns CPU: it runs on `pool`, so
    /// the loop keeps serving other clients meanwhile. When the pool's
    /// queue is full the call is refused at once with fault -32500
    /// ("server busy").
    pub fn register_blocking(
        &mut self,
        name: &str,
        pool: Arc<WorkerPool>,
        f: impl Fn(Vec<Value>) -> Result<Value, Fault> + Send + Sync + 'static,
    ) -> MethodDoc<'_> {
        let f = Arc::new(f);
        let method = name.to_string();
        self.register_deferred(name, move |params, responder| {
            // Shared so that a refused job can still answer "busy".
            let responder = Arc::new(Mutex::new(Some(responder)));
            let for_job = responder.clone();
            let f = f.clone();
            let job = move || {
                let result = f(params);
                if let Some(responder) = for_job
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                {
                    responder.respond(result);
                }
            };
            if pool.submit(job).is_err() {
                if let Some(responder) = responder
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                {
                    let busy = format!("server busy: {method} not run, try again");
                    responder.respond(Err(Fault::application_error(busy)));
                }
            }
        })
    }

    /// Sends every call to a name not registered here (and not a
    /// `system.*` method) to `service`, as Python's `register_instance`
    /// sends it to the instance's `_dispatch`: typed methods and a
    /// `call`-style service side by side, or a `call`-only service given
    /// introspection and `system.multicall`. If `service` describes its
    /// methods, `system.listMethods`, `methodHelp` and `methodSignature`
    /// include them (a registered method of the same name wins). Replaces
    /// an earlier fallback.
    ///
    /// ```
    /// use medusa::xmlrpc::{Fault, Registry, Value, XmlRpcService};
    ///
    /// struct Legacy;
    /// impl XmlRpcService for Legacy {
    ///     fn call(&mut self, method: &str, _params: Vec<Value>) -> Result<Value, Fault> {
    ///         match method {
    ///             "ping" => Ok(Value::from("pong")),
    ///             _ => Err(Fault::method_not_found(format!("no method {method}"))),
    ///         }
    ///     }
    /// }
    ///
    /// let mut registry = Registry::new();
    /// registry.register("add", |a: i32, b: i32| a.checked_add(b).ok_or(Fault::invalid_params("overflow")));
    /// registry.register_instance(Legacy);
    /// assert_eq!(registry.call("ping", vec![]), Ok(Value::from("pong")));
    /// assert_eq!(registry.call("add", vec![Value::Int(1), Value::Int(2)]), Ok(Value::Int(3)));
    /// assert_eq!(registry.call("nope", vec![]).unwrap_err().code, Fault::METHOD_NOT_FOUND);
    /// ```
    pub fn register_instance(&mut self, service: impl XmlRpcService + 'static) {
        self.fallback = Some(Box::new(service));
    }

    /// Sends every call to a name under `prefix` (say `inventory.`) to
    /// `remote`, without the prefix (`inventory.count` is sent as
    /// `count`): see [`Remote`] for timeouts, limits, retries and faults.
    /// The remote's methods, as its introspection lists them, appear under
    /// the prefix in `system.listMethods`, `methodHelp` and
    /// `methodSignature`; `system.multicall` may mix them with local
    /// methods. A registered method wins over a mount, and the longest
    /// matching prefix over a shorter one. Replaces an earlier mount at
    /// the same prefix.
    pub fn mount(&mut self, prefix: &str, remote: Remote) {
        remote.set_prefix(prefix);
        self.mounts.retain(|(p, _)| p != prefix);
        self.mounts.push((prefix.to_string(), remote));
        self.mounts
            .sort_by(|(a, _), (b, _)| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// The remote serving `name`, and the name it knows the method by.
    fn mount_for<'n>(&self, name: &'n str) -> Option<(&Remote, &'n str)> {
        if name.starts_with("system.") {
            return None;
        }
        self.mounts
            .iter()
            .find_map(|(prefix, remote)| Some((remote, name.strip_prefix(prefix.as_str())?)))
    }

    /// Whether a call to `name` answers later (a deferred method, or one
    /// on a remote server); run it with [`Registry::start_later`].
    pub(super) fn answers_later(&self, name: &str) -> bool {
        match self.methods.get(name) {
            Some(entry) => matches!(entry.callable, Callable::Later(_)),
            None => self.mount_for(name).is_some(),
        }
    }

    /// Starts a call for which [`Registry::answers_later`] holds; its
    /// answer goes to `responder`.
    pub(super) fn start_later(
        &mut self,
        name: &str,
        params: Vec<Value>,
        responder: XmlRpcResponder,
    ) {
        if let Some(Entry {
            callable: Callable::Later(f),
            ..
        }) = self.methods.get_mut(name)
        {
            return f(params, responder);
        }
        match self.mount_for(name) {
            Some((remote, method)) => remote.forward(method, params, responder),
            None => responder.respond(Err(Fault::internal_error(format!(
                "{name} does not answer later"
            )))),
        }
    }

    /// The fallback's own description of a method, if it gives one.
    fn fallback_info(&self, name: &str) -> Option<MethodInfo> {
        self.fallback
            .as_ref()?
            .describe()?
            .into_iter()
            .find(|info| info.name == name)
    }

    /// Registers a method backed by a program: each call runs it, the
    /// parameters as a JSON array on its stdin, its stdout (JSON) the
    /// result; see [`ProgramMethod`] for the rules, limits and faults. The
    /// program's help and signatures become the method's.
    pub fn register_program(&mut self, name: &str, program: ProgramMethod) -> MethodDoc<'_> {
        let help = program.help_text().to_string();
        let signatures = program.signatures().to_vec();
        let program = Program::new(name, program);
        let doc = self.register_deferred(name, move |params, responder| {
            program.call(params, responder)
        });
        doc.entry.help = help;
        doc.entry.signatures = signatures;
        doc
    }

    fn insert(&mut self, name: &str, callable: Callable) -> MethodDoc<'_> {
        let entry = Entry {
            callable,
            help: String::new(),
            signatures: Vec::new(),
            inferred: None,
        };
        self.methods.insert(name.to_string(), entry);
        MethodDoc {
            entry: self.methods.get_mut(name).expect("just inserted"),
        }
    }

    /// Names of all methods, `system.*` included, sorted.
    pub fn method_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.methods.keys().cloned().collect();
        names.extend(SYSTEM_METHODS.iter().map(|(n, _, _)| n.to_string()));
        if let Some(described) = self.fallback.as_ref().and_then(|f| f.describe()) {
            names.extend(described.into_iter().map(|info| info.name));
        }
        for (prefix, remote) in &self.mounts {
            names.extend(
                remote
                    .methods()
                    .into_iter()
                    .map(|m| format!("{prefix}{}", m.name)),
            );
        }
        names.sort();
        names.dedup();
        names
    }

    pub(super) fn help_of(&self, name: &str) -> Option<String> {
        if let Some(entry) = self.methods.get(name) {
            return Some(entry.help.clone());
        }
        SYSTEM_METHODS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, help, _)| help.to_string())
            .or_else(|| self.remote_info(name).map(|info| info.help))
            .or_else(|| self.fallback_info(name).map(|info| info.help))
    }

    /// What a mounted remote's introspection says of `name`.
    fn remote_info(&self, name: &str) -> Option<MethodInfo> {
        let (remote, method) = self.mount_for(name)?;
        remote.info(method)
    }

    pub(super) fn signatures_of(&self, name: &str) -> Option<Vec<Vec<String>>> {
        if let Some(entry) = self.methods.get(name) {
            return Some(match (&entry.inferred, entry.signatures.is_empty()) {
                (Some(inferred), true) => vec![inferred.clone()],
                _ => entry.signatures.clone(),
            });
        }
        SYSTEM_METHODS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, sig)| vec![sig.iter().map(|t| t.to_string()).collect()])
            .or_else(|| self.remote_info(name).map(|info| info.signatures))
            .or_else(|| self.fallback_info(name).map(|info| info.signatures))
    }
}

/// The fault for a method that answers later, called where only an answer
/// now will do (`Registry::call` used directly).
fn later_here(method: &str) -> Fault {
    Fault::invalid_xmlrpc(format!(
        "{method} answers later and cannot be called here (only through a server, or in its system.multicall)"
    ))
}

impl XmlRpcService for Registry {
    fn call(&mut self, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
        if let Some(entry) = self.methods.get_mut(method) {
            return match &mut entry.callable {
                Callable::Now(f) => f(params),
                // Reached only through system.multicall, which must answer
                // in one go.
                Callable::Later(_) => Err(later_here(method)),
            };
        }
        if method.starts_with("system.") {
            return self.system(method, params);
        }
        if self.mount_for(method).is_some() {
            return Err(later_here(method));
        }
        match &mut self.fallback {
            Some(fallback) => fallback.call(method, params),
            None => Err(Fault::method_not_found(format!("no method {method}"))),
        }
    }

    fn call_or_defer(
        &mut self,
        method: &str,
        params: Vec<Value>,
        cx: &mut CallContext<'_>,
    ) -> Reply {
        if self.answers_later(method) {
            let (responder, later) = cx.defer();
            self.start_later(method, params, responder);
            return Reply::Later(later);
        }
        if method == "system.multicall" {
            return self.multicall(params, cx);
        }
        match &mut self.fallback {
            // The fallback may answer later too.
            Some(fallback)
                if !self.methods.contains_key(method) && !method.starts_with("system.") =>
            {
                fallback.call_or_defer(method, params, cx)
            }
            _ => Reply::Now(self.call(method, params)),
        }
    }

    /// Each mounted remote's health.
    fn facts(&self) -> Vec<(String, String)> {
        self.mounts
            .iter()
            .map(|(prefix, remote)| (format!("remote {prefix}"), remote.health()))
            .collect()
    }

    /// Each mounted remote's health, as numbers.
    fn gauges(&self) -> Vec<Gauge> {
        self.mounts
            .iter()
            .flat_map(|(prefix, remote)| remote.gauges(prefix))
            .collect()
    }

    fn describe(&self) -> Option<Vec<MethodInfo>> {
        Some(
            self.method_names()
                .into_iter()
                .map(|name| MethodInfo {
                    help: self.help_of(&name).unwrap_or_default(),
                    signatures: self.signatures_of(&name).unwrap_or_default(),
                    name,
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_are_method_not_found() {
        let mut r = Registry::new();
        assert_eq!(
            r.call("nope", vec![]).unwrap_err().code,
            Fault::METHOD_NOT_FOUND
        );
        assert_eq!(
            r.call("system.nope", vec![]).unwrap_err().code,
            Fault::METHOD_NOT_FOUND
        );
    }
}
