//! What a terminal's output says to someone looking at it: its visible text (escape
//! sequences removed), whether that text asks its user something, and the bells and
//! OSC 9 / 777 notifications in it (found across chunks, as the reader gets them).

/// A notification the terminal's output carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Bell,
    /// OSC 9 or OSC 777 `notify`: the text.
    Text(String),
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
    use crate::attention::Attention;

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
