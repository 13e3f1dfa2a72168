//! A typed Rust function as an XML-RPC method: [`Method`] converts the
//! parameters (a mismatch is -32602), [`IntoReply`] the result or fault.
//! Python's `register_function` needs neither: its functions take what
//! arrives.

use std::any::Any;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::signature::{param_type, result_type};
use crate::xmlrpc::de::from_value;
use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::ser::to_value;
use crate::xmlrpc::value::Value;

/// What a registered function may return: anything `Serialize` (marker
/// [`Plain`]), or `Result<T, Fault>` (marker [`Fallible`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an XML-RPC method's result",
    label = "the method returns this",
    note = "return a type that implements serde's `Serialize` (i32, String, Vec<T>, Value, a #[derive(Serialize)] struct...), or `Result<T, Fault>` to send a fault"
)]
pub trait IntoReply<Marker> {
    /// The value to send, or the fault.
    fn into_reply(self) -> Result<Value, Fault>;

    /// The XML-RPC type every value of this type is sent as, if that is
    /// fixed by the type (see `signature.rs` for which are); a fault's
    /// type is not part of a signature.
    fn reply_type() -> Option<&'static str>
    where
        Self: Sized + 'static,
    {
        None
    }
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

    fn reply_type() -> Option<&'static str>
    where
        T: 'static,
    {
        result_type::<T>()
    }
}

impl<T: Serialize> IntoReply<Fallible> for Result<T, Fault> {
    fn into_reply(self) -> Result<Value, Fault> {
        self.and_then(|value| value.into_reply())
    }

    fn reply_type() -> Option<&'static str>
    where
        Self: 'static,
    {
        result_type::<T>()
    }
}

/// A function the registry can call with a parameter list: implemented for
/// closures and functions of up to twelve parameters whose types are
/// `DeserializeOwned` and whose result is [`IntoReply`].
///
/// Twelve, as std stops at for tuples: an API with more positional
/// parameters is better served by one struct parameter (an XML-RPC
/// struct, `#[derive(Deserialize)]`), or by `register_raw`, which takes any
/// number.
#[diagnostic::on_unimplemented(
    message = "this closure cannot be registered as an XML-RPC method",
    label = "not a method the registry can call",
    note = "a method takes at most 12 parameters, each a type that implements serde's `DeserializeOwned` (i32, f64, String, Vec<T>, Option<T>, Value, a #[derive(Deserialize)] struct...), and returns something `Serialize` or `Result<T, Fault>`",
    note = "annotate the closure's parameter types (`|a: i32, b: i32| ...`); for any number of untyped parameters use `register_raw`"
)]
pub trait Method<Args, Marker> {
    /// Converts the parameters, calls, converts the result.
    fn invoke(&mut self, params: Vec<Value>) -> Result<Value, Fault>;

    /// The signature inferred from the types, result first, if every one
    /// of them is known (`signature.rs` says how, and which are).
    fn signature(&self) -> Option<Vec<&'static str>> {
        None
    }
}

/// `value` itself as a `T` when `U` is `T`, else `value` back: how a
/// `Value` argument or result skips serde, which would take it apart and
/// build it again (copying every string; an `echo` of 100 structs rebuilt
/// every map).
fn same_type<T: 'static, U: 'static>(value: U) -> Result<T, U> {
    let mut slot = Some(value);
    let taken = (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<T>>()
        .and_then(Option::take);
    match (taken, slot) {
        (Some(same), _) => Ok(same),
        (None, Some(value)) => Err(value),
        // `slot` is emptied only by the take that fills `taken`.
        (None, None) => unreachable!("a value taken is returned"),
    }
}

/// A method's result as the value to send; a `Value` (or `Result<Value,
/// Fault>`) as it is.
fn reply<M, R: IntoReply<M> + 'static>(result: R) -> Result<Value, Fault> {
    let result = match same_type::<Value, R>(result) {
        Ok(value) => return Ok(value),
        Err(result) => result,
    };
    match same_type::<Result<Value, Fault>, R>(result) {
        Ok(result) => result,
        Err(result) => result.into_reply(),
    }
}

/// One parameter, converted; a mismatch is -32602 naming its position. A
/// `Value` parameter is handed over as it is (see `same_type`).
fn param<T: DeserializeOwned + 'static>(
    params: &mut std::vec::IntoIter<Value>,
    index: usize,
) -> Result<T, Fault> {
    let value = params
        .next()
        .ok_or_else(|| Fault::invalid_params(format!("missing parameter {}", index + 1)))?;
    let value = match same_type::<T, Value>(value) {
        Ok(same) => return Ok(same),
        Err(value) => value,
    };
    let type_name = value.type_name();
    from_value(value)
        .map_err(|e| Fault::invalid_params(format!("parameter {} ({type_name}): {e}", index + 1)))
}

macro_rules! impl_method {
    ($count:expr $(, $arg:ident)*) => {
        impl<F, R, M, $($arg,)*> Method<($($arg,)*), (M, PhantomData<R>)> for F
        where
            F: FnMut($($arg),*) -> R,
            // 'static: to name the result type by its TypeId. A closure
            // the registry keeps is 'static, and so its result type.
            R: IntoReply<M> + 'static,
            $($arg: DeserializeOwned + 'static,)*
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
                reply(self($($arg),*))
            }

            fn signature(&self) -> Option<Vec<&'static str>> {
                Some(vec![R::reply_type()?, $(param_type::<$arg>()?,)*])
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
impl_method!(7, A1, A2, A3, A4, A5, A6, A7);
impl_method!(8, A1, A2, A3, A4, A5, A6, A7, A8);
impl_method!(9, A1, A2, A3, A4, A5, A6, A7, A8, A9);
impl_method!(10, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10);
impl_method!(11, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11);
impl_method!(12, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12);

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;
    use crate::xmlrpc::server::registry::Registry;
    use crate::xmlrpc::server::service::XmlRpcService;

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
    fn a_value_returned_is_handed_over_not_copied() {
        let mut r = Registry::new();
        r.register("echo", |value: Value| value);
        r.register("checked", |value: Value| -> Result<Value, Fault> {
            Ok(value)
        });
        for method in ["echo", "checked"] {
            let text = "x".repeat(1 << 16);
            let at = text.as_ptr();
            match r.call(method, vec![Value::String(text)]) {
                // The very buffer that came in: no copy on the way out.
                Ok(Value::String(out)) => assert_eq!(out.as_ptr(), at, "{method}"),
                other => panic!("{method}: {other:?}"),
            }
        }
    }

    #[test]
    fn twelve_parameters() {
        let mut r = Registry::new();
        r.register(
            "sum12",
            |a: i32,
             b: i32,
             c: i32,
             d: i32,
             e: i32,
             f: i32,
             g: i32,
             h: i32,
             i: i32,
             j: i32,
             k: i32,
             l: i32| { a + b + c + d + e + f + g + h + i + j + k + l },
        );
        let params = ints(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        assert_eq!(r.call("sum12", params), Ok(Value::Int(78)));
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
}
