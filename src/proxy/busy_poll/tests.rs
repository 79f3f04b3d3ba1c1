use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{BusyPoll, Spun};

fn runtime(poll: &BusyPoll) -> tokio::runtime::Runtime {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _in_runtime = rt.enter();
    assert!(poll.arm(), "the runtime's epoll is found");
    drop(_in_runtime);
    rt
}

/// The last wait as if it had been `ns` long.
fn waited(poll: &BusyPoll, ns: u64) {
    poll.last_wait.store(ns, Ordering::Relaxed);
}

#[test]
fn polls_until_an_event_waits_on_the_runtimes_epoll() {
    let poll = BusyPoll::new(Duration::from_millis(20));
    let rt = runtime(&poll);
    let _in_runtime = rt.enter();
    let (mut writer, reader) = UnixStream::pair().expect("pair");
    reader.set_nonblocking(true).expect("nonblocking");
    let registered = tokio::net::UnixStream::from_std(reader).expect("registered");
    // The runtime takes the new socket's first event (it can be written to) off the epoll.
    rt.block_on(registered.writable()).expect("writable");
    waited(&poll, 1_000);
    assert_eq!(poll.spin(), Spun::Timeout, "nothing waits yet");
    writer.write_all(b"x").expect("write");
    assert_eq!(poll.spin(), Spun::Ready, "the byte is an event");
}

#[test]
fn sleeps_at_once_after_a_long_wait_and_polls_again_after_a_short_one() {
    let poll = BusyPoll::new(Duration::from_millis(20));
    let _rt = runtime(&poll);
    assert_eq!(poll.spin(), Spun::Skipped, "no wait measured yet");
    waited(&poll, 25_000_000);
    assert_eq!(poll.spin(), Spun::Skipped, "a wait over the budget");
    // A wait measured by the hooks: going idle, then woken at once.
    poll.idle_since.store(poll.now_ns(), Ordering::Relaxed);
    poll.after_unpark();
    assert!(poll.last_wait.load(Ordering::Relaxed) < 20_000_000);
    assert_eq!(poll.spin(), Spun::Timeout);
}

#[test]
fn no_budget_or_no_runtime_is_no_polling() {
    let off = BusyPoll::new(Duration::ZERO);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _in_runtime = rt.enter();
    assert!(!off.arm(), "a zero budget never arms");
    waited(&off, 0);
    assert_eq!(off.spin(), Spun::Skipped);
    drop(_in_runtime);

    let outside = BusyPoll::new(Duration::from_millis(1));
    assert!(!outside.arm(), "no runtime, no epoll");
    waited(&outside, 0);
    assert_eq!(outside.spin(), Spun::Skipped);
}

#[test]
fn each_runtime_finds_its_own_epoll() {
    let (a, b) = (
        BusyPoll::new(Duration::from_millis(1)),
        BusyPoll::new(Duration::from_millis(1)),
    );
    let (_ra, _rb) = (runtime(&a), runtime(&b));
    let (fa, fb) = (a.epoll.get().copied(), b.epoll.get().copied());
    assert!(fa.is_some() && fb.is_some());
    assert_ne!(fa, fb, "two instances, two descriptors");
}
