//! A whole HttpChannel with the XML-RPC handler installed, over loopback:
//! arbitrary bytes in arbitrary splits never crash the server, and the
//! split never changes what it answers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() || data.len() > 16 * 1024 {
        return;
    }
    // The first byte picks where to cut; the rest is the stream.
    let cut = data[0] as usize;
    let stream = &data[1..];
    let whole = medusa::fuzzing::http_exchange(&[stream]);
    let at = cut * stream.len() / 256;
    let (a, b) = stream.split_at(at);
    let split = medusa::fuzzing::http_exchange(&[a, b]);
    assert_eq!(
        String::from_utf8_lossy(&whole),
        String::from_utf8_lossy(&split),
        "splitting at {at} changed the answer"
    );
});
