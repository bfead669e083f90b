//! The per-bind window of outstanding submits, adapted to the operator's pushback.
//!
//! Additive increase, multiplicative decrease (as TCP does): each throttled or queue-full
//! answer halves the window and pauses the bind briefly; a window's worth of accepted submits
//! grows it by one, back up to the configured size. Written here because no crate offers a
//! resizable semaphore with this policy.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Shortest pause after the first throttle.
const MIN_PAUSE: Duration = Duration::from_millis(50);
/// Longest pause after repeated throttles.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// A resizable window of outstanding submits for one bind.
#[derive(Debug)]
pub struct Window {
    permits: Arc<Semaphore>,
    state: Mutex<WindowState>,
    outstanding: AtomicU32,
}

#[derive(Debug)]
struct WindowState {
    size: u32,
    max: u32,
    /// Permits to retire as they come back, after a shrink.
    debt: u32,
    successes: u32,
    pause_until: Option<Instant>,
    pause: Duration,
    throttles: u64,
}

/// One outstanding submit; returns its place in the window when dropped.
#[derive(Debug)]
pub struct Slot {
    window: Arc<Window>,
    permit: Option<OwnedSemaphorePermit>,
    counted: bool,
}

impl Window {
    /// A window that allows `max` outstanding submits (at least one).
    pub fn new(max: u32) -> Arc<Self> {
        let max = max.max(1);
        Arc::new(Window {
            permits: Arc::new(Semaphore::new(max as usize)),
            state: Mutex::new(WindowState {
                size: max,
                max,
                debt: 0,
                successes: 0,
                pause_until: None,
                pause: MIN_PAUSE,
                throttles: 0,
            }),
            outstanding: AtomicU32::new(0),
        })
    }

    /// Waits for a free place (and for any throttle pause to end).
    pub async fn acquire(self: &Arc<Self>) -> Slot {
        let mut slot = self.reserve().await;
        slot.count();
        slot
    }

    /// Like [`Window::acquire`], but the place is not shown as in use until
    /// [`Slot::count`] (a bind holds one while it waits for the next job).
    pub async fn reserve(self: &Arc<Self>) -> Slot {
        self.wait_pause().await;
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the window's semaphore is never closed");
        Slot {
            window: self.clone(),
            permit: Some(permit),
            counted: false,
        }
    }

    /// Waits until a throttle pause (if any) has ended.
    pub async fn wait_pause(&self) {
        loop {
            let pause = self.lock().pause_until;
            match pause {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => return,
            }
        }
    }

    /// The operator accepted a submit: grow back towards the configured size.
    pub fn on_accepted(&self) {
        let mut s = self.lock();
        s.pause = MIN_PAUSE;
        s.successes += 1;
        if s.successes >= s.size && s.size < s.max {
            s.successes = 0;
            s.size += 1;
            if s.debt > 0 {
                s.debt -= 1;
            } else {
                self.permits.add_permits(1);
            }
        }
    }

    /// The operator said throttled or queue full: halve the window and pause.
    pub fn on_slow_down(&self) {
        let mut s = self.lock();
        let smaller = (s.size / 2).max(1);
        s.debt += s.size - smaller;
        s.size = smaller;
        s.successes = 0;
        s.throttles += 1;
        s.pause_until = Some(Instant::now() + s.pause);
        s.pause = (s.pause * 2).min(MAX_PAUSE);
    }

    /// The current window size (what the bind allows now).
    pub fn size(&self) -> u32 {
        self.lock().size
    }

    /// Submits outstanding now.
    pub fn outstanding(&self) -> u32 {
        self.outstanding.load(Ordering::Relaxed)
    }

    /// Throttled or queue-full answers seen so far.
    pub fn throttles(&self) -> u64 {
        self.lock().throttles
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WindowState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Slot {
    /// Shows the place as in use (a submit is on its way).
    pub fn count(&mut self) {
        if !self.counted {
            self.counted = true;
            self.window.outstanding.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.counted {
            self.window.outstanding.fetch_sub(1, Ordering::Relaxed);
        }
        let mut s = self.window.lock();
        if s.debt > 0 {
            s.debt -= 1;
            if let Some(p) = self.permit.take() {
                p.forget();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn throttling_halves_and_success_regrows() {
        let w = Window::new(8);
        let slots: Vec<Slot> = futures::future::join_all((0..8).map(|_| w.acquire())).await;
        w.on_slow_down();
        assert_eq!(w.size(), 4);
        drop(slots);
        // Four of the eight permits were retired as they came back.
        assert_eq!(w.permits.available_permits(), 4);
        for _ in 0..4 {
            w.on_accepted();
        }
        assert_eq!(w.size(), 5);
        assert_eq!(w.permits.available_permits(), 5);
    }

    #[tokio::test]
    async fn window_never_shrinks_below_one() {
        let w = Window::new(2);
        for _ in 0..5 {
            w.on_slow_down();
        }
        assert_eq!(w.size(), 1);
        let slot = w.acquire().await;
        assert_eq!(w.outstanding(), 1);
        drop(slot);
        assert_eq!(w.outstanding(), 0);
    }
}
