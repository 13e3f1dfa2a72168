//! The hub: the one socketless dispatcher of an `AsyncClient`. It opens
//! connections for queued calls, takes in finished name lookups, and times
//! out calls still waiting for an address.

use super::*;

/// The socketless dispatcher that opens connections for queued calls.
pub(super) struct Hub {
    pub(super) pool: Rc<RefCell<Pool>>,
    /// Fires when the first call waiting for a lookup runs out of time, and
    /// when that is.
    pub(super) timer: Option<(TimerId, Instant)>,
}

impl Hub {
    /// Applies the lookups' answers: a server with addresses is ready for
    /// its calls; a failed lookup fails them and drops the server, so the
    /// next call looks again.
    fn take_resolutions(&mut self) {
        let inbox = self.pool.borrow().resolved.clone();
        let answers = std::mem::take(&mut *inbox.lock().unwrap_or_else(PoisonError::into_inner));
        let mut failed = Vec::new();
        let mut pool = self.pool.borrow_mut();
        for answer in answers {
            let Entry::Occupied(mut entry) = pool.servers.entry(answer.key) else {
                continue;
            };
            if entry.get().lookup != Some(answer.lookup) {
                continue;
            }
            match answer.result {
                Ok(addrs) if !addrs.is_empty() => {
                    let server = entry.get_mut();
                    server.addrs = addrs.into_iter().map(Address::Ip).collect();
                    server.lookup = None;
                }
                result => {
                    let error = result.err().unwrap_or_else(|| {
                        io::Error::new(io::ErrorKind::NotFound, "no address to connect to")
                    });
                    let server = entry.remove();
                    failed.extend(server.queue.into_iter().map(|call| {
                        let e = io::Error::new(error.kind(), error.to_string());
                        (call, e)
                    }));
                }
            }
        }
        drop(pool);
        for (call, error) in failed {
            (call.callback)(Err(ClientError::Io(error)));
        }
    }

    /// Fails the calls whose time ran out while they waited for a lookup.
    /// A resolving server's calls were all queued at the back with the
    /// same timeout, so the expired ones are at the front.
    fn expire_waiting(&mut self) {
        let now = Instant::now();
        let mut expired = Vec::new();
        for (key, server) in self.pool.borrow_mut().servers.iter_mut() {
            if server.lookup.is_none() {
                continue;
            }
            while server
                .queue
                .front()
                .and_then(|call| call.deadline)
                .is_some_and(|deadline| deadline <= now)
            {
                if let Some(call) = server.queue.pop_front() {
                    expired.push((key.clone(), call));
                }
            }
        }
        for (key, call) in expired {
            let error = io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within request_timeout: still resolving {key}"),
            );
            (call.callback)(Err(ClientError::Io(error)));
        }
    }

    /// Sets the timer for the first deadline of a call waiting for a
    /// lookup, unless one as early is set.
    fn arm(&mut self, cx: &mut Context<'_>) {
        let earliest = self
            .pool
            .borrow()
            .servers
            .values()
            .filter(|s| s.lookup.is_some())
            .filter_map(|s| s.queue.front().and_then(|call| call.deadline))
            .min();
        let Some(due) = earliest else {
            return;
        };
        if let Some((timer, at)) = self.timer {
            if at <= due {
                return;
            }
            cx.cancel_timer(timer);
        }
        let timer = cx.set_timer(due.saturating_duration_since(Instant::now()));
        self.timer = Some((timer, due));
    }

    /// Opens connections for queued calls, keeps the timer, and leaves the
    /// loop once closed with nothing left.
    fn pass(&mut self, cx: &mut Context<'_>) {
        let to_open = self.pool.borrow_mut().schedule(cx);
        for key in to_open {
            // The call at the head of the queue is the one this connection
            // takes when added (synchronously, in `cx.add`); it says which
            // address is next for it.
            let (next, tls) = {
                let mut pool = self.pool.borrow_mut();
                let server = pool.servers.get_mut(&key);
                let tls = server.as_ref().and_then(|s| s.tls.clone());
                (server.and_then(Server::next_addr), tls)
            };
            let Some((index, addr)) = next else {
                if let Some(server) = self.pool.borrow_mut().servers.get_mut(&key) {
                    server.open = server.open.saturating_sub(1);
                }
                continue;
            };
            let channel = Connection::new(self.pool.clone(), key.clone(), index);
            let chat_config = ChatConfig {
                linger: Duration::ZERO,
                ..ChatConfig::default()
            };
            let chat = match (&addr, tls) {
                (Address::Ip(ip), Some((name, config))) => {
                    AsyncChat::connect_tls(*ip, name, config, channel, chat_config)
                }
                (Address::Ip(ip), None) => AsyncChat::connect(*ip, channel, chat_config),
                #[cfg(unix)]
                (Address::Unix(path), _) => AsyncChat::connect_unix(path, channel, chat_config)
                    .map_err(|e| io::Error::new(e.kind(), format!("{addr}: {e}"))),
            };
            let result = chat.and_then(|chat| cx.add(chat));
            if let Err(e) = result {
                // Could not even start (a Unix-domain socket that is not
                // there fails here, at once): fail the call that wanted it,
                // still at the head of the queue (it is taken in
                // `handle_added`, which never ran). The channel's slot in
                // `open` was freed when it was dropped, unadded.
                let mut pool = self.pool.borrow_mut();
                let call = pool.servers.get_mut(&key).and_then(|s| s.queue.pop_front());
                let call = call.and_then(|call| pool.try_next_addr(&key, call));
                drop(pool);
                if let Some(call) = call {
                    (call.callback)(Err(ClientError::Io(e)));
                }
            }
        }
        self.arm(cx);
        let mut pool = self.pool.borrow_mut();
        if pool.closed {
            for server in pool.servers.values_mut() {
                for token in server.idle.drain(..) {
                    cx.notify(token);
                }
            }
            // A lookup nobody waits for any more does not count: its late
            // answer finds the hub gone and is dropped with the inbox.
            let busy = pool
                .servers
                .values()
                .any(|s| s.open > 0 || !s.queue.is_empty());
            if !busy {
                pool.hub = None;
                cx.close();
            }
        }
    }
}

impl Dispatcher for Hub {
    fn source(&mut self) -> Option<&mut dyn Source> {
        None
    }

    fn handle_wake(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        self.pool.borrow_mut().hub_woken = false;
        self.take_resolutions();
        self.pass(cx);
        Ok(())
    }

    fn handle_timer(&mut self, cx: &mut Context<'_>, timer: TimerId) -> io::Result<()> {
        if self.timer.map(|(id, _)| id) != Some(timer) {
            return Ok(());
        }
        self.timer = None;
        self.expire_waiting();
        self.pass(cx);
        Ok(())
    }

    fn handle_shutdown(&mut self, _cx: &mut Context<'_>) {
        // Calls in flight may be what a server-side reply waits for; close
        // when the pool is drained (see `AsyncClient::close`).
        let mut pool = self.pool.borrow_mut();
        pool.closed = true;
        pool.wake_hub();
    }
}
