//! From a head to a response: whether to read the body, which handler
//! takes the request, and what happens to the connection after the answer.

use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use super::{Exchange, HttpChannel, State};
use crate::chat::Chat;
use crate::http::handler::Deferral;
use crate::http::request::Version;
use crate::http::server::{HttpStats, Shared};
use crate::http::{forwarded, host_allowed, HttpError, Outcome, Request, Response, ServerView};
use crate::reactor::{Context, Peer};

impl HttpChannel {
    /// A complete head arrived: check it, then read its body or dispatch.
    pub(super) fn head_complete(&mut self, chat: &mut Chat, cx: &mut Context<'_>) {
        let body_follows = self.reader.body_follows();
        let Some(request) = self.reader.head_mut() else {
            return;
        };
        let forwarded_for = request
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("X-Forwarded-For"))
            .map(|(_, value)| value.as_str());
        let trusted = &self.shared.config.trusted_proxies;
        if let Peer::Ip(addr) = self.peer {
            let client = forwarded::client_address(addr.ip(), forwarded_for, trusted);
            self.client = Peer::Ip(SocketAddr::new(client, addr.port()));
        }
        let version = request.version;
        // Only TCP peers: no browser reaches a Unix-domain socket.
        let host_ok = !matches!(self.peer, Peer::Ip(_))
            || host_allowed(&self.shared.config.allowed_hosts, request.header("Host"));
        let expects_continue = request
            .header("Expect")
            .map(|e| e.eq_ignore_ascii_case("100-continue"));
        let refusal = if body_follows {
            admit(&self.shared, request)
        } else {
            None
        };
        if expects_continue == Some(false) {
            return self.refuse(chat, &HttpError::new(417, "unsupported Expect"));
        }
        if !host_ok {
            // Before any handler (or the body): a rebound browser page
            // learns nothing and costs nothing.
            let error = HttpError::new(421, "this server does not answer to that Host");
            return self.refuse(chat, &error);
        }
        if let Some(response) = refusal {
            // Before any of the body is read (or, with Expect, sent).
            log::debug!(
                "{}: refused before its body: {}",
                self.peer,
                response.status
            );
            return self.refuse_with(chat, response);
        }
        if !body_follows {
            return self.dispatch(chat, cx);
        }
        if expects_continue == Some(true) && version == Version::Http11 {
            chat.push(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        chat.set_terminator(self.reader.terminator());
    }

    /// Calls the first matching handler, then sends its response.
    pub(super) fn dispatch(&mut self, chat: &mut Chat, cx: &mut Context<'_>) {
        let Some((mut request, body)) = self.reader.take_message() else {
            return;
        };
        request.body = body;
        request.peer = Some(self.peer);
        let cors = &self.shared.config.cors;
        let outcome = match cors.preflight(&request) {
            // Before any handler: a preflight carries no credentials.
            Some(answer) => Outcome::Now(answer),
            None => self.call_handler(&mut request, cx.is_shutting_down()),
        };
        let origin = match cors.enabled() {
            true => request.header("Origin").map(str::to_string),
            false => None,
        };
        let keep_alive = request.wants_keep_alive();
        let head_only = request.method == "HEAD";
        let user = request.user.take();
        let log = self.entry(request.method, request.uri, request.version, user);
        let exchange = Exchange {
            keep_alive,
            head_only,
            log,
            origin,
        };
        let slot = self.deferred.borrow_mut().take();
        let response = match outcome {
            Outcome::Now(response) => response,
            Outcome::Later(_) if slot.is_some() => {
                // Hold everything else until the Responder answers.
                *self.deferred.borrow_mut() = slot;
                self.awaiting = Some(exchange);
                self.state = State::Waiting;
                self.since = Instant::now();
                return;
            }
            // A `Later` kept from an earlier request: nobody will answer.
            Outcome::Later(_) => Response::error(500, "the handler deferred without a responder"),
        };
        self.finish(chat, cx, response, exchange);
    }

    /// Sends the response to `exchange` and readies the connection for the
    /// next request, or for closing.
    pub(super) fn finish(
        &mut self,
        chat: &mut Chat,
        cx: &mut Context<'_>,
        response: Response,
        exchange: Exchange,
    ) {
        let keep_alive = exchange.keep_alive && !response.close && !cx.is_shutting_down();
        // Earlier responses still unsent: the peer is not reading, and a new
        // request must not count as activity (only output progress does).
        let backlog = chat.has_output();
        let response = match &exchange.origin {
            Some(origin) => self.shared.config.cors.decorate(response, Some(origin)),
            None => response,
        };
        let keep_alive = self.send(
            chat,
            Some(cx),
            response,
            keep_alive,
            exchange.head_only,
            exchange.log,
        );
        if keep_alive {
            self.state = State::Idle;
            if !backlog {
                self.since = Instant::now();
            }
            self.mark_idle(Some(self.since));
            chat.set_terminator(self.reader.terminator());
        } else {
            self.state = State::Closing;
            self.since = Instant::now();
            if exchange.keep_alive {
                // We close (shutdown, handler's choice): the client may
                // already be sending its next request, so linger.
                chat.close_when_done();
            } else {
                // The client asked for the close and sent its whole
                // request: nothing to drain.
                chat.close_when_done_without_linger();
            }
        }
    }

    pub(super) fn call_handler(&self, request: &mut Request, shutting_down: bool) -> Outcome {
        let mut handlers = self.shared.handlers.borrow_mut();
        let Some(index) = handlers.iter().position(|h| h.matches(request)) else {
            return Response::error(404, "no handler for this URL").into();
        };
        let (before, rest) = handlers.split_at_mut(index);
        let (handler, after) = rest.split_first_mut().expect("index is in range");
        let view = ServerView {
            config: &self.shared.config,
            stats: &self.shared.stats,
            started: self.shared.started,
            others: [before, after],
            channels: &self.shared.channels,
            deferral: Deferral {
                token: self.token,
                waker: &self.waker,
                slot: &self.deferred,
            },
            shutting_down,
        };
        match panic::catch_unwind(AssertUnwindSafe(|| handler.handle_request(request, &view))) {
            Ok(response) => response,
            Err(_) => {
                // The panic message went to stderr through the panic hook.
                // {:?}: the request line is the peer's, escaped for the log.
                log::error!(
                    "{}: handler panicked on {:?}",
                    self.peer,
                    request.request_line()
                );
                HttpStats::add(&self.shared.stats.panics, 1);
                Response::error(500, "the handler failed").into()
            }
        }
    }
}

/// Asks the handler that will take `request` whether its body may be read
/// ([`Handler::admit`](crate::http::Handler::admit)); `Some` is the refusal to
/// send.
fn admit(shared: &Shared, request: &mut Request) -> Option<Response> {
    let mut handlers = shared.handlers.borrow_mut();
    let handler = handlers.iter_mut().find(|h| h.matches(request))?;
    match panic::catch_unwind(AssertUnwindSafe(|| handler.admit(request))) {
        Ok(Ok(())) => None,
        Ok(Err(response)) => Some(response),
        Err(_) => {
            HttpStats::add(&shared.stats.panics, 1);
            Some(Response::error(500, "the handler failed"))
        }
    }
}
