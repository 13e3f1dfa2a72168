//! The file handler: Medusa's `default_handler`, serving a document root.
//!
//! GET and HEAD; `Content-Type` by extension; `Last-Modified` and
//! `If-Modified-Since` (304); `index.html` for directories, else a listing
//! of the directory (`listing.rs`; [`FileHandler::without_listings`] turns
//! it off), and a redirect from `/dir` to `/dir/`. Only regular files and directories are served;
//! a FIFO, socket or device is a 404 (see [`OPEN_FLAGS`] for why opening
//! one cannot block the loop). A small file is read whole and leaves with its
//! head in one write; a larger one is sent by a `SendfileProducer`
//! (`sendfile(2)`, zero copy), so it is never held in memory.
//!
//! # Safety of paths
//!
//! No request may reach outside the root. The path is percent-decoded once;
//! a decoded `/` (`%2f`), a backslash, a NUL, or a `..` or `.` segment is
//! refused outright. What remains is joined to the root and canonicalized
//! (resolving symlinks), and the result must still lie inside the
//! canonical root: a symlink pointing out of the root is refused too.
//!
//! On Linux the same guarantee comes from the kernel in one system call:
//! the file is opened with `openat2(RESOLVE_BENEATH)` relative to the
//! root (see `beneath.rs`); only where that cannot decide is the path
//! canonicalized as above.

// Peer-controlled sizes and counts: arithmetic here must say what happens
// at the edges (checked, saturating), never wrap silently in release.
#![warn(clippy::arithmetic_side_effects)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::beneath::{open_beneath, Opened};
use crate::http::{percent_decode, Handler, HandlerStatus, Outcome, Request, Response, ServerView};
use crate::producers::SendfileProducer;

/// Block size for reading files where `sendfile` is not used.
const BLOCK: usize = 64 * 1024;

/// Added to every open under the root. `O_NONBLOCK`: opening a FIFO for
/// reading would otherwise block the loop until some process opens it for
/// writing (and a device's open may wait, for a carrier say); on regular
/// files and directories it changes nothing (open(2): "no effect for
/// regular files"), and only those are served. `O_NOCTTY`: a terminal
/// device must not become our controlling terminal.
pub(crate) const OPEN_FLAGS: i32 = libc::O_NONBLOCK | libc::O_NOCTTY;

/// Files up to this size are read into the response: one read, and the
/// head and body leave in one write. Larger ones go by `sendfile`.
const SMALL_FILE: u64 = 32 * 1024;

/// Medusa's `default_handler`: serves files under `root`.
#[doc(alias = "default_handler")]
pub struct FileHandler {
    root: PathBuf,
    /// The root, open, for `openat2` (None if it could not be opened).
    root_dir: Option<File>,
    hits: u64,
    misses: u64,
    listings: bool,
}

impl FileHandler {
    /// Serves the directory `root`, which must exist.
    pub fn new(root: impl AsRef<Path>) -> io::Result<FileHandler> {
        let root = fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "document root is not a directory",
            ));
        }
        let root_dir = OpenOptions::new()
            .read(true)
            .custom_flags(OPEN_FLAGS | libc::O_DIRECTORY)
            .open(&root)
            .ok();
        Ok(FileHandler {
            root_dir,
            root,
            hits: 0,
            misses: 0,
            listings: true,
        })
    }

    /// Answers a directory without `index.html` with 404 instead of a
    /// listing of its files.
    pub fn without_listings(mut self) -> FileHandler {
        self.listings = false;
        self
    }

    fn serve(&self, request: &Request) -> Response {
        let (mut file, mut file_path, mut metadata) = match self.open(&request.path) {
            Ok(opened) => opened,
            Err(response) => return response,
        };
        if metadata.is_dir() {
            if !request.path.ends_with('/') {
                return redirect_to_directory(request);
            }
            (file, file_path, metadata) = match self.open(&format!("{}index.html", request.path)) {
                Ok(opened) => opened,
                Err(response) if response.status == 404 && self.listings => {
                    return self.list(request);
                }
                Err(response) => return response,
            };
        }
        // The type is the opened descriptor's (fstat), not a path's, so
        // it cannot change between the check and the read.
        if !metadata.is_file() {
            return Response::error(404, "no such file");
        }
        let modified = metadata.modified().ok();
        if let (Some(modified), Some(since)) = (modified, request.header("If-Modified-Since")) {
            if let Ok(since) = httpdate::parse_http_date(since) {
                if whole_seconds(modified) <= whole_seconds(since) {
                    return Response::new(304)
                        .with_header("Last-Modified", &httpdate::fmt_http_date(modified));
                }
            }
        }
        let len = metadata.len();
        let response = Response::new(200).with_header("Content-Type", &content_type(&file_path));
        let mut response = if len <= SMALL_FILE && request.method != "HEAD" {
            match read_small(file, len) {
                Ok(body) => response.with_body(body),
                Err(_) => return Response::error(500, "cannot read the file"),
            }
        } else {
            response.with_producer(SendfileProducer::new(file, len, BLOCK), Some(len))
        };
        if let Some(modified) = modified {
            response = response.with_header("Last-Modified", &httpdate::fmt_http_date(modified));
        }
        response
    }

    /// Opens what a request path names inside the root (the kernel-checked
    /// way first), with its metadata (`fstat` of the opened descriptor), or
    /// says why not. Never blocks on a FIFO or a device ([`OPEN_FLAGS`]);
    /// the caller serves only regular files and directories.
    fn open(&self, path: &str) -> Result<(File, PathBuf, fs::Metadata), Response> {
        let (file, path) = self.open_path(path)?;
        match file.metadata() {
            Ok(metadata) => Ok((file, path, metadata)),
            Err(_) => Err(Response::error(404, "no such file")),
        }
    }

    fn open_path(&self, path: &str) -> Result<(File, PathBuf), Response> {
        let relative = relative_path(path)?;
        if let Some(root_dir) = &self.root_dir {
            let target = if relative.as_os_str().is_empty() {
                Path::new(".")
            } else {
                relative.as_path()
            };
            match open_beneath(root_dir, target) {
                Opened::File(file) => return Ok((file, self.root.join(&relative))),
                Opened::Missing => return Err(Response::error(404, "no such file")),
                Opened::Undecided => {}
            }
        }
        let real = self.resolve(&relative)?;
        match OpenOptions::new()
            .read(true)
            .custom_flags(OPEN_FLAGS)
            .open(&real)
        {
            Ok(file) => Ok((file, real)),
            Err(_) => Err(Response::error(404, "no such file")),
        }
    }

    /// The listing of the directory `request` names. Its path is
    /// canonicalized and checked to lie under the root again (the portable
    /// check), so a listing never leaves the root either.
    fn list(&self, request: &Request) -> Response {
        let real = relative_path(&request.path).and_then(|relative| self.resolve(&relative));
        match real {
            Ok(dir) => super::listing::listing(&dir, request),
            Err(response) => response,
        }
    }

    /// The portable check: canonicalizes the path, which must stay inside
    /// the root.
    fn resolve(&self, relative: &Path) -> Result<PathBuf, Response> {
        match fs::canonicalize(self.root.join(relative)) {
            Ok(real) if real.starts_with(&self.root) => Ok(real),
            Ok(_) => Err(Response::error(403, "path leaves the document root")),
            Err(_) => Err(Response::error(404, "no such file")),
        }
    }
}

