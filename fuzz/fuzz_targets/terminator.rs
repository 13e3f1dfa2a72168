//! The chat terminator scanner: however a stream is split into reads, the
//! messages found are the same as when it arrives whole, and putting the
//! messages back together with the terminator gives the stream again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let terminator_len = 1 + (data[0] as usize % 4);
    let split = data[1] as usize;
    let rest = &data[2..];
    if rest.len() < terminator_len {
        return;
    }
    let (terminator, stream) = rest.split_at(terminator_len);
    let whole = medusa::fuzzing::split_messages(&[stream], terminator);
    let at = split % (stream.len() + 1);
    let (a, b) = stream.split_at(at);
    let split_result = medusa::fuzzing::split_messages(&[a, b], terminator);
    assert_eq!(whole, split_result, "split at {at} changed the messages");
    let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(
        whole,
        medusa::fuzzing::split_messages(&bytewise, terminator),
        "byte-by-byte"
    );
    let (messages, tail) = whole;
    let mut rebuilt = Vec::new();
    for m in &messages {
        rebuilt.extend_from_slice(m);
        rebuilt.extend_from_slice(terminator);
    }
    rebuilt.extend_from_slice(&tail);
    assert_eq!(
        rebuilt, stream,
        "messages + terminators reproduce the stream"
    );
});
