//! Keeps a page render's reactive owner with its request, not with the worker thread that last
//! polled it.
//!
//! Leptos keeps "the current owner" (what `use_context` reads) in a thread-local. After a page's
//! HTML is rendered, leptos_integration_utils 0.8.9 reads the split modules' manifest and adds
//! the route's `<link rel="preload">` tags through `use_context`, outside the render's owner:
//! it finds them only if the thread it resumed on still has that render as its current owner.
//! On tokio's multi-threaded runtime a request's future moves between threads and other
//! requests' renders change the thread-local, so under load most pages lost their preload
//! links (24 of 30 concurrent requests measured). This layer, on the page routes, gives each
//! request's future an owner slot of its own: each poll starts with the owner the previous
//! poll of the same request left, and the thread's own owner is put back afterwards.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use leptos::prelude::Owner;

/// The middleware: runs the rest of the stack inside [`RequestOwner`].
pub async fn scope(req: Request, next: Next) -> Response {
    RequestOwner { inner: Box::pin(next.run(req)), owner: None }.await
}

/// A future whose current reactive owner travels with it from poll to poll.
struct RequestOwner<F> {
    inner: Pin<Box<F>>,
    /// The owner that was current when this future last yielded (None before the first poll).
    owner: Option<Owner>,
}

impl<F: Future> Future for RequestOwner<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let thread_owner = Owner::current();
        make_current(self.owner.take());
        let polled = self.inner.as_mut().poll(cx);
        self.owner = Owner::current();
        make_current(thread_owner);
        polled
    }
}

/// Sets the thread's current owner, or clears it (reactive_graph has `set` and `unset`, no
/// setter for "none").
fn make_current(owner: Option<Owner>) {
    match owner {
        Some(owner) => owner.set(),
        None => {
            if let Some(current) = Owner::current() {
                current.unset();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leptos::prelude::{provide_context, use_context};

    /// A future that makes an owner current, yields, and reads the context after resuming, as
    /// leptos_integration_utils does; between its polls the thread runs something else that
    /// changes the thread's owner.
    #[tokio::test]
    async fn the_owner_survives_another_task_on_the_thread() {
        let render = Owner::new_root(None);
        render.with(|| provide_context(7_u32));
        let request = {
            let render = render.clone();
            async move {
                render.set();
                tokio::task::yield_now().await;
                use_context::<u32>()
            }
        };
        let mut scoped = RequestOwner { inner: Box::pin(request), owner: None };
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut scoped).poll(&mut cx).is_pending());
        // Another request's render runs on this thread in between.
        let other = Owner::new_root(None);
        other.set();
        assert_eq!(Pin::new(&mut scoped).poll(&mut cx), Poll::Ready(Some(7)));
        // And the thread's owner is the other render's again.
        assert_eq!(Owner::current(), Some(other));
    }
}
