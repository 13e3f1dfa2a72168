//! The `system.*` methods every registry answers: `listMethods`,
//! `methodHelp`, `methodSignature` (Python's
//! `register_introspection_functions`), `multicall`
//! (`register_multicall_functions`, in `multicall.rs`) and
//! `getCapabilities`.

use std::collections::BTreeMap;

use super::registry::Registry;
use super::service::MethodInfo;
use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::value::Value;

impl Registry {
    pub(super) fn system(&mut self, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
        if let Some(answer) = introspect(self, method, &params) {
            return answer;
        }
        match method {
            "system.multicall" => self.multicall_now(params),
            "system.getCapabilities" => Ok(capabilities()),
            _ => Err(Fault::method_not_found(format!("no method {method}"))),
        }
    }
}

/// What introspection needs of a service: its method names, and a
/// method's help and signatures (`None`: no such method).
pub(crate) trait Described {
    fn names(&self) -> Vec<String>;
    fn help(&self, name: &str) -> Option<String>;
    fn signatures(&self, name: &str) -> Option<Vec<Vec<String>>>;
}

impl Described for Registry {
    fn names(&self) -> Vec<String> {
        self.method_names()
    }

    fn help(&self, name: &str) -> Option<String> {
        self.help_of(name)
    }

    fn signatures(&self, name: &str) -> Option<Vec<Vec<String>>> {
        self.signatures_of(name)
    }
}

/// The three introspection methods themselves, beside what a service
/// describes: for a service that describes itself but does not answer
/// them (the handler answers for it).
pub(crate) const INTROSPECTION: [&str; 3] = [
    "system.listMethods",
    "system.methodHelp",
    "system.methodSignature",
];

impl Described for [MethodInfo] {
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.iter().map(|m| m.name.clone()).collect();
        names.extend(INTROSPECTION.iter().map(|n| n.to_string()));
        names.sort();
        names.dedup();
        names
    }

    fn help(&self, name: &str) -> Option<String> {
        match self.iter().find(|m| m.name == name) {
            Some(info) => Some(info.help.clone()),
            None => builtin(name).map(|(_, help, _)| help.to_string()),
        }
    }

    fn signatures(&self, name: &str) -> Option<Vec<Vec<String>>> {
        match self.iter().find(|m| m.name == name) {
            Some(info) => Some(info.signatures.clone()),
            None => {
                builtin(name).map(|(_, _, sig)| vec![sig.iter().map(|t| t.to_string()).collect()])
            }
        }
    }
}

/// One of the introspection methods' own descriptions.
fn builtin(name: &str) -> Option<&'static (&'static str, &'static str, &'static [&'static str])> {
    SYSTEM_METHODS
        .iter()
        .find(|(n, _, _)| *n == name && INTROSPECTION.contains(n))
}

/// `system.listMethods`, `methodHelp` and `methodSignature` over
/// `described`; `None` for any other method.
pub(crate) fn introspect<D: Described + ?Sized>(
    described: &D,
    method: &str,
    params: &[Value],
) -> Option<Result<Value, Fault>> {
    let one_name = || match params {
        [Value::String(name)] => Ok(name.clone()),
        _ => Err(Fault::invalid_params(format!(
            "{method} takes one method name"
        ))),
    };
    let no_method = |name: &str| Fault::method_not_found(format!("no method {name}"));
    Some(match method {
        "system.listMethods" => Ok(Value::Array(
            described.names().into_iter().map(Value::String).collect(),
        )),
        "system.methodHelp" => one_name().and_then(|name| {
            described
                .help(&name)
                .map(Value::String)
                .ok_or_else(|| no_method(&name))
        }),
        "system.methodSignature" => one_name().and_then(|name| {
            let signatures = described
                .signatures(&name)
                .ok_or_else(|| no_method(&name))?;
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
        }),
        _ => return None,
    })
}

/// The built-in methods: name, help, signature.
pub(super) const SYSTEM_METHODS: &[(&str, &str, &[&str])] = &[
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmlrpc::server::service::XmlRpcService;

    #[test]
    fn introspection() {
        let mut r = Registry::new();
        r.register("add", |a: i32, b: i32| a + b)
            .help("Adds.")
            .signature(&["int", "int", "int"]);
        // Raw: no types to infer a signature from.
        r.register_raw("bare", |_| Ok(Value::Int(1)));
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
}
