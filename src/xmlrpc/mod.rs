//! XML-RPC, in three layers: the codec of Python's `xmlrpclib` (today
//! `xmlrpc.client`: `dumps`, `loads`, `Fault`, `DateTime`, `Binary`), the
//! server side (Medusa's `xmlrpc_handler`, `SimpleXMLRPCServer`'s registry)
//! in `server/`, and the clients (`ServerProxy`, and one on the reactor) in
//! `client/`.
//!
//! XML-RPC is a remote procedure call carried in an HTTP POST: the body is a
//! `<methodCall>` naming a method and listing its parameters, the answer a
//! `<methodResponse>` holding one value or a `<fault>`. A value is one of
//! eight types (int, boolean, string, double, dateTime.iso8601, base64,
//! struct, array), plus the common extensions `<nil/>` and `<i8>`.
//!
//! The codec, the files at the top of this folder, uses nothing else in
//! the crate; `server/` uses the codec, [`http`](crate::http) and (for
//! the pipes of program-backed methods) [`reactor`](crate::reactor);
//! `client/` uses the codec, [`http`](crate::http)'s message codec,
//! [`chat`](crate::chat) and [`reactor`](crate::reactor). Every
//! public item is re-exported here: `medusa::xmlrpc::Client` is its name.
//!
//! | item | ports | file |
//! | --- | --- | --- |
//! | [`Value`], [`Bytes`], [`ValueError`] | the Python objects `dumps` takes, `Binary` | `value/` |
//! | [`DateTime`] | `DateTime` | `datetime/` |
//! | [`Fault`] | `Fault` | `fault.rs` |
//! | [`decode_call`], [`decode_response`], [`DecodeLimits`] | `loads` | `decode/` |
//! | [`encode_call`], [`encode_response`], [`encode_fault`], [`EncodeOptions`] | `dumps` | `encode/` |
//! | [`to_value`], [`from_value`] | (serde bridge, no Python counterpart) | `ser/`, `de/` |
//! | [`to_json`], [`from_json`], [`JsonError`] (also as [`json`]`::…`) | (none: JSON ⇄ XML-RPC values, for program-backed methods) | `json.rs` |
//! | [`XmlRpcService`], [`CallContext`], [`Reply`], [`XmlRpcResponder`] | `xmlrpc_handler.call` | `server/service.rs` |
//! | [`Registry`], [`MethodDoc`] | `SimpleXMLRPCServer.register_function`, `system.*` | `server/registry.rs`, `server/system.rs` |
//! | [`Method`], [`IntoReply`] | (the typed side of `register_function`) | `server/method.rs` |
//! | [`WorkerPool`] | (Medusa: none, a slow method stalls the loop) | `server/workers.rs` |
//! | [`ProgramMethod`] | (none: a method run as a program, JSON on its stdin and stdout) | `server/program/` |
//! | [`Client`], [`Transport`], [`dumps`], [`loads`] | `ServerProxy`, `Transport`, `dumps`, `loads` | `client/blocking.rs` |
//! | [`AsyncClient`], [`AsyncClientConfig`] | (none: `xmlrpclib` only blocks) | `client/async_client/` |
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
//!   every failure with fault code 1). See `decode/mod.rs` for which code means
//!   what.
//! - Hostile input is bounded ([`DecodeLimits`]): document size, nesting
//!   depth, no DTD or entity processing at all.
//! - `<nil/>` and `<i8>` are on by default ([`EncodeOptions`]); Python needs
//!   `allow_none=True` for the former.
//! - Strict in what we send: no exponent in doubles, no NaN, no characters
//!   XML cannot carry, checked method names (see `encode/mod.rs`).

mod client;
mod datetime;
mod de;
mod decode;
mod encode;
mod fault;
pub mod json;
mod ser;
mod server;
mod value;
mod xml_text;

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
pub use json::{from_json, to_json, JsonError};
pub use ser::to_value;
pub use value::{Bytes, Value, ValueError};

pub(crate) use server::answering::{Answering, Counters};
pub use server::method::{Fallible, IntoReply, Method, Plain};
pub use server::program::ProgramMethod;
pub use server::registry::{MethodDoc, Registry};
pub use server::remote::{Remote, RemoteConfig};
pub use server::service::{CallContext, MethodInfo, Reply, XmlRpcResponder, XmlRpcService};
pub(crate) use server::system::{introspect, INTROSPECTION};
pub use server::workers::{Busy, WorkerPool};

pub use client::async_client::{AsyncClient, AsyncClientConfig, CallResult};
pub use client::blocking::{dumps, loads, Client, Transport};
pub use client::error::ClientError;
pub use client::tls::TlsConfig;
