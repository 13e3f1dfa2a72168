//! The methodCall decoder: never panics; whatever decodes re-encodes and
//! decodes to the same call (encode ∘ decode is the identity on it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use medusa::xmlrpc::{decode_call, encode_call, DecodeLimits, EncodeOptions};

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits::default();
    let Ok(call) = decode_call(data, &limits) else {
        return;
    };
    let encoded = match encode_call(&call.method, &call.params, &EncodeOptions::default()) {
        Ok(bytes) => bytes,
        // A method name outside the spec's alphabet decodes but is not sent.
        Err(medusa::xmlrpc::EncodeError::InvalidMethodName(_)) => return,
        Err(e) => panic!("decoded call does not re-encode: {e}"),
    };
    let again = decode_call(&encoded, &limits).expect("re-encoded call decodes");
    assert_eq!(again, call);
});
