//! The demo XML-RPC service medusad answers at `/RPC2`.

use medusa::xmlrpc::{Fault, Registry, Value};

/// The demo service: `add` and `echo`, plus the registry's `system.*`.
pub fn demo_service() -> Registry {
    let mut registry = Registry::new();
    registry
        .register_raw("add", |params| match params.as_slice() {
            [a, b] => add(a, b),
            _ => Err(Fault::invalid_params(format!("add takes 2 parameters, got {}", params.len()))),
        })
        .help("Adds two numbers: ints give an int (an i8 if it does not fit in 32 bits), doubles a double.")
        .signature(&["int", "int", "int"])
        .signature(&["double", "double", "double"]);
    registry
        .register("echo", |value: Value| value)
        .help("Returns its argument unchanged, whatever its type.");
    registry
}

fn add(a: &Value, b: &Value) -> Result<Value, Fault> {
    let integer = |v: &Value| match v {
        Value::Int(i) => Some(i64::from(*i)),
        Value::I8(i) => Some(*i),
        _ => None,
    };
    let double = |v: &Value| match v {
        Value::Double(d) => Some(*d),
        other => integer(other).map(|i| i as f64),
    };
    if let (Some(x), Some(y)) = (integer(a), integer(b)) {
        let sum = x
            .checked_add(y)
            .ok_or_else(|| Fault::application_error("integer overflow"))?;
        return Ok(i32::try_from(sum).map_or(Value::I8(sum), Value::Int));
    }
    match (double(a), double(b)) {
        (Some(x), Some(y)) => Ok(Value::Double(x + y)),
        _ => Err(Fault::invalid_params(format!(
            "add takes numbers, got {} and {}",
            a.type_name(),
            b.type_name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_add_handles_ints_doubles_and_overflow() {
        assert_eq!(add(&Value::Int(40), &Value::Int(2)), Ok(Value::Int(42)));
        assert_eq!(
            add(&Value::Int(i32::MAX), &Value::Int(1)),
            Ok(Value::I8(i64::from(i32::MAX) + 1))
        );
        assert_eq!(
            add(&Value::Double(0.5), &Value::Int(2)),
            Ok(Value::Double(2.5))
        );
        assert_eq!(
            add(&Value::I8(i64::MAX), &Value::Int(1)).unwrap_err().code,
            Fault::APPLICATION_ERROR
        );
        assert_eq!(
            add(&Value::from("x"), &Value::Int(1)).unwrap_err().code,
            Fault::INVALID_PARAMS
        );
    }
}
