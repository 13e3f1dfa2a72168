//! TLS under a channel: a TCP socket and a rustls connection, read and
//! written like any [`Stream`](super::Stream), with no thread and no
//! blocking call.
//!
//! rustls is sans-IO: it takes the bytes read from the socket
//! (`read_tls`), turns them into plaintext and its own replies
//! (`process_new_packets`), and hands back records to write
//! (`write_tls`). The one thing a caller must add is what edge-triggered
//! readiness demands: records rustls holds because the socket was full are
//! flushed on the next writable event ([`TlsStream::flush_pending`]), and
//! the channel keeps write interest while [`TlsStream::has_pending`] says
//! some wait. The shape follows rustls' own `tlsserver-mio` example.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Plaintext rustls may hold for sending before `write` says "would
/// block": the channel's own output buffer is the queue, not rustls'.
const MAX_BUFFERED_PLAINTEXT: usize = 64 * 1024;

/// A TCP socket carrying TLS.
#[derive(Debug)]
pub struct TlsStream {
    pub(super) sock: TcpStream,
    conn: rustls::Connection,
}

impl TlsStream {
    /// The server side of a TLS connection on an accepted socket.
    pub fn accept(sock: TcpStream, config: Arc<rustls::ServerConfig>) -> io::Result<TlsStream> {
        let mut conn = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
        conn.set_buffer_limit(Some(MAX_BUFFERED_PLAINTEXT));
        Ok(TlsStream {
            sock,
            conn: conn.into(),
        })
    }

    /// The client side, for `server_name`, on a socket connecting to it.
    pub fn connect(
        sock: TcpStream,
        config: Arc<rustls::ClientConfig>,
        server_name: rustls::pki_types::ServerName<'static>,
    ) -> io::Result<TlsStream> {
        let mut conn =
            rustls::ClientConnection::new(config, server_name).map_err(io::Error::other)?;
        conn.set_buffer_limit(Some(MAX_BUFFERED_PLAINTEXT));
        Ok(TlsStream {
            sock,
            conn: conn.into(),
        })
    }

    /// Records wait to be written (a handshake message, an alert, or
    /// encrypted output the socket had no room for).
    pub fn has_pending(&self) -> bool {
        self.conn.wants_write()
    }

    /// Writes waiting records until none are left or the socket is full.
    pub fn flush_pending(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sends `close_notify`, then FIN once it is out.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush_pending()?;
        self.sock.shutdown(std::net::Shutdown::Write)
    }

    /// The negotiated version (`TLSv1_3`, ...), once the handshake is done.
    pub fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        self.conn.protocol_version()
    }

    /// Whether the handshake is still going on.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }
}

/// A connection closed after its handshake says so with `close_notify`
/// (RFC 8446 section 6.1), so that the peer can tell the end from a
/// truncation: sent here, on every close, as far as the socket takes it
/// without blocking. (A half-close already sent it: rustls sends it once.)
impl Drop for TlsStream {
    fn drop(&mut self) {
        if !self.conn.is_handshaking() {
            self.conn.send_close_notify();
            let _ = self.flush_pending();
        }
    }
}

impl Read for TlsStream {
    /// Plaintext if rustls has some; otherwise reads records from the
    /// socket (answering handshake messages as they come) until it has,
    /// the peer closes (`Ok(0)`), or the socket would block.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed without close_notify: for HTTP, whose
                // messages frame themselves, an end of input like any other.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) => return Ok(0),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
            if let Err(error) = self.conn.process_new_packets() {
                // Tell the peer why (the alert is queued), best effort.
                let _ = self.flush_pending();
                return Err(io::Error::new(io::ErrorKind::InvalidData, error));
            }
            // Handshake replies go out at once; what does not fit waits
            // for a writable event (the channel asks has_pending).
            self.flush_pending()?;
        }
    }
}

impl Write for TlsStream {
    /// Flushes waiting records first, then hands rustls at most what its
    /// buffer limit allows; nothing accepted is "would block", so the
    /// caller keeps its own output and waits for a writable event.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.flush_pending()?;
        let accepted = self.conn.writer().write(buf)?;
        self.flush_pending()?;
        if accepted == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(accepted)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_pending()
    }
}

/// A server's TLS settings from PEM files: a certificate chain and its
/// private key (PKCS#8, PKCS#1 RSA or SEC1 EC). TLS 1.2 and 1.3, ALPN
/// `http/1.1`, ring as the crypto provider. Errors name the file and say
/// what is wrong, including a key that does not match the certificate.
pub fn server_config(cert: &Path, key: &Path) -> io::Result<Arc<rustls::ServerConfig>> {
    let named = |path: &Path, what: String| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: {what}", path.display()),
        )
    };
    let chain = read_certs(cert)?;
    let key_der = PrivateKeyDer::from_pem_reader(BufReader::new(
        File::open(key).map_err(|e| named(key, e.to_string()))?,
    ))
    .map_err(|e| named(key, format!("no usable private key ({e})")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| named(key, format!("does not fit {}: {e}", cert.display())))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file; none is an error.
pub fn read_certs(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let named = |what: String| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: {what}", path.display()),
        )
    };
    let file = File::open(path).map_err(|e| named(e.to_string()))?;
    let certs = CertificateDer::pem_reader_iter(BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| named(format!("bad PEM ({e})")))?;
    if certs.is_empty() {
        return Err(named("no certificate in it".to_string()));
    }
    Ok(certs)
}
