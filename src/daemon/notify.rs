//! Service-manager notifications (`sd_notify`): readiness, status, reload, stopping and
//! the watchdog. Every call is a no-op when `NOTIFY_SOCKET` is unset.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!("service manager notification failed: {e}");
    }
}

pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[
            NotifyState::Reloading,
            now,
            NotifyState::Status("Reloading configuration"),
        ]),
        Err(_) => send(&[
            NotifyState::Reloading,
            NotifyState::Status("Reloading configuration"),
        ]),
    }
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("Shutting down")]);
}

pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// The watchdog interval requested by the service manager, following sd_watchdog_enabled:
/// `WATCHDOG_USEC` set and `WATCHDOG_PID` either unset or our pid.
pub fn watchdog_interval(env: &crate::paths::Env) -> Option<Duration> {
    let usec: u64 = env.get("WATCHDOG_USEC")?.parse().ok().filter(|&u| u > 0)?;
    if let Some(pid) = env.get("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    Some(Duration::from_micros(usec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_env_rules() {
        let mut env = crate::paths::Env::new();
        assert_eq!(watchdog_interval(&env), None);
        env.insert("WATCHDOG_USEC".into(), "2000000".into());
        assert_eq!(watchdog_interval(&env), Some(Duration::from_secs(2)));
        env.insert("WATCHDOG_PID".into(), "1".into());
        assert_eq!(watchdog_interval(&env), None);
        env.insert("WATCHDOG_PID".into(), std::process::id().to_string());
        assert_eq!(watchdog_interval(&env), Some(Duration::from_secs(2)));
    }
}
