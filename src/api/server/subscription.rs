//! The event stream of a subscribed connection: pages of events from the backend, then a
//! wait on the backend's "newest event" signal for more.

use crate::api::backend::Backend;
use crate::api::error::ApiError;
use crate::api::views::EventView;
use futures::Stream;
use futures::stream::BoxStream;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::watch;

/// A stream of events with seq > `after`, without end while the backend lives. A backend
/// error is yielded once and ends the stream.
pub(crate) fn event_stream<B: Backend>(
    backend: Arc<B>,
    after: u64,
    page: usize,
) -> BoxStream<'static, Result<EventView, ApiError>> {
    let latest = backend.latest_event();
    let state = Cursor {
        backend,
        after,
        page: page.max(1),
        latest,
        buffer: VecDeque::new(),
        failed: false,
    };
    Box::pin(stream_of(state))
}

/// Where a stream stands.
struct Cursor<B> {
    backend: Arc<B>,
    after: u64,
    page: usize,
    latest: watch::Receiver<u64>,
    buffer: VecDeque<EventView>,
    failed: bool,
}

fn stream_of<B: Backend>(
    state: Cursor<B>,
) -> impl Stream<Item = Result<EventView, ApiError>> + Send {
    futures::stream::unfold(state, |mut s| async move {
        if s.failed {
            return None;
        }
        loop {
            // Skip anything at or before the position, whatever the backend returns, so a
            // client never sees an event twice on one stream; and nothing past the newest
            // durable event: the store can hold events whose flush has not finished, and
            // after a crash their seqs would name other events.
            let durable = *s.latest.borrow();
            while let Some(event) = s.buffer.pop_front() {
                if event.seq > durable {
                    // read again once it is durable; nothing lies between here and `durable`
                    s.buffer.clear();
                    s.after = s.after.max(durable);
                    break;
                }
                if event.seq > s.after {
                    s.after = event.seq;
                    return Some((Ok(event), s));
                }
            }
            let newest = *s.latest.borrow_and_update();
            if newest > s.after {
                match s.backend.events(s.after, s.page).await {
                    Ok(events) => s.buffer.extend(events),
                    Err(e) => {
                        s.failed = true;
                        return Some((Err(e), s));
                    }
                }
                if !s.buffer.is_empty() {
                    continue;
                }
            }
            // Nothing new: wait for the backend to announce more (ends when it shuts down).
            if s.latest.changed().await.is_err() {
                return None;
            }
        }
    })
}
