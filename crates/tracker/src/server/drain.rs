//! Draining a node before it stops, so that an upgrade drops no viewer.
//!
//! Once the shutdown signal comes, a node with a drain period first stops taking WebSocket
//! connections (`/health` answers 503, so the load balancer sends new ones to the other
//! nodes; upgrades that still reach it get 503 too), then closes its sessions a few at a
//! time over the period (close 1001): clients reconnect through the balancer to another
//! node, spread out instead of all in the same second. Only then does the usual shutdown
//! run.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use super::access::Refusal;
use super::{ws, Shared};

/// Reason in the close frame of a drained session.
pub const CLOSE_REASON: &str = "tracker node draining: reconnect";

/// Whether the node is draining; set once, never cleared (the process ends after).
#[derive(Default)]
pub struct Drain(AtomicBool);

impl Drain {
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What a WebSocket upgrade gets while the node drains.
pub fn refusal() -> Refusal {
    Refusal {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "this tracker node is draining before a restart: connect again, \
                  the load balancer sends you to another node"
            .into(),
        reason: None,
    }
}

/// How many of `total` sessions are closed once `elapsed` of `period` has passed: evenly
/// spread, and all of them at the end of the period.
pub fn due(total: usize, elapsed: Duration, period: Duration) -> usize {
    if period.is_zero() || elapsed >= period {
        return total;
    }
    let share = elapsed.as_secs_f64() / period.as_secs_f64();
    ((total as f64 * share).floor() as usize).min(total)
}

/// Resolves after `shutdown` has, and after the drain (if the config asks for one) is over.
pub async fn after(shutdown: impl Future<Output = ()>, shared: Arc<Shared>) {
    shutdown.await;
    let period = shared.config.drain;
    if period.is_zero() {
        return;
    }
    shared.drain.start();
    let sessions: Vec<_> = shared.core().routes.values().cloned().collect();
    tracing::info!(
        sessions = sessions.len(),
        "tracker draining: closing sessions over {} s",
        period.as_secs_f64()
    );
    // Often enough that no second closes more than its share, rarely enough to cost nothing.
    let tick = (period / 100).clamp(Duration::from_millis(20), Duration::from_secs(1));
    let started = Instant::now();
    let mut closed = 0;
    while closed < sessions.len() {
        let now_due = due(sessions.len(), started.elapsed(), period);
        for outbox in &sessions[closed..now_due] {
            outbox.close(ws::GOING_AWAY, CLOSE_REASON);
        }
        closed = now_due;
        if closed < sessions.len() {
            tokio::time::sleep(tick).await;
        }
    }
    tracing::info!("tracker drained");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_close_evenly_over_the_period_and_all_by_its_end() {
        let period = Duration::from_secs(10);
        let at = |s: f64| due(100, Duration::from_secs_f64(s), period);
        assert_eq!(at(0.0), 0);
        assert_eq!(at(1.0), 10);
        assert_eq!(at(5.0), 50);
        assert_eq!(at(9.99), 99);
        assert_eq!(at(10.0), 100);
        assert_eq!(at(60.0), 100);
        // Never more than the sessions there are, whatever the numbers.
        assert_eq!(due(3, Duration::from_secs(1), Duration::ZERO), 3);
        assert_eq!(due(0, Duration::from_secs(1), period), 0);
    }
}
