//! The `system.*` methods every registry answers: `listMethods`,
//! `methodHelp`, `methodSignature` (Python's
//! `register_introspection_functions`), `multicall`
//! (`register_multicall_functions`) and `getCapabilities`.

use std::collections::BTreeMap;

use super::registry::Registry;
use super::service::XmlRpcService;
use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::value::Value;

impl Registry {
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
            "system.multicall" => self.multicall(params),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(values: &[i32]) -> Vec<Value> {
        values.iter().map(|&v| Value::Int(v)).collect()
    }

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
