//! The methodResponse decoder: never panics; a decoded value or fault
//! re-encodes and decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medusa::xmlrpc::{decode_response, encode_fault, encode_response, DecodeLimits, EncodeOptions};

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits::default();
    match decode_response(data, &limits) {
        Err(_) => {}
        Ok(Ok(value)) => {
            let encoded = encode_response(&value, &EncodeOptions::default())
                .expect("decoded value re-encodes");
            assert_eq!(decode_response(&encoded, &limits), Ok(Ok(value)));
        }
        Ok(Err(fault)) => {
            let encoded = encode_fault(&fault);
            assert_eq!(decode_response(&encoded, &limits), Ok(Err(fault)));
        }
    }
});
