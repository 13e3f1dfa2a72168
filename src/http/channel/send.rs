//! Pushing a response: its framing, head and body, coalesced into one
//! write where it fits, and its line in the access log.

use super::HttpChannel;
use crate::chat::Chat;
use crate::http::access_log::Entry;
use crate::http::request::Version;
use crate::http::response::Framing;
use crate::http::server::HttpStats;
use crate::http::{Body, Response};
use crate::producers::{ChunkedProducer, HookedProducer};
use crate::reactor::Context;

/// In-memory bodies up to this size are copied behind their head, so that
/// head and body go in one write. Measured (echo, benches/load/run.py):
/// queued on their own, 100 KB and 1 MB bodies cost 10-20 % more CPU per
/// byte (a write more, and glibc then trimmed and faulted in their buffers
/// again on every call); from 10 MB the copy costs more than it saves.
const COPY_BEHIND_HEAD: usize = 4 << 20;

impl HttpChannel {
    /// The access log's view of a request. Strings are moved in, not
    /// copied: the request is done with them.
    pub(super) fn entry(
        &self,
        method: String,
        uri: String,
        version: Version,
        user: Option<String>,
    ) -> Entry {
        Entry {
            client: self.client,
            user,
            method,
            uri,
            version,
            status: 0,
        }
    }

    /// Pushes a response: head and (unless `head_only`) body, coalesced,
    /// and logs it (streamed bodies once they are sent). Returns whether
    /// the connection stays open afterwards.
    pub(super) fn send(
        &self,
        chat: &mut Chat,
        cx: Option<&mut Context<'_>>,
        response: Response,
        keep_alive: bool,
        head_only: bool,
        mut log: Entry,
    ) -> bool {
        let version = log.version;
        let mut keep_alive = keep_alive;
        let framing = if !response.status_allows_body() {
            Framing::None
        } else {
            match response.body.len() {
                Some(n) => Framing::Length(n),
                None if version == Version::Http11 => Framing::Chunked,
                None => {
                    keep_alive = false;
                    Framing::UntilClose
                }
            }
        };
        let stats = &self.shared.stats;
        HttpStats::add(&stats.requests, 1);
        stats.request_history.record();
        if let Some(info) = self.shared.channels.borrow_mut().get_mut(self.slot) {
            info.requests = info.requests.saturating_add(1);
        }
        if response.status >= 400 {
            HttpStats::add(&stats.errors, 1);
            stats.error_history.record();
        }
        // Room for the head and a body in memory: the body is copied once,
        // behind the head, and the whole is one write. A large one is
        // queued as it is, behind the head (a copy would be a fresh buffer
        // of its size, faulted in page by page, for one write less).
        let in_memory = match &response.body {
            Body::Bytes(bytes) if bytes.len() <= COPY_BEHIND_HEAD => bytes.len(),
            _ => 0,
        };
        let mut out = Vec::with_capacity(256usize.saturating_add(in_memory));
        response.write_head(&mut out, version, self.config(), framing, keep_alive);
        let head_len = out.len() as u64;
        log.status = response.status;
        let body = if head_only || framing == Framing::None {
            Body::Empty
        } else {
            response.body
        };
        match body {
            Body::Empty => {
                chat.push_vec(out);
                HttpStats::add(&stats.bytes_out, head_len);
                self.log(cx, &log, 0);
            }
            Body::Bytes(bytes) if bytes.len() > COPY_BEHIND_HEAD => {
                HttpStats::add(
                    &stats.bytes_out,
                    head_len.saturating_add(bytes.len() as u64),
                );
                self.shared
                    .access_log
                    .borrow_mut()
                    .record(&log, bytes.len() as u64);
                chat.push_vec(out);
                chat.push_vec(bytes);
            }
            Body::Bytes(bytes) => {
                out.extend_from_slice(&bytes);
                HttpStats::add(&stats.bytes_out, out.len() as u64);
                chat.push_vec(out);
                self.log(cx, &log, bytes.len() as u64);
            }
            Body::Stream { producer, .. } => {
                chat.push_vec(out);
                HttpStats::add(&stats.bytes_out, head_len);
                let shared = self.shared.clone();
                // Medusa's way: the byte count reaches the log when the
                // producer is exhausted.
                let hooked = HookedProducer::new(producer, move |n| {
                    HttpStats::add(&shared.stats.bytes_out, n);
                    // No Context here: a line for stderr waits for the
                    // next pass that logs, or the once-a-second flush.
                    shared.access_log.borrow_mut().record(&log, n);
                });
                if framing == Framing::Chunked {
                    chat.push_with_producer(ChunkedProducer::new(hooked, Vec::new()));
                } else {
                    chat.push_with_producer(hooked);
                }
            }
        }
        keep_alive
    }

    /// Logs a response, and has the log flushed at the end of this pass if
    /// its sink wants that. Without a Context (a refusal while reading),
    /// the line waits for the next pass that logs, or the once-a-second
    /// flush.
    fn log(&self, cx: Option<&mut Context<'_>>, entry: &Entry, bytes: u64) {
        let flush_soon = self.shared.access_log.borrow_mut().record(entry, bytes);
        if let (true, Some(cx), Some(flusher)) = (flush_soon, cx, self.shared.log_flusher.get()) {
            cx.notify(flusher);
        }
    }
}
