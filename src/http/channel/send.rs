//! Pushing a response: its framing, head and body, coalesced into one
//! write where it fits, and its line in the access log.

use super::HttpChannel;
use crate::chat::{Chat, COPIED_BEHIND_HEAD};
use crate::http::access_log::Entry;
use crate::http::request::Version;
use crate::http::response::Framing;
use crate::http::server::HttpStats;
use crate::http::{Body, Response};
use crate::producers::{ChunkedProducer, HookedProducer};
use crate::reactor::Context;

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
        // Room for the head, and for a short body: the output buffer copies
        // one behind the head (one write), and writes a long one from its
        // own buffer together with the head (one `writev`, no copy).
        let in_memory = match &response.body {
            Body::Bytes(bytes) if bytes.len() < COPIED_BEHIND_HEAD => bytes.len(),
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
            Body::Bytes(bytes) => {
                let len = bytes.len() as u64;
                HttpStats::add(&stats.bytes_out, head_len.saturating_add(len));
                chat.push_vec(out);
                chat.push_vec(bytes);
                self.log(cx, &log, len);
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
