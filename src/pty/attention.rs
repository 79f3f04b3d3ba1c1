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

pub use crate::attention::{Attention, Source};

/// One change of state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub state: Attention,
    pub previous: Attention,
    pub source: Source,
    pub message: Option<String>,
}

/// A notification the terminal's output carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Bell,
    /// OSC 9 or OSC 777 `notify`: the text.
    Text(String),
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

/// Phrases of a question an agent waits on (compared without case, spaces or escapes).
const QUESTIONS: &[&str] = &[
    "doyouwanttoproceed",
    "wouldyouliketorun",
    "wouldyouliketomake",
    "doyouwanttomake",
    "doyouwanttocreate",
    "doyouwanttoallow",
    "allowthisaction",
    "approvalrequested",
    "waitingforapproval",
    "waitingforyourapproval",
    "needsyourpermission",
    "needsyourapproval",
    "(y/n)",
    "[y/n]",
];

/// Whether `text` (a screen or a notification) asks its user something.
pub fn asks(text: &str) -> bool {
    let flat: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    QUESTIONS.iter().any(|q| flat.contains(q))
}

/// The visible text of terminal output: escape sequences and control characters removed.
pub fn strip_escapes(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x1b => {
                i += 1;
                match bytes.get(i) {
                    Some(b'[') => {
                        i += 1;
                        while i < bytes.len() && !(0x40..=0x7e).contains(&bytes[i]) {
                            i += 1;
                        }
                        i += 1;
                    }
                    Some(b']' | b'P' | b'_' | b'^') => {
                        i += 1;
                        while i < bytes.len() {
                            if bytes[i] == 0x07 {
                                i += 1;
                                break;
                            }
                            if bytes[i] == 0x1b && bytes.get(i + 1) == Some(&b'\\') {
                                i += 2;
                                break;
                            }
                            i += 1;
                        }
                    }
                    Some(_) => i += 1,
                    None => {}
                }
            }
            b'\n' | b'\r' | b'\t' => {
                out.push(b' ');
                i += 1;
            }
            c if c < 0x20 || c == 0x7f => i += 1,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Finds bells and OSC 9/777 notifications in a terminal's output, across chunks.
#[derive(Default)]
pub struct NoticeScanner {
    /// Inside `ESC ]`: the sequence's bytes so far (bounded).
    osc: Option<Vec<u8>>,
    /// The previous chunk ended with ESC.
    escape: bool,
}

const MAX_OSC: usize = 4096;

impl NoticeScanner {
    /// The last notice in `chunk`, if any.
    pub fn scan(&mut self, chunk: &[u8]) -> Option<Notice> {
        let mut found = None;
        let mut i = 0;
        while i < chunk.len() {
            if let Some(osc) = &mut self.osc {
                // The sequence ends with BEL or ST (ESC \).
                let end = memchr::memchr2(0x07, 0x1b, &chunk[i..]).map(|p| i + p);
                match end {
                    None => {
                        let room = MAX_OSC.saturating_sub(osc.len());
                        osc.extend_from_slice(&chunk[i..chunk.len().min(i + room)]);
                        return found;
                    }
                    Some(p) => {
                        let room = MAX_OSC.saturating_sub(osc.len());
                        osc.extend_from_slice(&chunk[i..p.min(i + room)]);
                        let seq = self.osc.take().unwrap_or_default();
                        if let Some(n) = osc_notice(&seq) {
                            found = Some(n);
                        }
                        i = if chunk[p] == 0x1b { p + 2 } else { p + 1 };
                        continue;
                    }
                }
            }
            if self.escape {
                self.escape = false;
                if chunk[i] == b']' {
                    self.osc = Some(Vec::new());
                    i += 1;
                    continue;
                }
            }
            match memchr::memchr2(0x07, 0x1b, &chunk[i..]) {
                None => break,
                Some(p) => {
                    let p = i + p;
                    if chunk[p] == 0x07 {
                        found = Some(Notice::Bell);
                        i = p + 1;
                    } else if p + 1 == chunk.len() {
                        self.escape = true;
                        i = p + 1;
                    } else if chunk[p + 1] == b']' {
                        self.osc = Some(Vec::new());
                        i = p + 2;
                    } else {
                        i = p + 1;
                    }
                }
            }
        }
        found
    }
}

/// The notice an OSC sequence's body (between `ESC ]` and its end) carries.
fn osc_notice(seq: &[u8]) -> Option<Notice> {
    let text = String::from_utf8_lossy(seq);
    if let Some(rest) = text.strip_prefix("9;") {
        // `OSC 9 ; 4 ; …` is ConEmu's progress report, not a notification.
        if rest.starts_with("4;") {
            return None;
        }
        return Some(Notice::Text(rest.to_string()));
    }
    if let Some(rest) = text.strip_prefix("777;notify;") {
        return Some(Notice::Text(rest.replacen(';', ": ", 1)));
    }
    None
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

    #[test]
    fn scanner_finds_bells_and_osc_notifications_across_chunks() {
        let mut s = NoticeScanner::default();
        assert_eq!(s.scan(b"plain text"), None);
        assert_eq!(s.scan(b"ding\x07"), Some(Notice::Bell));
        // A title set with OSC 0 ends with BEL: that is not a bell.
        assert_eq!(s.scan(b"\x1b]0;title\x07"), None);
        assert_eq!(
            s.scan(b"\x1b]9;Approval requested\x1b\\"),
            Some(Notice::Text("Approval requested".into()))
        );
        assert_eq!(s.scan(b"\x1b]9;4;1;50\x07"), None, "progress");
        assert_eq!(s.scan(b"x\x1b"), None);
        assert_eq!(s.scan(b"]777;notify;Codex;"), None);
        assert_eq!(
            s.scan(b"Turn done\x07more"),
            Some(Notice::Text("Codex: Turn done".into()))
        );
        assert_eq!(s.scan(b"\x1b[31mred\x1b[0m"), None);
    }

    #[test]
    fn screen_text_and_questions() {
        let screen = strip_escapes(
            b"\x1b[2J\x1b[1;1H Do\x1b[1Cyou want\r\nto proceed?\x1b]0;t\x07 \xe2\x9d\xaf 1. Yes",
        );
        assert!(asks(&screen), "{screen}");
        assert!(!asks("Hello from the test upstream."));
        assert_eq!(Attention::parse("needs_input"), Some(Attention::NeedsInput));
        assert!(Attention::TurnFinished.waiting() && !Attention::Working.waiting());
    }
}
