//! An agent that goes away mid-answer (Ctrl-C, a closed socket): the provider bills the
//! whole answer, so the proxy reads the rest of the upstream stream on the side and
//! records its full usage.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::*;
use crate::upstream::{Script, Upstream};

#[test]
fn a_request_cut_off_by_the_agent_is_accounted_in_full() {
    // The upstream sends message_start (the input tokens), then holds the rest (the
    // output tokens in message_delta) back for a moment.
    let up = Upstream::start(Script {
        event_gap: Duration::from_millis(1500),
        ..Default::default()
    });
    let (env, d) = start("px-abandoned", "");
    create_profile(&d, profile("ab", &up.url(), json!({"enabled": true})));
    wait_status(&d, "ab", "running");
    let (port, token) = endpoint(&d, "ab");
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let body = message("claude-sonnet-4", true).to_string();
    write!(
        s,
        "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: {token}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("message_start") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    // The agent goes away in the middle of the answer.
    assert!(!String::from_utf8_lossy(&got).contains("message_delta"));
    s.shutdown(std::net::Shutdown::Both).unwrap();
    drop(s);
    let e = wait_events(&env, 1);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(
        (
            &e[0]["input_tokens"],
            &e[0]["output_tokens"],
            &e[0]["cache_read_input_tokens"]
        ),
        (&json!(1234), &json!(56), &json!(89)),
        "the whole answer's usage, as the upstream billed it: {e:?}"
    );
}