/// The request path as a relative path of checked segments (no `.`, `..`,
/// encoded `/`, backslash or NUL), or why it is refused.
fn relative_path(path: &str) -> Result<PathBuf, Response> {
    let decoded =
        percent_decode(path).ok_or_else(|| Response::error(400, "bad percent-encoding"))?;
    let Ok(decoded) = String::from_utf8(decoded) else {
        return Err(Response::error(404, "no such file"));
    };
    if decoded.contains(['\0', '\\']) {
        return Err(Response::error(400, "bad character in path"));
    }
    // Segments of the *encoded* path: an encoded slash must not become
    // a separator.
    let mut target = PathBuf::new();
    for raw in path.split('/').filter(|s| !s.is_empty()) {
        let segment = percent_decode(raw)
            .and_then(|s| String::from_utf8(s).ok())
            .unwrap_or_default();
        if segment.is_empty() || segment == "." || segment == ".." || segment.contains('/') {
            return Err(Response::error(403, "path not allowed"));
        }
        target.push(segment);
    }
    Ok(target)
}

/// Reads exactly the `len` bytes the `Content-Length` will promise (one
/// `read` in the common case; a file that shrank meanwhile is an error).
fn read_small(mut file: File, len: u64) -> io::Result<Vec<u8>> {
    let mut body = vec![0; len as usize];
    file.read_exact(&mut body)?;
    Ok(body)
}

impl Handler for FileHandler {
    /// Like Medusa's default handler, it takes every request; install it
    /// last (`add_handler`) so more specific handlers are asked first.
    fn matches(&self, _request: &Request) -> bool {
        true
    }

    fn handle_request(&mut self, request: &mut Request, _server: &ServerView<'_>) -> Outcome {
        if request.method != "GET" && request.method != "HEAD" {
            return Response::method_not_allowed(&["GET", "HEAD"]).into();
        }
        let response = self.serve(request);
        if response.status < 400 {
            self.hits = self.hits.wrapping_add(1);
        } else {
            self.misses = self.misses.wrapping_add(1);
        }
        response.into()
    }

    fn status(&self) -> HandlerStatus {
        HandlerStatus {
            name: format!("file handler ({})", self.root.display()),
            facts: vec![
                ("hits".to_string(), self.hits.to_string()),
                ("misses".to_string(), self.misses.to_string()),
            ],
        }
    }
}

/// `/dir` → `/dir/`, absolute when the request named its host (and port).
fn redirect_to_directory(request: &Request) -> Response {
    let mut location = match request.header("Host") {
        Some(host) if !host.is_empty() && !host.contains(['/', '\r', '\n']) => {
            format!("http://{host}{}/", request.path)
        }
        _ => format!("{}/", request.path),
    };
    if let Some(query) = &request.query {
        location.push('?');
        location.push_str(query);
    }
    Response::error(301, "moved to the directory's URL").with_header("Location", &location)
}

fn whole_seconds(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `Content-Type` by file extension, from `mime_guess`'s table; text
/// types say UTF-8 (what a browser should assume of files we serve);
/// unknown extensions are `application/octet-stream`.
pub fn content_type(path: &Path) -> String {
    let guessed = mime_guess::from_path(path).first_raw();
    match guessed {
        Some(text) if text.starts_with("text/") => format!("{text}; charset=utf-8"),
        Some(other) => other.to_string(),
        None => "application/octet-stream".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_by_extension() {
        assert_eq!(
            content_type(Path::new("a/index.HTML")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("x.png")), "image/png");
        assert_eq!(
            content_type(Path::new("data.csv")),
            "text/csv; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("app.wasm")), "application/wasm");
        assert_eq!(content_type(Path::new("noext")), "application/octet-stream");
    }
}
