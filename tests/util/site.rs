//! A document root for the file-handler tests, with a secret just outside it.

use std::path::PathBuf;

/// What `secret.txt` holds: the symlink and traversal cases check that it
/// never appears in an answer.
pub const SECRET: &str = "TOP-SECRET-c0ffee";

/// A temporary directory holding `root/` (the document root) and, beside
/// it, `secret.txt`:
///
/// ```text
/// root/index.html       "<h1>home</h1>\n"
/// root/a.txt            "plain text\n"
/// root/with space.txt   "spaced\n"
/// root/sub/index.html   "<h1>sub</h1>\n"
/// root/sub/b.txt        "in sub\n"
/// root/link.txt         -> ../secret.txt (a symlink out of the root)
/// secret.txt            SECRET
/// ```
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("index.html"), "<h1>home</h1>\n").unwrap();
        std::fs::write(root.join("a.txt"), "plain text\n").unwrap();
        std::fs::write(root.join("with space.txt"), "spaced\n").unwrap();
        std::fs::write(root.join("sub/index.html"), "<h1>sub</h1>\n").unwrap();
        std::fs::write(root.join("sub/b.txt"), "in sub\n").unwrap();
        std::fs::write(dir.path().join("secret.txt"), SECRET).unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("link.txt")).unwrap();
        Site { dir }
    }

    /// The document root.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Writes `len` bytes of a recognisable pattern to `root/name`.
    pub fn big_file(&self, name: &str, len: usize) -> Vec<u8> {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        std::fs::write(self.root().join(name), &data).unwrap();
        data
    }
}
