//! What the codec benches share: their documents, built and checked the
//! same way in `codec.rs` and `codec_peers.rs`.

use medusa::xmlrpc::{
    decode_call, decode_call_fast_only, encode_call, DecodeLimits, EncodeOptions, Value,
};

/// `shared/bench/add_body.xml`, the body `post_add.lua` posts (trailing
/// newline included).
pub const ADD_BODY: &[u8] = b"<?xml version=\"1.0\"?>\n<methodCall><methodName>add</methodName>\
<params><param><value><int>40</int></value></param><param><value><int>2</int></value></param>\
</params></methodCall>\n";

/// One benchmark document: a call, decoded and encoded, and its answer.
pub struct Case {
    pub name: &'static str,
    /// The request body as a client sends it.
    pub body: Vec<u8>,
    pub method: String,
    pub params: Vec<Value>,
    /// What the server answers.
    pub result: Value,
}

impl Case {
    /// The load test's `add(40, 2)`, byte for byte, answered 42.
    pub fn add() -> Case {
        let add = decode_call(ADD_BODY, &DecodeLimits::default()).expect("add body decodes");
        Case {
            name: "add",
            body: ADD_BODY.to_vec(),
            method: add.method,
            params: add.params,
            result: Value::Int(42),
        }
    }

    /// `name(params)` as a client encodes it, answered `result`.
    pub fn call(name: &'static str, method: &str, params: Vec<Value>, result: Value) -> Case {
        Case {
            name,
            body: encode_call(method, &params, &EncodeOptions::default()).unwrap(),
            method: method.to_string(),
            params,
            result,
        }
    }

    /// `echo(value)`, answered with the value.
    pub fn echo(name: &'static str, value: Value) -> Case {
        Case::call(name, "echo", vec![value.clone()], value)
    }

    /// The document is what it claims, and the fast reader takes it (the
    /// server's path), before it is timed.
    pub fn check(&self, limits: &DecodeLimits) {
        let decoded = decode_call(&self.body, limits).expect("benchmark body decodes");
        assert_eq!(decoded.method, self.method);
        assert_eq!(decoded.params, self.params);
        assert!(
            decode_call_fast_only(&self.body, limits).is_some(),
            "{} takes the fast reader",
            self.name
        );
    }
}
