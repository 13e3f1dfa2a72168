//! What the reactor leaves in the kernel's epoll set. In its own test
//! binary (its own process) so that no other test's reactor adds to the
//! epoll sets it counts.
//!
//! Channels are not deregistered before they are dropped on Linux
//! (`Dispatcher::closes_source_on_drop`): closing the socket is meant to
//! remove it from epoll. This checks the kernel's own list
//! (`/proc/self/fdinfo/EPFD`, one `tfd:` line per registered descriptor)
//! returns to its size before the connections, rather than trusting it.
#![cfg(target_os = "linux")]

mod util;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use medusa::chat::EchoHandler;
use util::TestServer;

/// Registered descriptors, summed over the process's epoll instances
/// (mio keeps a duplicate descriptor of its instance: counted once, by
/// the instance's inode).
fn registered() -> usize {
    let mut seen = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let target = std::fs::read_link(entry.path()).unwrap_or_default();
        if target.to_string_lossy() != "anon_inode:[eventpoll]" {
            continue;
        }
        let info = std::path::Path::new("/proc/self/fdinfo").join(entry.file_name());
        let info = std::fs::read_to_string(info).unwrap_or_default();
        let inode = info
            .lines()
            .find(|l| l.starts_with("ino:"))
            .unwrap_or_default()
            .to_string();
        let count = info.lines().filter(|l| l.starts_with("tfd:")).count();
        seen.insert(inode, count);
    }
    seen.values().sum()
}

#[test]
fn closed_channels_leave_the_epoll_set() {
    let server = TestServer::chat(|| EchoHandler);
    let baseline = registered();
    let mut clients = Vec::new();
    for i in 0..50 {
        let mut client = util::connect(server.addr);
        let line = format!("hello {i}\r\n");
        client.write_all(line.as_bytes()).unwrap();
        let mut got = vec![0; line.len()];
        client.read_exact(&mut got).unwrap();
        assert_eq!(got, line.as_bytes());
        clients.push(client);
    }
    assert_eq!(
        registered(),
        baseline + 50,
        "each open channel is registered"
    );
    // The clients close; the server sees EOF and drops each channel.
    drop(clients);
    let deadline = Instant::now() + Duration::from_secs(10);
    while registered() != baseline {
        assert!(
            Instant::now() < deadline,
            "{} descriptors still registered, {baseline} expected",
            registered()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    server.stop().unwrap();
}
