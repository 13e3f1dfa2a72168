//! The echo service over real sockets.

mod util;

use medusa::chat::EchoHandler;
use util::*;

/// A single client gets back exactly what it sent, and the server closes
/// after the client's end of input.
#[test]
fn echo_round_trip_and_close_after_eof() {
    let server = TestServer::chat(|| EchoHandler);
    let mut client = connect(server.addr);
    send(&mut client, b"hello, medusa\n");
    assert_eq!(read_exact(&mut client, 14), b"hello, medusa\n");
    client.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut client), b"");
}
