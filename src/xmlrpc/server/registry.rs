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
//!     .register("add", |a: i32, b: i32| a + b)
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
//! Parameters are converted with serde ([`from_value`]), so a method may take
//! `i32`, `f64`, `String`, `Vec<T>`, `Option<T>`, [`Value`] itself, or your
//! own `#[derive(Deserialize)]` struct; it may return anything
//! `Serialize` ([`to_value`]), or `Result<T, Fault>` to send a fault.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use std::sync::{Arc, Mutex, PoisonError};

use super::service::{CallContext, MethodInfo, Reply, XmlRpcResponder, XmlRpcService};
use super::workers::WorkerPool;
use crate::xmlrpc::de::from_value;
use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::ser::to_value;
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
}

/// Methods by name, plus the `system.*` methods.
#[doc(alias = "SimpleXMLRPCServer")]
#[derive(Default)]
pub struct Registry {
    methods: BTreeMap<String, Entry>,
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
    /// the parameter types (`["int", "int", "int"]` for `add`).
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
    /// `register_function`). Replaces an earlier method of that name.
    pub fn register<Args, Marker>(
        &mut self,
        name: &str,
        method: impl Method<Args, Marker> + 'static,
    ) -> MethodDoc<'_> {
        let mut method = method;
        self.register_raw(name, move |params| method.invoke(params))
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

    fn insert(&mut self, name: &str, callable: Callable) -> MethodDoc<'_> {
        let entry = Entry {
            callable,
            help: String::new(),
            signatures: Vec::new(),
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
        names.sort();
        names
    }

    fn help_of(&self, name: &str) -> Option<String> {
        if let Some(entry) = self.methods.get(name) {
            return Some(entry.help.clone());
        }
        SYSTEM_METHODS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, help, _)| help.to_string())
    }

    fn signatures_of(&self, name: &str) -> Option<Vec<Vec<String>>> {
        if let Some(entry) = self.methods.get(name) {
            return Some(entry.signatures.clone());
        }
        SYSTEM_METHODS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, sig)| vec![sig.iter().map(|t| t.to_string()).collect()])
    }

    /// `system.multicall`: each call's `[result]`, or its fault as a struct.
    fn multicall(&mut self, params: Vec<Value>) -> Result<Value, Fault> {
        let [Value::Array(calls)] = <[Value; 1]>::try_from(params)
            .map_err(|_| Fault::invalid_params("system.multicall takes one array of calls"))?
        else {
            return Err(Fault::invalid_params(
                "system.multicall takes one array of calls",
            ));
        };
        let results = calls
            .into_iter()
            .map(|call| {
                let outcome = match call {
                    Value::Struct(mut members) => {
                        match (members.remove("methodName"), members.remove("params")) {
                            (Some(Value::String(name)), params) if name != "system.multicall" => {
                                let params = match params {
                                    Some(Value::Array(p)) => Ok(p),
                                    None => Ok(Vec::new()),
                                    Some(_) => {
                                        Err(Fault::invalid_params("params must be an array"))
                                    }
                                };
                                params.and_then(|p| self.call(&name, p))
                            }
                            (Some(Value::String(_)), _) => Err(Fault::invalid_xmlrpc(
                                "system.multicall may not call itself",
                            )),
                            _ => Err(Fault::invalid_params("each call needs a string methodName")),
                        }
                    }
                    _ => Err(Fault::invalid_params("each call must be a struct")),
                };
                match outcome {
                    Ok(value) => Value::Array(vec![value]),
                    Err(fault) => fault_struct(&fault),
                }
            })
            .collect();
        Ok(Value::Array(results))
    }

    fn system(&mut self, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
        let one_name = |params: &[Value]| match params {
            [Value::String(name)] => Ok(name.clone()),
            _ => Err(Fault::invalid_params(format!(
                "{method} takes one method name"
            ))),
        };
        match method {
            "system.listMethods" => Ok(Value::Array(
                self.method_names().into_iter().map(Value::String).collect(),
            )),
            "system.methodHelp" => {
                let name = one_name(&params)?;
                self.help_of(&name)
                    .map(Value::String)
                    .ok_or_else(|| Fault::method_not_found(format!("no method {name}")))
            }
            "system.methodSignature" => {
                let name = one_name(&params)?;
                let signatures = self
                    .signatures_of(&name)
                    .ok_or_else(|| Fault::method_not_found(format!("no method {name}")))?;
                if signatures.is_empty() {
                    // The introspection spec's answer for "not known".
                    return Ok(Value::String("undef".to_string()));
                }
                Ok(Value::Array(
                    signatures
                        .into_iter()
                        .map(|s| Value::Array(s.into_iter().map(Value::String).collect()))
                        .collect(),
                ))
            }
            "system.multicall" => self.multicall(params),
            "system.getCapabilities" => Ok(capabilities()),
            _ => Err(Fault::method_not_found(format!("no method {method}"))),
        }
    }
}

