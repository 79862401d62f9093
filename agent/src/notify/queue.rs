//! A bounded queue that drops its oldest item when full: `notify` never
//! waits for a slow receiver, and when one is down for long, what it gets
//! once back is the most recent news. One consumer (the sink's worker).

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

/// What a push did.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed<T> {
    /// Queued.
    Queued,
    /// Queued, and the oldest item dropped to make room.
    DroppedOldest(T),
    /// Not queued: the queue is closed.
    Closed(T),
}

/// A bounded, drop-oldest queue with one async consumer.
#[derive(Debug)]
pub struct Queue<T> {
    state: Mutex<State<T>>,
    wake: Notify,
    capacity: usize,
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    closed: bool,
}

impl<T> Queue<T> {
    /// An empty queue holding at most `capacity` items (at least 1).
    pub fn new(capacity: usize) -> Queue<T> {
        let capacity = capacity.max(1);
        Queue {
            state: Mutex::new(State {
                items: VecDeque::with_capacity(capacity.min(1024)),
                closed: false,
            }),
            wake: Notify::new(),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `item` at the back, dropping the front one when full.
    pub fn push(&self, item: T) -> Pushed<T> {
        let mut state = self.lock();
        if state.closed {
            return Pushed::Closed(item);
        }
        let dropped = if state.items.len() >= self.capacity {
            state.items.pop_front()
        } else {
            None
        };
        state.items.push_back(item);
        drop(state);
        self.wake.notify_one();
        match dropped {
            Some(old) => Pushed::DroppedOldest(old),
            None => Pushed::Queued,
        }
    }

    /// The front item, waiting for one; `None` once the queue is closed and
    /// empty.
    pub async fn pop(&self) -> Option<T> {
        loop {
            {
                let mut state = self.lock();
                if let Some(item) = state.items.pop_front() {
                    return Some(item);
                }
                if state.closed {
                    return None;
                }
            }
            // A push between the unlock and here leaves a permit: no wake-up is lost.
            self.wake.notified().await;
        }
    }

    /// No more pushes; [`Queue::pop`] returns what is left, then `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_drops_its_oldest_item() {
        let q = Queue::new(3);
        for i in 1..=3 {
            assert_eq!(q.push(i), Pushed::Queued);
        }
        assert_eq!(q.push(4), Pushed::DroppedOldest(1));
        assert_eq!(q.push(5), Pushed::DroppedOldest(2));
        assert_eq!(q.len(), 3);
        assert_eq!(q.pop().await, Some(3));
        assert_eq!(q.push(6), Pushed::Queued);
        assert_eq!(q.len(), 3);
    }

    #[tokio::test]
    async fn a_closed_queue_gives_what_is_left_then_none() {
        let q = Queue::new(2);
        q.push("a");
        q.close();
        assert_eq!(q.push("b"), Pushed::Closed("b"));
        assert_eq!(q.pop().await, Some("a"));
        assert_eq!(q.pop().await, None);
        assert_eq!(q.len(), 0);
    }

    #[tokio::test]
    async fn a_waiting_consumer_is_woken_by_a_push() {
        let q = std::sync::Arc::new(Queue::new(1));
        let consumer = tokio::spawn({
            let q = q.clone();
            async move { q.pop().await }
        });
        tokio::task::yield_now().await;
        q.push(7);
        assert_eq!(consumer.await.ok().flatten(), Some(7));
    }
}
