//! XML-RPC: the codec part of Python's `xmlrpclib` (today
//! `xmlrpc.client`): `dumps`, `loads`, `Fault`, `DateTime`, `Binary`.
//!
//! XML-RPC is a remote procedure call carried in an HTTP POST: the body is a
//! `<methodCall>` naming a method and listing its parameters, the answer a
//! `<methodResponse>` holding one value or a `<fault>`. A value is one of
//! eight types (int, boolean, string, double, dateTime.iso8601, base64,
//! struct, array), plus the common extensions `<nil/>` and `<i8>`.
//!
//! | item | ports | file |
//! | --- | --- | --- |
//! | [`Value`], [`Bytes`], [`ValueError`] | the Python objects `dumps` takes, `Binary` | `value.rs` |
//! | [`DateTime`] | `DateTime` | `datetime.rs` |
//! | [`Fault`] | `Fault` | `fault.rs` |
//! | [`decode_call`], [`decode_response`], [`DecodeLimits`] | `loads` | `decode.rs` |
//! | [`encode_call`], [`encode_response`], [`encode_fault`], [`EncodeOptions`] | `dumps` | `encode.rs` |
//! | [`to_value`], [`from_value`] | (serde bridge, no Python counterpart) | `ser.rs`, `de.rs` |
//!
//! ```
//! use medusa::xmlrpc::{decode_call, encode_response, DecodeLimits, EncodeOptions, Value};
//!
//! let request = b"<?xml version='1.0'?><methodCall><methodName>add</methodName><params>\
//!     <param><value><int>40</int></value></param>\
//!     <param><value><int>2</int></value></param></params></methodCall>";
//! let call = decode_call(request, &DecodeLimits::default()).unwrap();
//! assert_eq!(call.to_string(), "add(40, 2)");
//! let sum: i32 = call.params.into_iter().map(|v| i32::try_from(v).unwrap()).sum();
//! let body = encode_response(&Value::from(sum), &EncodeOptions::default()).unwrap();
//! assert!(body.ends_with(b"<value><int>42</int></value></param></params></methodResponse>"));
//! ```
//!
//! # Differences from Python
//!
//! - Decoding and encoding are separate functions per document kind, and
//!   return errors instead of raising: a document that cannot be decoded is
//!   a [`Fault`] with a code from the fault code interoperability spec
//!   (Python raises `ExpatError` or `ResponseError`, and Medusa answered
//!   every failure with fault code 1). See `decode.rs` for which code means
//!   what.
//! - Hostile input is bounded ([`DecodeLimits`]): document size, nesting
//!   depth, no DTD or entity processing at all.
//! - `<nil/>` and `<i8>` are on by default ([`EncodeOptions`]); Python needs
//!   `allow_none=True` for the former.
//! - Strict in what we send: no exponent in doubles, no NaN, no characters
//!   XML cannot carry, checked method names (see `encode.rs`).

mod answering;
mod async_client;
mod client;
mod datetime;
mod de;
mod decode;
mod encode;
mod fault;
mod registry;
mod ser;
mod service;
mod url;
mod value;
mod workers;

pub use datetime::DateTime;
pub use de::from_value;
pub use decode::{decode_call, decode_response, DecodeLimits, MethodCall, EXTENSIONS_NAMESPACE};
#[doc(hidden)]
pub use decode::{
    decode_call_fast_only, decode_call_reference, decode_response_fast_only,
    decode_response_reference,
};
pub use encode::{encode_call, encode_fault, encode_response, EncodeError, EncodeOptions};
pub use fault::Fault;
pub use ser::to_value;
pub use value::{Bytes, Value, ValueError};

pub(crate) use answering::{Answering, Counters};
pub use async_client::{AsyncClient, AsyncClientConfig, CallResult};
pub use client::{dumps, loads, Client, ClientError, Transport};
pub use registry::{Fallible, IntoReply, Method, MethodDoc, Plain, Registry};
pub use service::{CallContext, MethodInfo, Reply, XmlRpcResponder, XmlRpcService};
pub use workers::{Busy, WorkerPool};
