//! The task that keeps budgets current: it evaluates them at start, after usage or limit
//! changes (`usage_recorded`, `limits_updated`, or a direct nudge), and, while there are
//! budgets, every 30 seconds, so a new day or month, or a provider window starting over,
//! lifts a stop without any usage (no budgets: no timer, no wake-ups). Bursts of changes are taken together: one evaluation per 100 ms at most.

use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;

use super::Meter;

const TICK: Duration = Duration::from_secs(30);
const SETTLE: Duration = Duration::from_millis(100);

pub async fn run(meter: Meter) {
    let mut bus = meter.inner.events.subscribe();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    if let Err(e) = meter.evaluate().await {
        tracing::warn!("cannot evaluate the budgets: {e}");
    }
    loop {
        // Without budgets nothing changes with time alone: no wake-ups then.
        let timed = !meter.budget_states().is_empty();
        let wake = tokio::select! {
            _ = tick.tick(), if timed => true,
            _ = meter.inner.wake.notified() => true,
            ev = bus.recv() => match ev {
                Ok(e) if e.kind == "usage_recorded" => {
                    meter.inner.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                    true
                }
                Ok(e) => e.kind == "limits_updated",
                // Missed events may have been usage: count them as such.
                Err(RecvError::Lagged(_)) => {
                    meter.inner.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                    true
                }
                Err(RecvError::Closed) => return,
            },
        };
        if !wake {
            continue;
        }
        tokio::time::sleep(SETTLE).await;
        // Whatever else came meanwhile is covered by the evaluation that follows.
        loop {
            match bus.try_recv() {
                Ok(e) if e.kind == "usage_recorded" => {
                    meter
                        .inner
                        .generation
                        .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                    meter
                        .inner
                        .generation
                        .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                }
                Err(_) => break,
            }
        }
        if let Err(e) = meter.evaluate().await {
            tracing::warn!("cannot evaluate the budgets: {e}");
        }
    }
}
