//! `--unix PATH`: a Unix-domain socket to serve on, as supervisord's
//! `[unix_http_server]` is: a stale file from a dead process is replaced,
//! a live server's is left alone, and the file goes when we exit cleanly.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// A socket file this process bound; dropping it removes the file if it is
/// still the one we made (not one a newer process has put there since).
#[derive(Debug)]
pub struct UnixSocket {
    path: PathBuf,
    /// Device, inode and change time: an inode number alone is reused
    /// as soon as the file is gone.
    identity: (u64, u64, i64, i64),
}

impl UnixSocket {
    /// Binds `path` with permissions `mode` (and `owner`, `(uid, gid)`),
    /// replacing a stale socket file. Errors read `cannot listen on
    /// unix:PATH: REASON`, as the library's do for TCP.
    pub fn bind(
        path: &Path,
        mode: u32,
        owner: Option<(u32, Option<u32>)>,
    ) -> io::Result<(UnixSocket, UnixListener)> {
        // Worded as the library words a TCP port's error.
        let place = format!("unix:{}", path.display());
        let named = |e: io::Error| medusa::reactor::cannot_listen(&place, &e);
        remove_if_stale(path).map_err(named)?;
        let listener = UnixListener::bind(path).map_err(named)?;
        // Bound first, then opened up: between the two the file has the
        // umask's permissions, never wider than asked.
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(named)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(path, Some(uid), gid).map_err(named)?;
        }
        let meta = fs::metadata(path).map_err(named)?;
        let socket = UnixSocket {
            path: path.to_path_buf(),
            identity: identity(&meta),
        };
        Ok((socket, listener))
    }
}

impl UnixSocket {
    /// Lets go of the file without removing it (another process serves
    /// it now: an upgrade's new master).
    pub fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        let ours = fs::symlink_metadata(&self.path).is_ok_and(|m| identity(&m) == self.identity);
        if ours {
            if let Err(e) = fs::remove_file(&self.path) {
                log::warn!("removing {}: {e}", self.path.display());
            }
        }
    }
}

fn identity(meta: &fs::Metadata) -> (u64, u64, i64, i64) {
    (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec())
}

/// A socket file nobody listens on (its server died) is removed; a live
/// one, or anything that is not a socket, is an error: never delete what
/// might be someone else's.
fn remove_if_stale(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "exists and is not a socket; not replacing it",
        ));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "a server is listening there already",
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            log::info!("replacing the stale socket {}", path.display());
            fs::remove_file(path)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("medusad-unix-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_stale_socket_is_replaced_a_live_one_and_a_file_are_not() {
        let dir = temp_dir("stale");
        let path = dir.join("s.sock");
        // Stale: bound, then the listener closed (its process "died").
        drop(UnixListener::bind(&path).unwrap());
        let (socket, listener) = UnixSocket::bind(&path, 0o600, None).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Live: refused, and the live socket is untouched.
        let err = UnixSocket::bind(&path, 0o600, None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        assert!(err.to_string().contains("s.sock"), "{err}");
        UnixStream::connect(&path).expect("still listening");
        drop(listener);
        drop(socket);
        assert!(!path.exists(), "removed on drop");
        // Not a socket: never removed.
        fs::write(&path, "data").unwrap();
        let err = UnixSocket::bind(&path, 0o600, None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "data");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_socket_replaced_by_another_process_is_not_removed() {
        let dir = temp_dir("replaced");
        let path = dir.join("s.sock");
        let (socket, listener) = UnixSocket::bind(&path, 0o600, None).unwrap();
        drop(listener);
        fs::remove_file(&path).unwrap();
        let newer = UnixListener::bind(&path).unwrap();
        drop(socket);
        assert!(path.exists(), "the newer socket stays");
        drop(newer);
        fs::remove_dir_all(&dir).unwrap();
    }
}
