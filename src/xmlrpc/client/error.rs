//! `ClientError`: what can go wrong with a call, in either client.

use std::fmt;
use std::io;

use crate::xmlrpc::encode::EncodeError;
use crate::xmlrpc::fault::Fault;

/// What can go wrong with a call.
#[derive(Debug)]
pub enum ClientError {
    /// The server answered with a fault.
    Fault(Fault),
    /// The server answered with an HTTP error status.
    Http {
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// The answer could not be read as HTTP or XML-RPC.
    Protocol(String),
    /// The URL is not one the client can use; the message names the part
    /// that is wrong (and never repeats the URL, which may hold a password).
    Url(String),
    /// The parameters could not be encoded.
    Encode(EncodeError),
    /// Connecting, sending or receiving failed (timeouts included).
    Io(io::Error),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Fault(fault) => write!(f, "{fault}"),
            ClientError::Http { status, reason } => write!(f, "HTTP error {status} {reason}"),
            ClientError::Protocol(message) => write!(f, "protocol error: {message}"),
            ClientError::Url(problem) => write!(f, "bad URL: {problem}"),
            ClientError::Encode(e) => write!(f, "cannot encode the call: {e}"),
            ClientError::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> ClientError {
        ClientError::Io(e)
    }
}

impl From<Fault> for ClientError {
    fn from(fault: Fault) -> ClientError {
        ClientError::Fault(fault)
    }
}
