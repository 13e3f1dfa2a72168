//! The HTTP request-head parser: never panics; what it accepts has a clean
//! request line; parsing is deterministic; and where the server accepts a
//! head, the framing and the parser agree on where it ends.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(
        medusa::fuzzing::head_framing_agrees(data),
        "framing and parser disagree"
    );
    let first = medusa::fuzzing::http_head(data);
    assert_eq!(first, medusa::fuzzing::http_head(data), "deterministic");
    match first {
        Ok(line) => {
            assert!(
                !line.contains(['\r', '\n']),
                "request line {line:?} carries CR/LF"
            );
            let mut parts = line.split(' ');
            let method = parts.next().unwrap_or("");
            assert!(
                !method.is_empty() && method.bytes().all(|b| b.is_ascii_graphic()),
                "method {method:?}"
            );
        }
        Err(status) => assert!((400..=505).contains(&status), "refusal status {status}"),
    }
});
