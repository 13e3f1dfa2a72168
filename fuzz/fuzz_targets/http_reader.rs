//! The HTTP/1.1 message reader with no socket, for requests and for
//! responses, under small limits chosen by the input: the same messages and
//! the same refusal however the stream is split and whichever way it is
//! driven (`feed`, or terminators as a channel reads); no body over the
//! limit; `feed` never uses bytes it was not given; every body is the bytes
//! after its head (as sent or de-chunked); and httparse alone ends every
//! accepted request head at the same byte. The checks are in
//! `medusa::fuzzing::http_reader`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() > 16 * 1024 {
        return;
    }
    medusa::fuzzing::http_reader(data);
});
