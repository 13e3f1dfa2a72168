//! Opening a file strictly inside a directory, checked by the kernel:
//! Linux's `openat2(2)` with `RESOLVE_BENEATH` fails (EXDEV) if resolving
//! the path would leave the directory, through `..` or any symbolic link.
//! One system call replaces canonicalizing the path (a `readlink` per
//! component) and opening it, and there is no window between checking a
//! path and opening it.
//!
//! `None` means "use the portable way": not Linux, a kernel older than
//! 5.6 (ENOSYS), a sandbox that forbids the call (EPERM), or a path that
//! goes through an absolute symbolic link (EXDEV even when it stays inside
//! the root, where canonicalizing would allow it).

use std::fs::File;
use std::path::Path;

/// What `open_beneath` concluded (elsewhere than Linux, always `Undecided`).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) enum Opened {
    File(File),
    /// No such file (or not allowed): answer 404.
    Missing,
    /// Let the portable path decide.
    Undecided,
}

/// Opens `relative` (no `..` segments, no NUL: already checked) read-only
/// beneath the directory `root`, with [`OPEN_FLAGS`](super::file::OPEN_FLAGS)
/// (non-blocking: a FIFO must not hold up the loop).
#[cfg(target_os = "linux")]
pub(crate) fn open_beneath(root: &File, relative: &Path) -> Opened {
    use std::ffi::CString;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::ffi::OsStrExt;

    /// The kernel's `struct open_how` (linux/openat2.h): three u64s.
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }

    let Ok(path) = CString::new(relative.as_os_str().as_bytes()) else {
        return Opened::Missing;
    };
    let how = OpenHow {
        flags: (libc::O_RDONLY | libc::O_CLOEXEC | super::file::OPEN_FLAGS) as u64,
        mode: 0,
        resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: openat2 reads a NUL-terminated path and an open_how of the
    // size we pass, both alive for the call; `root` is an open directory
    // descriptor. It returns a new descriptor or -1, nothing else.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd >= 0 {
        // SAFETY: a descriptor openat2 just returned, owned by no one else.
        return Opened::File(unsafe { File::from_raw_fd(fd as i32) });
    }
    match io::Error::last_os_error().raw_os_error() {
        // ENXIO: a unix socket, which cannot be opened (served as missing,
        // like every file that is neither regular nor a directory).
        Some(libc::ENOENT | libc::ENOTDIR | libc::ELOOP | libc::EACCES | libc::ENXIO) => {
            Opened::Missing
        }
        _ => Opened::Undecided,
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn open_beneath(_root: &File, _relative: &Path) -> Opened {
    Opened::Undecided
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn opens_inside_refuses_escapes_and_defers_absolute_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.txt"), "a").unwrap();
        std::fs::write(dir.path().join("outside.txt"), "secret").unwrap();
        symlink("sub/a.txt", root.join("inner-link")).unwrap();
        symlink("../outside.txt", root.join("escape-link")).unwrap();
        symlink(root.join("sub/a.txt"), root.join("absolute-link")).unwrap();
        let root_dir = File::open(&root).unwrap();
        let open = |p: &str| open_beneath(&root_dir, Path::new(p));

        let mut file = match open("sub/a.txt") {
            Opened::File(file) => file,
            Opened::Undecided => {
                // ENOSYS or EPERM: no openat2 here; the portable path is
                // what serves, and tests/handlers.rs covers it.
                eprintln!("SKIPPED: openat2 is not available on this kernel");
                return;
            }
            Opened::Missing => panic!("a plain file opens"),
        };
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text).unwrap();
        assert_eq!(text, "a");
        assert!(matches!(open("inner-link"), Opened::File(_)));
        assert!(matches!(open("."), Opened::File(_)), "the root itself");
        assert!(matches!(open("missing.txt"), Opened::Missing));
        assert!(matches!(open("sub/a.txt/x"), Opened::Missing));
        // Leaving the root, and absolute links: not for this function.
        for p in ["escape-link", "absolute-link", "../outside.txt"] {
            assert!(matches!(open(p), Opened::Undecided), "{p}");
        }
    }
}
