//! Attention states: what a session's agent is doing, as far as its user is concerned.
//!
//! `idle` (started, no turn yet), `working`, `needs_input` (a permission prompt or a
//! question), `turn_finished` (back at its prompt), `rate_limited`, `errored`, `exited`.
//! "Needs input" and "turn finished" are kept apart: the first blocks the agent, the
//! second only waits for the next prompt.
//!
//! Signals, best first: the agent's own hooks (each agent's events mapped in
//! [`crate::agents::hook_events`]), the proxy's view of its requests (a 429 or a window
//! exhausted, an upstream failure), and the terminal itself for agents without hooks
//! (or when a hook never comes, as when a permission is refused): a key answering a
//! prompt, or a submitted line, makes it `working` *softly*; when output then goes quiet
//! what the program wrote since that input decides — a question in it is
//! `needs_input`, else `turn_finished`. A bell
//! or an OSC 9/777 notification from an agent without hooks is read the same way.
//! `working` reported by a hook is trusted until the next hook: long tool runs are quiet
//! too. [`Tracker`] is the pure state machine; the session feeds it.

use std::time::{Duration, Instant};

pub use super::screen::{Notice, asks};
pub use crate::attention::{Attention, Source};

/// One change of state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub state: Attention,
    pub previous: Attention,
    pub source: Source,
    pub message: Option<String>,
}

/// What the proxy saw of one request of the session's profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyView {
    Ok,
    RateLimited,
    Failed,
}

pub struct Tracker {
    state: Attention,
    /// When the state began (Unix milliseconds), for the "needs you" ordering.
    since_ms: i64,
    message: Option<String>,
    /// Whether the current `working` came from the terminal (quiet may end it).
    soft: bool,
    /// Whether this session's agent has reported through a hook.
    hooked: bool,
    /// Whether the current state came from the proxy (its next success ends it).
    by_proxy: bool,
    last_output: Instant,
    last_input: Instant,
    quiet: Duration,
}

impl Tracker {
    pub fn new(quiet: Duration) -> Self {
        let now = Instant::now();
        Self {
            state: Attention::Idle,
            since_ms: now_ms(),
            message: None,
            soft: false,
            hooked: false,
            by_proxy: false,
            last_output: now,
            last_input: now,
            quiet,
        }
    }

    /// A tracker resumed in `state` (a session adopted after a daemon restart).
    pub fn resumed(quiet: Duration, state: Attention, since_ms: i64, hooked: bool) -> Self {
        let mut t = Self::new(quiet);
        t.state = state;
        t.since_ms = since_ms;
        t.hooked = hooked;
        t
    }

    pub fn state(&self) -> Attention {
        self.state
    }

    pub fn since_ms(&self) -> i64 {
        self.since_ms
    }

    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    pub fn hooked(&self) -> bool {
        self.hooked
    }

    fn set(&mut self, state: Attention, source: Source, message: Option<String>) -> Option<Change> {
        self.soft = false;
        self.by_proxy = source == Source::Proxy;
        if self.state == Attention::Exited || (state == self.state && message == self.message) {
            return None;
        }
        if state == self.state {
            // Same state, new detail: no change to announce.
            self.message = message;
            return None;
        }
        let previous = self.state;
        self.state = state;
        self.since_ms = now_ms();
        self.message = message.clone();
        Some(Change {
            state,
            previous,
            source,
            message,
        })
    }

    /// The agent's hook reported `state`.
    pub fn hook(&mut self, state: Attention, message: Option<String>) -> Option<Change> {
        self.hooked = true;
        self.set(state, Source::Hook, message)
    }

    /// A client typed `data` into the terminal.
    pub fn input(&mut self, data: &[u8]) -> Option<Change> {
        self.last_input = Instant::now();
        let submitted = data.contains(&b'\r') || data.contains(&b'\n');
        // A prompt is answered by Enter, a choice's key or Esc; arrows and Tab only move
        // within it.
        let key = matches!(data, [c] if c.is_ascii_graphic() || *c == 0x1b);
        let answers = self.state == Attention::NeedsInput && (submitted || key);
        let resumes = matches!(
            self.state,
            Attention::Idle | Attention::TurnFinished | Attention::RateLimited | Attention::Errored
        ) && submitted;
        if !(answers || resumes) {
            return None;
        }
        let change = self.set(Attention::Working, Source::Terminal, None);
        self.soft = true;
        change
    }

    /// The program wrote output, carrying `notice` if it rang or notified.
    pub fn output(
        &mut self,
        notice: Option<Notice>,
        screen: impl FnOnce() -> String,
    ) -> Option<Change> {
        self.last_output = Instant::now();
        let notice = notice?;
        if self.hooked || self.state == Attention::Exited {
            return None;
        }
        let text = match &notice {
            Notice::Bell => String::new(),
            Notice::Text(t) => t.clone(),
        };
        let state = if asks(&text) || asks(&screen()) {
            Attention::NeedsInput
        } else {
            Attention::TurnFinished
        };
        let message = (!text.is_empty()).then_some(text);
        self.set(state, Source::Terminal, message)
    }

