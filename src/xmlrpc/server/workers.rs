//! A small pool of worker threads for methods that block or burn CPU.
//!
//! The loop is one thread: a method that sleeps for two seconds stalls
//! every client for two seconds (Medusa on Python does exactly that). A
//! method registered with [`Registry::register_blocking`](crate::xmlrpc::Registry::register_blocking)
//! runs here instead and answers through the reactor's waker, so the loop
//! keeps serving. The queue is bounded: when it is full the call is refused
//! at once with a -32500 "server busy" fault rather than queued without end.

use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// A job for a worker.
type Job = Box<dyn FnOnce() + Send>;

/// A fixed number of threads taking jobs from a bounded queue.
pub struct WorkerPool {
    sender: Option<SyncSender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

/// The queue was full; the job was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl WorkerPool {
    /// `threads` workers (at least one) and room for `queue` waiting jobs.
    pub fn new(threads: usize, queue: usize) -> WorkerPool {
        let (sender, receiver) = mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let threads = (0..threads.max(1))
            .map(|i| {
                let receiver = receiver.clone();
                std::thread::Builder::new()
                    .name(format!("medusa-worker-{i}"))
                    .spawn(move || loop {
                        // The lock is held only while waiting for a job.
                        let job = receiver
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .recv();
                        match job {
                            Ok(job) => {
                                // A panicking job must not take the worker
                                // with it; its Responder answers 500/-32603
                                // when dropped.
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(_) => break, // the pool was dropped
                        }
                    })
                    .expect("spawn a worker thread")
            })
            .collect();
        WorkerPool {
            sender: Some(sender),
            threads,
        }
    }

    /// Queues `job`, or says the queue is full.
    pub fn submit(&self, job: impl FnOnce() + Send + 'static) -> Result<(), Busy> {
        let Some(sender) = &self.sender else {
            return Err(Busy);
        };
        match sender.try_send(Box::new(job)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => Err(Busy),
        }
    }
}

impl Drop for WorkerPool {
    /// Lets queued jobs finish, then joins the threads.
    fn drop(&mut self) {
        self.sender = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn runs_jobs_on_other_threads() {
        let pool = WorkerPool::new(2, 8);
        let (tx, rx) = mpsc::channel();
        for i in 0..5 {
            let tx = tx.clone();
            pool.submit(move || tx.send((i, std::thread::current().id())).unwrap())
                .unwrap();
        }
        let mut got: Vec<_> = (0..5)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        got.sort_by_key(|(i, _)| *i);
        assert_eq!(
            got.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
        assert!(got.iter().all(|(_, id)| *id != std::thread::current().id()));
    }

    #[test]
    fn a_full_queue_is_refused_at_once() {
        let pool = WorkerPool::new(1, 1);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let blocker = release_rx.clone();
        pool.submit(move || {
            started_tx.send(()).unwrap();
            blocker.lock().unwrap().recv().unwrap();
        })
        .unwrap();
        started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        // The worker is busy; one job fits in the queue, the next does not.
        pool.submit(|| {}).unwrap();
        assert_eq!(pool.submit(|| {}), Err(Busy));
        release_tx.send(()).unwrap();
    }

    #[test]
    fn a_panicking_job_does_not_kill_the_worker() {
        let pool = WorkerPool::new(1, 4);
        let done = Arc::new(AtomicUsize::new(0));
        pool.submit(|| panic!("job exploded on purpose")).unwrap();
        let d = done.clone();
        pool.submit(move || {
            d.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        drop(pool); // joins after the queue drains
        assert_eq!(done.load(Ordering::SeqCst), 1);
    }
}
