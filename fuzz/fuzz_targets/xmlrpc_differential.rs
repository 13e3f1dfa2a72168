//! The fast XML reader against xml-rs: whatever the fast reader decodes,
//! xml-rs decodes to the same call or response, and the public decoders
//! answer exactly as xml-rs alone does (faults included). See
//! src/xmlrpc/decode/fast.rs for why that is the whole correctness claim.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medusa::xmlrpc::{
    decode_call, decode_call_fast_only, decode_call_reference, decode_response,
    decode_response_fast_only, decode_response_reference, DecodeLimits,
};

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits::default();
    let reference = decode_call_reference(data, &limits);
    if let Some(fast) = decode_call_fast_only(data, &limits) {
        assert_eq!(Ok(fast), reference, "fast call reader disagrees");
    }
    assert_eq!(decode_call(data, &limits), reference);
    let reference = decode_response_reference(data, &limits);
    if let Some(fast) = decode_response_fast_only(data, &limits) {
        assert_eq!(Ok(fast), reference, "fast response reader disagrees");
    }
    assert_eq!(decode_response(data, &limits), reference);
});
