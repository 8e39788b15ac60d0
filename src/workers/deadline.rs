//! [`within`]: a future raced against the runtime's timer, for I/O that must not hang a request.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;
use worker::Delay;

/// `future`'s output, or `None` if `timeout` passes first.
pub(crate) async fn within<F: Future>(future: F, timeout: Duration) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut timer = pin!(Delay::from(timeout));
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}
