//! The `system.*` methods every registry answers: `listMethods`,
//! `methodHelp`, `methodSignature` (Python's
//! `register_introspection_functions`), `multicall`
//! (`register_multicall_functions`, in `multicall.rs`) and
//! `getCapabilities`.

use std::collections::BTreeMap;

use super::registry::Registry;
use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::value::Value;

impl Registry {
    pub(super) fn system(&mut self, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
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
            "system.multicall" => self.multicall_now(params),
            "system.getCapabilities" => Ok(capabilities()),
            _ => Err(Fault::method_not_found(format!("no method {method}"))),
        }
    }
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
