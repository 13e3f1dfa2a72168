//! `Fault`: an XML-RPC error (Python's `xmlrpc.client.Fault`), and the fault
//! codes this crate sends.
//!
//! A fault is XML-RPC's only error: a `<fault>` in place of `<params>`,
//! carrying a struct with an integer `faultCode` and a `faultString`. The
//! spec leaves the codes to the application; Medusa answered everything with
//! code 1. We use the [fault code interoperability spec][spec] instead, so a
//! client can tell "your XML is broken" from "no such method" from "the
//! method failed" without parsing the message.
//!
//! [spec]: http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php

use std::fmt;

/// An XML-RPC fault: `faultCode` and `faultString`.
///
/// It is both what a server returns for a failed call and the error type of
/// the decoder (a request that cannot be decoded is answered with the fault
/// the decoder produced).
///
/// ```
/// use medusa::xmlrpc::Fault;
///
/// let fault = Fault::method_not_found("no method 'mul'");
/// assert_eq!(fault.code, Fault::METHOD_NOT_FOUND);
/// assert_eq!(fault.to_string(), "<Fault -32601: no method 'mul'>");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// `faultCode`.
    pub code: i32,
    /// `faultString`.
    pub message: String,
}

impl Fault {
    /// -32700: the body is not well-formed XML (or could not be read at all:
    /// too large, nested too deeply, has a DOCTYPE).
    pub const PARSE_ERROR: i32 = -32700;
    /// -32701: the body is in a character encoding we do not read (we read
    /// UTF-8, and ISO-8859-1 when declared).
    pub const UNSUPPORTED_ENCODING: i32 = -32701;
    /// -32702: the body is declared (or assumed) UTF-8 but is not.
    pub const INVALID_CHARACTER: i32 = -32702;
    /// -32600: well-formed XML that is not a valid XML-RPC request or
    /// response (unknown element, `<int>` out of range, bad base64, ...).
    pub const INVALID_XMLRPC: i32 = -32600;
    /// -32601: the requested method does not exist.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// -32602: the method exists but its parameters are wrong.
    pub const INVALID_PARAMS: i32 = -32602;
    /// -32603: the server failed (a panic, a result it could not encode).
    pub const INTERNAL_ERROR: i32 = -32603;
    /// -32500: the method ran and reported an error of its own.
    pub const APPLICATION_ERROR: i32 = -32500;
    /// -32300: the call could not be carried to where it runs (a mounted
    /// remote server that is down, too slow, or answers garbage).
    pub const TRANSPORT_ERROR: i32 = -32300;

    /// A -32300 fault ([`Fault::TRANSPORT_ERROR`]).
    pub fn transport_error(message: impl Into<String>) -> Fault {
        Fault::new(Fault::TRANSPORT_ERROR, message)
    }

    /// A fault with any code.
    pub fn new(code: i32, message: impl Into<String>) -> Fault {
        Fault {
            code,
            message: message.into(),
        }
    }

    /// A [`PARSE_ERROR`](Fault::PARSE_ERROR) fault.
    pub fn parse_error(message: impl Into<String>) -> Fault {
        Fault::new(Fault::PARSE_ERROR, message)
    }

    /// An [`UNSUPPORTED_ENCODING`](Fault::UNSUPPORTED_ENCODING) fault.
    pub fn unsupported_encoding(message: impl Into<String>) -> Fault {
        Fault::new(Fault::UNSUPPORTED_ENCODING, message)
    }

    /// An [`INVALID_CHARACTER`](Fault::INVALID_CHARACTER) fault.
    pub fn invalid_character(message: impl Into<String>) -> Fault {
        Fault::new(Fault::INVALID_CHARACTER, message)
    }

    /// An [`INVALID_XMLRPC`](Fault::INVALID_XMLRPC) fault.
    pub fn invalid_xmlrpc(message: impl Into<String>) -> Fault {
        Fault::new(Fault::INVALID_XMLRPC, message)
    }

    /// A [`METHOD_NOT_FOUND`](Fault::METHOD_NOT_FOUND) fault.
    pub fn method_not_found(message: impl Into<String>) -> Fault {
        Fault::new(Fault::METHOD_NOT_FOUND, message)
    }

    /// An [`INVALID_PARAMS`](Fault::INVALID_PARAMS) fault.
    pub fn invalid_params(message: impl Into<String>) -> Fault {
        Fault::new(Fault::INVALID_PARAMS, message)
    }

    /// An [`INTERNAL_ERROR`](Fault::INTERNAL_ERROR) fault.
    pub fn internal_error(message: impl Into<String>) -> Fault {
        Fault::new(Fault::INTERNAL_ERROR, message)
    }

    /// An [`APPLICATION_ERROR`](Fault::APPLICATION_ERROR) fault.
    pub fn application_error(message: impl Into<String>) -> Fault {
        Fault::new(Fault::APPLICATION_ERROR, message)
    }
}

impl fmt::Display for Fault {
    /// Python's `repr(Fault)` without the quotes: `<Fault -32601: no method>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Fault {}: {}>", self.code, self.message)
    }
}

impl std::error::Error for Fault {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_use_the_interoperability_codes() {
        assert_eq!(Fault::parse_error("x").code, -32700);
        assert_eq!(Fault::unsupported_encoding("x").code, -32701);
        assert_eq!(Fault::invalid_character("x").code, -32702);
        assert_eq!(Fault::invalid_xmlrpc("x").code, -32600);
        assert_eq!(Fault::method_not_found("x").code, -32601);
        assert_eq!(Fault::invalid_params("x").code, -32602);
        assert_eq!(Fault::internal_error("x").code, -32603);
        assert_eq!(Fault::application_error("x").code, -32500);
    }

    #[test]
    fn displays_like_python_repr() {
        let f = Fault::new(4, "Too many parameters.");
        assert_eq!(f.to_string(), "<Fault 4: Too many parameters.>");
        let boxed: Box<dyn std::error::Error> = Box::new(f);
        assert!(boxed.to_string().contains("Too many"));
    }
}
