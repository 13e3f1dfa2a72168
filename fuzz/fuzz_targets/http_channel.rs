//! A whole HttpChannel with the XML-RPC handler installed, over loopback:
//! arbitrary bytes in arbitrary splits never crash the server; however the
//! stream is split (whole, in two, in three), the handlers are asked about
//! the same requests and the answers are the same; and no handler is ever
//! offered a body over the limits, as sent or decoded (checked inside).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 || data.len() > 16 * 1024 {
        return;
    }
    // The first two bytes pick where to cut; the rest is the stream.
    let stream = &data[2..];
    let cut = |byte: u8| byte as usize * stream.len() / 256;
    let (first, second) = {
        let (a, b) = (cut(data[0]), cut(data[1]));
        (a.min(b), a.max(b))
    };
    let whole = medusa::fuzzing::http_exchange(&[stream]);
    let (a, rest) = stream.split_at(first);
    let two = medusa::fuzzing::http_exchange(&[a, rest]);
    let (b, c) = rest.split_at(second - first);
    let three = medusa::fuzzing::http_exchange(&[a, b, c]);
    for (split, name) in [(&two, "two"), (&three, "three")] {
        assert_eq!(
            whole.1, split.1,
            "the {name}-piece split ({first}, {second}) changed the requests"
        );
        assert_eq!(
            String::from_utf8_lossy(&whole.0),
            String::from_utf8_lossy(&split.0),
            "the {name}-piece split ({first}, {second}) changed the answer"
        );
    }
});