impl XmlRpcService for Registry {
    fn call(&mut self, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
        if let Some(entry) = self.methods.get_mut(method) {
            return match &mut entry.callable {
                Callable::Now(f) => f(params),
                // Reached only through system.multicall, which must answer
                // in one go.
                Callable::Later(_) => Err(Fault::invalid_xmlrpc(format!(
                    "{method} answers later and cannot be called inside system.multicall"
                ))),
            };
        }
        if method.starts_with("system.") {
            return self.system(method, params);
        }
        Err(Fault::method_not_found(format!("no method {method}")))
    }

    fn call_or_defer(
        &mut self,
        method: &str,
        params: Vec<Value>,
        cx: &mut CallContext<'_>,
    ) -> Reply {
        match self.methods.get_mut(method) {
            Some(Entry {
                callable: Callable::Later(f),
                ..
            }) => {
                f(params, cx.defer());
                Reply::Later
            }
            _ => Reply::Now(self.call(method, params)),
        }
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

/// The built-in methods: name, help, signature.
const SYSTEM_METHODS: &[(&str, &str, &[&str])] = &[
    (
        "system.listMethods",
        "Lists the methods this server offers.",
        &["array"],
    ),
    (
        "system.methodHelp",
        "Returns the help text of a method.",
        &["string", "string"],
    ),
    (
        "system.methodSignature",
        "Returns the signatures of a method: arrays of the return type then the parameter types.",
        &["array", "string"],
    ),
    (
        "system.multicall",
        "Runs several calls in one request; each result is [value] or a fault struct.",
        &["array", "array"],
    ),
    (
        "system.getCapabilities",
        "Lists the specifications this server implements.",
        &["struct"],
    ),
];

fn capabilities() -> Value {
    let spec = |url: &str, version: i32| {
        Value::Struct(BTreeMap::from([
            ("specUrl".to_string(), Value::String(url.to_string())),
            ("specVersion".to_string(), Value::Int(version)),
        ]))
    };
    Value::Struct(BTreeMap::from([
        ("xmlrpc".to_string(), spec("http://www.xmlrpc.com/spec", 1)),
        (
            "faults_interop".to_string(),
            spec(
                "http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php",
                20010516,
            ),
        ),
        (
            "introspect".to_string(),
            spec("http://xmlrpc-c.sourceforge.net/introspection.html", 1),
        ),
        (
            "multicall".to_string(),
            spec("http://www.xmlrpc.com/discuss/msgReader$1208", 1),
        ),
        (
            "nil".to_string(),
            spec("http://www.ontosys.com/xml-rpc/extensions.php", 20010704),
        ),
    ]))
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

/// What a registered function may return: anything `Serialize` (marker
/// [`Plain`]), or `Result<T, Fault>` (marker [`Fallible`]).
pub trait IntoReply<Marker> {
    /// The value to send, or the fault.
    fn into_reply(self) -> Result<Value, Fault>;
}

/// Marker: the function returns a plain value.
pub struct Plain;
/// Marker: the function returns `Result<T, Fault>`.
pub struct Fallible;

impl<T: Serialize> IntoReply<Plain> for T {
    fn into_reply(self) -> Result<Value, Fault> {
        to_value(&self)
            .map_err(|e| Fault::internal_error(format!("cannot convert the result: {e}")))
    }
}

impl<T: Serialize> IntoReply<Fallible> for Result<T, Fault> {
    fn into_reply(self) -> Result<Value, Fault> {
        self.and_then(|value| value.into_reply())
    }
}

/// A function the registry can call with a parameter list: implemented for
/// closures and functions of up to six parameters whose types are
/// `DeserializeOwned` and whose result is [`IntoReply`].
pub trait Method<Args, Marker> {
    /// Converts the parameters, calls, converts the result.
    fn invoke(&mut self, params: Vec<Value>) -> Result<Value, Fault>;
}

/// One parameter, converted; a mismatch is -32602 naming its position.
fn param<T: DeserializeOwned>(
    params: &mut std::vec::IntoIter<Value>,
    index: usize,
) -> Result<T, Fault> {
    let value = params
        .next()
        .ok_or_else(|| Fault::invalid_params(format!("missing parameter {}", index + 1)))?;
    let type_name = value.type_name();
    from_value(value)
        .map_err(|e| Fault::invalid_params(format!("parameter {} ({type_name}): {e}", index + 1)))
}

macro_rules! impl_method {
    ($count:expr $(, $arg:ident)*) => {
        impl<F, R, M, $($arg,)*> Method<($($arg,)*), (M, PhantomData<R>)> for F
        where
            F: FnMut($($arg),*) -> R,
            R: IntoReply<M>,
            $($arg: DeserializeOwned,)*
        {
            #[allow(non_snake_case, unused_variables, unused_mut)]
            fn invoke(&mut self, params: Vec<Value>) -> Result<Value, Fault> {
                if params.len() != $count {
                    return Err(Fault::invalid_params(format!(
                        "expected {} parameter(s), got {}", $count, params.len()
                    )));
                }
                let mut params = params.into_iter();
                let mut index = 0;
                $(
                    let $arg: $arg = param(&mut params, index)?;
                    index += 1;
                )*
                let _ = index;
                self($($arg),*).into_reply()
            }
        }
    };
}

impl_method!(0);
impl_method!(1, A1);
impl_method!(2, A1, A2);
impl_method!(3, A1, A2, A3);
impl_method!(4, A1, A2, A3, A4);
impl_method!(5, A1, A2, A3, A4, A5);
impl_method!(6, A1, A2, A3, A4, A5, A6);

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn ints(values: &[i32]) -> Vec<Value> {
        values.iter().map(|&v| Value::Int(v)).collect()
    }

    #[test]
    fn typed_methods_convert_parameters_and_results() {
        let mut r = Registry::new();
        r.register("add", |a: i32, b: i32| a + b);
        r.register("concat", |a: String, b: String| a + &b);
        r.register("sum", |xs: Vec<f64>| xs.iter().sum::<f64>());
        r.register("nothing", || ());
        assert_eq!(r.call("add", ints(&[40, 2])), Ok(Value::Int(42)));
        assert_eq!(
            r.call("concat", vec![Value::from("a"), Value::from("b")]),
            Ok(Value::from("ab"))
        );
        let xs = Value::Array(vec![Value::Double(0.5), Value::Int(2)]);
        assert_eq!(r.call("sum", vec![xs]), Ok(Value::Double(2.5)));
        assert_eq!(r.call("nothing", vec![]), Ok(Value::Nil));
    }

    #[test]
    fn wrong_count_or_type_is_invalid_params() {
        let mut r = Registry::new();
        r.register("add", |a: i32, b: i32| a + b);
        assert_eq!(
            r.call("add", ints(&[1])).unwrap_err().code,
            Fault::INVALID_PARAMS
        );
        assert_eq!(
            r.call("add", ints(&[1, 2, 3])).unwrap_err().code,
            Fault::INVALID_PARAMS
        );
        let fault = r
            .call("add", vec![Value::Int(1), Value::from("two")])
            .unwrap_err();
        assert_eq!(fault.code, Fault::INVALID_PARAMS);
        assert!(fault.message.contains("parameter 2"), "{}", fault.message);
    }

    #[test]
    fn fallible_methods_send_their_faults() {
        let mut r = Registry::new();
        r.register("div", |a: f64, b: f64| {
            if b == 0.0 {
                Err(Fault::new(7, "division by zero"))
            } else {
                Ok(a / b)
            }
        });
        assert_eq!(
            r.call("div", vec![Value::Double(1.0), Value::Double(4.0)]),
            Ok(Value::Double(0.25))
        );
        assert_eq!(
            r.call("div", vec![Value::Double(1.0), Value::Double(0.0)]),
            Err(Fault::new(7, "division by zero"))
        );
    }

    #[test]
    fn user_structs_in_and_out() {
        #[derive(Deserialize, Serialize)]
        struct Point {
            x: i32,
            y: i32,
        }
        let mut r = Registry::new();
        r.register("mirror", |p: Point| Point { x: p.y, y: p.x });
        let arg = Value::Struct(BTreeMap::from([
            ("x".into(), Value::Int(1)),
            ("y".into(), Value::Int(2)),
        ]));
        let out = r.call("mirror", vec![arg]).unwrap();
        assert_eq!(
            out,
            Value::Struct(BTreeMap::from([
                ("x".into(), Value::Int(2)),
                ("y".into(), Value::Int(1))
            ]))
        );
    }

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

    #[test]
    fn introspection() {
        let mut r = Registry::new();
        r.register("add", |a: i32, b: i32| a + b)
            .help("Adds.")
            .signature(&["int", "int", "int"]);
        r.register("bare", || 1);
        let names = r.call("system.listMethods", vec![]).unwrap();
        let Value::Array(names) = names else {
            panic!("array")
        };
        assert!(
            names.contains(&Value::from("add")) && names.contains(&Value::from("system.multicall"))
        );
        assert_eq!(
            r.call("system.methodHelp", vec![Value::from("add")]),
            Ok(Value::from("Adds."))
        );
        let sig = Value::Array(vec![Value::Array(vec![
            Value::from("int"),
            Value::from("int"),
            Value::from("int"),
        ])]);
        assert_eq!(
            r.call("system.methodSignature", vec![Value::from("add")]),
            Ok(sig)
        );
        assert_eq!(
            r.call("system.methodSignature", vec![Value::from("bare")]),
            Ok(Value::from("undef"))
        );
        assert_eq!(
            r.call("system.methodHelp", vec![Value::from("zzz")])
                .unwrap_err()
                .code,
            Fault::METHOD_NOT_FOUND
        );
        let Ok(Value::Struct(caps)) = r.call("system.getCapabilities", vec![]) else {
            panic!("struct")
        };
        for key in ["faults_interop", "introspect", "multicall", "nil"] {
            assert!(caps.contains_key(key), "{key}");
        }
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
