//! The gzip request path of the XML-RPC handler: arbitrary bytes labelled
//! gzip never panic and get 200 (a fault or a result), 400 or 413; and a
//! body sent gzipped gets exactly the answer it gets sent plain.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (status, _, _) = medusa::fuzzing::xmlrpc_post(data, Some("gzip"), false);
    assert!(
        [200, 400, 413].contains(&status),
        "status {status} for a gzip-labelled body"
    );

    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("in memory");
    let compressed = encoder.finish().expect("in memory");
    let plain = medusa::fuzzing::xmlrpc_post(data, None, false);
    let zipped = medusa::fuzzing::xmlrpc_post(&compressed, Some("gzip"), false);
    assert_eq!(plain, zipped, "gzip changed the answer");
});
