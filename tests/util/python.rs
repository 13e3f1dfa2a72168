//! A Python script as a server in a child process: the first line it
//! prints is its port; it is killed when dropped.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A Python server in a child process, killed when dropped.
pub struct PythonServer {
    pub child: Child,
    pub port: u16,
}

impl PythonServer {
    /// Runs `script` with `args`; its first line of output is its port.
    pub fn start(script: &str, args: &[impl AsRef<OsStr>]) -> PythonServer {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(script)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs (it is required for these tests)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the Python server's first line");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the Python server did not start: {line:?}"));
        PythonServer { child, port }
    }

    /// Kills it now (a remote server going away mid-test).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        self.kill();
    }
}