    /// Called regularly: a soft `working` whose output went quiet ends, as the screen says.
    pub fn tick(&mut self, screen: impl FnOnce() -> String) -> Option<Change> {
        if self.state != Attention::Working || !self.soft {
            return None;
        }
        if self.last_output.elapsed() < self.quiet || self.last_input.elapsed() < self.quiet {
            return None;
        }
        let state = if asks(&screen()) {
            Attention::NeedsInput
        } else {
            Attention::TurnFinished
        };
        self.set(state, Source::Terminal, None)
    }

    /// The proxy answered one of the profile's requests.
    pub fn proxy(&mut self, view: ProxyView, message: Option<String>) -> Option<Change> {
        match view {
            ProxyView::Ok if self.by_proxy => self.set(Attention::Working, Source::Proxy, None),
            ProxyView::RateLimited if self.state == Attention::Working => {
                self.set(Attention::RateLimited, Source::Proxy, message)
            }
            ProxyView::Failed if self.state == Attention::Working => {
                self.set(Attention::Errored, Source::Proxy, message)
            }
            _ => None,
        }
    }

    /// The program ended.
    pub fn exit(&mut self, code: i32) -> Option<Change> {
        self.set(
            Attention::Exited,
            Source::Exit,
            Some(format!("exit code {code}")),
        )
    }
}

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Tracker {
        Tracker::new(Duration::ZERO)
    }

    #[test]
    fn hooks_set_states_and_repeats_are_not_changes() {
        let mut a = t();
        assert_eq!(a.state(), Attention::Idle);
        let c = a.hook(Attention::Working, None).unwrap();
        assert_eq!(
            (c.previous, c.state, c.source),
            (Attention::Idle, Attention::Working, Source::Hook)
        );
        let c = a.hook(Attention::NeedsInput, Some("Bash".into())).unwrap();
        assert_eq!(c.message.as_deref(), Some("Bash"));
        assert_eq!(a.hook(Attention::NeedsInput, Some("Bash".into())), None);
        assert!(a.hook(Attention::TurnFinished, None).is_some());
        assert!(a.exit(0).is_some());
        assert_eq!(
            a.hook(Attention::Working, None),
            None,
            "nothing after the end"
        );
    }

    #[test]
    fn hook_working_survives_quiet_but_typed_working_does_not() {
        let mut a = t();
        a.hook(Attention::Working, None);
        assert_eq!(a.tick(String::new), None);
        a.hook(Attention::NeedsInput, None);
        // A key answers the prompt; no hook follows (a refusal fires none): quiet ends it.
        assert_eq!(a.input(b"4").unwrap().state, Attention::Working);
        assert_eq!(
            a.tick(|| "What should Claude do instead?".into())
                .unwrap()
                .state,
            Attention::TurnFinished
        );
        // Typing without Enter at the prompt is not a turn.
        assert_eq!(a.input(b"hel"), None);
        assert_eq!(a.input(b"lo\r").unwrap().state, Attention::Working);
        a.hook(Attention::NeedsInput, None);
        assert_eq!(a.input(b"\x1b[B"), None, "an arrow moves within the prompt");
        assert_eq!(a.input(b"\t"), None);
        assert_eq!(
            a.input(b"\x1b").unwrap().state,
            Attention::Working,
            "Esc answers"
        );
        a.hook(Attention::NeedsInput, None);
        assert_eq!(a.input(b"\r").unwrap().state, Attention::Working);
        assert_eq!(
            a.tick(|| "Do you want to proceed? 1. Yes".into())
                .unwrap()
                .state,
            Attention::NeedsInput
        );
    }

    #[test]
    fn quiet_waits_for_the_quiet_period() {
        let mut a = Tracker::new(Duration::from_secs(3600));
        a.input(b"\r");
        assert_eq!(a.state(), Attention::Working);
        assert_eq!(a.tick(String::new), None);
    }

    #[test]
    fn notices_count_only_without_hooks() {
        let mut a = t();
        assert_eq!(a.output(None, String::new), None);
        let c = a.output(Some(Notice::Bell), || {
            "Would you like to run the following command?".into()
        });
        assert_eq!(c.unwrap().state, Attention::NeedsInput);
        let c = a.output(
            Some(Notice::Text("Agent turn complete".into())),
            String::new,
        );
        assert_eq!(c.unwrap().state, Attention::TurnFinished);
        let mut h = t();
        h.hook(Attention::Working, None);
        assert_eq!(h.output(Some(Notice::Bell), String::new), None);
    }

    #[test]
    fn proxy_marks_working_sessions_and_its_success_clears() {
        let mut a = t();
        assert_eq!(a.proxy(ProxyView::RateLimited, None), None, "not working");
        a.hook(Attention::Working, None);
        assert_eq!(
            a.proxy(ProxyView::RateLimited, None).unwrap().state,
            Attention::RateLimited
        );
        assert_eq!(
            a.proxy(ProxyView::Ok, None).unwrap().state,
            Attention::Working
        );
        assert_eq!(a.proxy(ProxyView::Ok, None), None);
        assert_eq!(
            a.proxy(ProxyView::Failed, None).unwrap().state,
            Attention::Errored
        );
        a.hook(Attention::TurnFinished, None);
        assert_eq!(a.proxy(ProxyView::Ok, None), None, "a hook's state stays");
    }
}
