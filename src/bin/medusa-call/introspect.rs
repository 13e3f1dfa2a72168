//! What `medusa-call` asks of a server besides the call itself: its
//! methods (`--list`), one method's help and signatures (`--help METHOD`),
//! and the parameter of `system.multicall` (`--multicall`).

use std::collections::BTreeMap;
use std::process::ExitCode;

use medusa::xmlrpc::{Client, ClientError, Value};

use super::{json_arg, printable, Failure, FAULT};

/// `system.listMethods`, one name a line.
pub fn list(client: &mut Client) -> Result<ExitCode, Failure> {
    match client.call("system.listMethods", Vec::new()) {
        Ok(Value::Array(names)) => {
            for name in names {
                match name {
                    Value::String(name) => println!("{}", printable(&name)),
                    other => println!("{other:?}"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Ok(other) => Err(format!("system.listMethods answered {other:?}, not a list")),
        Err(e) => fault_or_failure(e),
    }
}

/// `system.methodSignature` and `system.methodHelp` for `method`:
/// `method(int, int) -> int` lines, then the help text.
pub fn describe(client: &mut Client, method: &str) -> Result<ExitCode, Failure> {
    let name = vec![Value::from(method)];
    let signatures = match client.call("system.methodSignature", name.clone()) {
        Ok(value) => value,
        Err(e) => return fault_or_failure(e),
    };
    let help = match client.call("system.methodHelp", name) {
        Ok(Value::String(help)) => help,
        Ok(_) => String::new(),
        Err(e) => return fault_or_failure(e),
    };
    match signatures {
        Value::Array(signatures) if !signatures.is_empty() => {
            for signature in signatures {
                let types: Vec<String> = match signature {
                    Value::Array(types) => types
                        .into_iter()
                        .map(|t| match t {
                            Value::String(t) => printable(&t),
                            other => format!("{other:?}"),
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                match types.split_first() {
                    Some((ret, args)) => {
                        println!("{}({}) -> {ret}", printable(method), args.join(", "))
                    }
                    None => println!("{}(?)", printable(method)),
                }
            }
        }
        // "undef", or an empty list: the server does not say.
        _ => println!("{}(...): no signature given", printable(method)),
    }
    if !help.is_empty() {
        // Line breaks are the help's own: keep them, escape the rest.
        let lines: Vec<String> = help.lines().map(printable).collect();
        println!("\n{}", lines.join("\n"));
    }
    Ok(ExitCode::SUCCESS)
}

/// `METHOD ARGS-ARRAY` pairs as `system.multicall`'s one parameter.
pub fn multicall_param(words: &[String]) -> Result<Value, Failure> {
    if words.len() % 2 != 0 {
        return Err(
            "--multicall takes METHOD ARGS-ARRAY pairs, e.g. add '[1, 2]' echo '[\"x\"]'"
                .to_string(),
        );
    }
    let mut calls = Vec::new();
    for (i, pair) in words.chunks(2).enumerate() {
        let params = match json_arg(i * 2 + 2, &pair[1])? {
            Value::Array(params) => params,
            _ => {
                return Err(format!(
                    "--multicall: the arguments of {} must be a JSON array, not {}",
                    pair[0], pair[1]
                ))
            }
        };
        let mut call = BTreeMap::new();
        call.insert("methodName".to_string(), Value::from(pair[0].as_str()));
        call.insert("params".to_string(), Value::Array(params));
        calls.push(Value::Struct(call));
    }
    Ok(Value::Array(calls))
}

/// A fault from introspection exits 1 like any fault; the rest is 2.
fn fault_or_failure(e: ClientError) -> Result<ExitCode, Failure> {
    match e {
        ClientError::Fault(fault) => {
            eprintln!("fault {}: {}", fault.code, printable(&fault.message));
            Ok(ExitCode::from(FAULT))
        }
        e => Err(e.to_string()),
    }
}
