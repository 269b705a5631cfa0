//! Model work with the interpreter released and Ctrl-C honoured: the work runs on a worker
//! thread while the calling thread, detached from the interpreter, checks for signals; a
//! signal's exception (`KeyboardInterrupt` for SIGINT) sets the call's cancellation flag, which
//! `process()` reads between forward batches, and is raised once the work has stopped.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::Duration;

use pyo3::{PyErr, Python};

use crate::errors::panic_error;

/// How often the waiting thread checks for signals.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Runs `work` (given the cancellation flag) with the interpreter released, other Python
/// threads running meanwhile. A signal handler's exception stops the work at its next
/// cancellation point and is returned instead of the work's result; a panic of the work is a
/// `RuntimeError`. Signals are only ever handled on the main thread, so a call from another
/// Python thread runs to its end.
pub(crate) fn run_released<T, W>(py: Python<'_>, work: W) -> Result<T, PyErr>
where
    T: Send,
    W: FnOnce(&Arc<AtomicBool>) -> Result<T, PyErr> + Send,
{
    let cancel = Arc::new(AtomicBool::new(false));
    py.detach(|| {
        std::thread::scope(|scope| {
            let (done, finished) = channel::<()>();
            let flag = Arc::clone(&cancel);
            let worker = scope.spawn(move || {
                let result = catch_unwind(AssertUnwindSafe(|| work(&flag)));
                // The waiting thread may have stopped listening; nothing to tell it then.
                let _ = done.send(());
                result
            });
            let mut interrupt = None;
            while let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(SIGNAL_POLL) {
                if interrupt.is_none()
                    && let Err(error) = Python::attach(|py| py.check_signals())
                {
                    cancel.store(true, Ordering::Relaxed);
                    interrupt = Some(error);
                }
            }
            let result = match worker.join() {
                Ok(Ok(result)) => result,
                Ok(Err(payload)) | Err(payload) => Err(panic_error(payload.as_ref())),
            };
            match interrupt {
                Some(error) => Err(error),
                None => result,
            }
        })
    })
}
