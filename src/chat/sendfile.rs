//! `sendfile(2)`: file to socket inside the kernel, for producers that
//! offer a [`FileRegion`] (zero copy; what nginx's `sendfile on` does).

use std::io;
#[cfg(target_os = "linux")]
use std::os::fd::AsRawFd;

use crate::reactor::Stream;

use crate::producers::FileRegion;

/// Whether this platform's `sendfile` is used. Elsewhere (its signature
/// differs across systems) regions are read with `more()` instead.
pub(super) const SUPPORTED: bool = cfg!(target_os = "linux");

/// Most bytes asked of one call; the kernel sends what the socket buffer
/// takes and says how much.
#[cfg(target_os = "linux")]
const MAX_PER_CALL: u64 = 1 << 20;

/// Sends the start of `region` to `socket`; returns how many bytes went.
#[cfg(target_os = "linux")]
pub(super) fn send_region(socket: &Stream, region: &FileRegion<'_>) -> io::Result<usize> {
    let mut offset = libc::off_t::try_from(region.offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
    let count = region.len.min(MAX_PER_CALL) as usize;
    // SAFETY: both descriptors stay open for the whole call (borrowed from
    // a live Stream and File), and `offset` is a valid off_t on our
    // stack that only this call writes to.
    let sent = unsafe {
        libc::sendfile(
            socket.as_raw_fd(),
            region.file.as_raw_fd(),
            &mut offset,
            count,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sent as usize)
}

#[cfg(not(target_os = "linux"))]
pub(super) fn send_region(_socket: &Stream, _region: &FileRegion<'_>) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}
