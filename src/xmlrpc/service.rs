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
//!   `system.*` introspection and the handler's HTML page; the registry
//!   implements it for you.

use super::{Fault, Value};

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

    /// The methods this service offers, if it can say (used for the HTML
    /// page a GET shows). `None`: no introspection.
    fn describe(&self) -> Option<Vec<MethodInfo>> {
        None
    }
}

impl<S: XmlRpcService + ?Sized> XmlRpcService for Box<S> {
    fn call(&mut self, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
        (**self).call(method, params)
    }

    fn describe(&self) -> Option<Vec<MethodInfo>> {
        (**self).describe()
    }
}
