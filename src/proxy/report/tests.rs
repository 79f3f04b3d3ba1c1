use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;

use super::*;
use crate::tokens::Tokens;

/// A daemon stand-in that holds its first post (the first reporter then waits on it, as a
/// reporter the CPUs leave no time to would) until `release` is notified, or for good, and
/// counts the events of the others.
async fn daemon(release: Option<Arc<Notify>>) -> (String, Arc<AtomicUsize>, Arc<AtomicBool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let counted = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(AtomicBool::new(false));
    let (c, h) = (counted.clone(), held.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (c, h) = (c.clone(), h.clone());
            let release = release.clone();
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                let (c, h, release) = (c.clone(), h.clone(), release.clone());
                async move {
                    let body = req.into_body().collect().await?.to_bytes();
                    if !h.swap(true, Ordering::SeqCst) {
                        match release {
                            Some(r) => r.notified().await,
                            None => std::future::pending::<()>().await,
                        }
                        return Ok(hyper::Response::new(Full::new(Bytes::from("{}"))));
                    }
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    c.fetch_add(v["events"].as_array().map_or(0, Vec::len), Ordering::SeqCst);
                    Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from("{}"))))
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (url, counted, held)
}

fn event(n: usize) -> UsageEvent {
    UsageEvent {
        profile: "p".into(),
        model: "m".into(),
        ts: Some(1_800_000_000),
        tokens: Tokens {
            input_tokens: 1,
            ..Default::default()
        },
        source: "proxy".into(),
        dedupe_key: Some(format!("proxy:t:{n}")),
        ..Default::default()
    }
}

/// A reporter whose first post (event 0) the stand-in daemon holds; its daemon's count of
/// the events of the other posts; the tests' deadline.
async fn stuck(
    release: Option<Arc<Notify>>,
) -> (Reporter, ReporterTask, Arc<AtomicUsize>, Instant) {
    let (url, counted, held) = daemon(release).await;
    let (reporter, task) = Reporter::spawn(Some(url), None);
    reporter.report(event(0));
    let until = Instant::now() + Duration::from_secs(10);
    while !held.load(Ordering::SeqCst) {
        assert!(Instant::now() < until, "the first post never came");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (reporter, task, counted, until)
}

/// Waits until the daemon counted `n` events (by `until`), then checks it counted no more.
async fn reaches(counted: &AtomicUsize, n: usize, until: Instant) {
    while counted.load(Ordering::SeqCst) < n {
        assert!(
            Instant::now() < until,
            "the relief reporter sent {} of {n} events",
            counted.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(counted.load(Ordering::SeqCst), n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_beyond_the_backlog_go_through_the_relief_reporter() {
    let (reporter, _task, counted, until) = stuck(None).await;
    // The first reporter is stuck on its post: its queue fills up to the backlog, and
    // what comes after goes to the relief reporter, which gets it to the daemon.
    for n in 1..=RELIEF_AT + 250 {
        reporter.report(event(n));
    }
    reaches(&counted, 250, until).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_waiting_on_a_reporter_that_shows_no_sign_go_through_the_relief() {
    let (reporter, _task, counted, until) = stuck(None).await;
    // A few wait on the stuck reporter; past RELIEF_AFTER the next ones take the relief.
    for n in 1..=5 {
        reporter.report(event(n));
    }
    tokio::time::sleep(RELIEF_AFTER + Duration::from_millis(200)).await;
    assert_eq!(counted.load(Ordering::SeqCst), 0);
    for n in 6..=12 {
        reporter.report(event(n));
    }
    reaches(&counted, 7, until).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_ends_with_both_reporters_once_they_sent_everything() {
    let release = Arc::new(Notify::new());
    let (reporter, task, counted, until) = stuck(Some(release.clone())).await;
    for n in 1..=RELIEF_AT + 10 {
        reporter.report(event(n));
    }
    reaches(&counted, 10, until).await;
    drop(reporter);
    // The first reporter's post is answered now; the relief has nothing left. The flush
    // ends once the first reporter sent the rest, well before its limit.
    release.notify_one();
    let started = Instant::now();
    task.flush(Duration::from_secs(60)).await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(counted.load(Ordering::SeqCst), RELIEF_AT + 10);
}

#[test]
fn a_batch_carries_only_the_last_requests_the_inspector_keeps() {
    let shared = Shared::default();
    shared.keep.store(3, std::sync::atomic::Ordering::Relaxed);
    let entry = |n: u64| crate::requests::InspectedRequest {
        profile: "p".into(),
        duration_ms: n as f64,
        ..Default::default()
    };
    // Only the first entry since the last batch wakes the reporter.
    let wakes: Vec<bool> = (0..10).map(|n| shared.hold_inspected(entry(n))).collect();
    assert_eq!(wakes.iter().filter(|w| **w).count(), 1);
    assert!(wakes[0]);
    let kept = shared.take_inspected();
    let durations: Vec<f64> = kept.requests.iter().map(|r| r.duration_ms).collect();
    assert_eq!(durations, [7.0, 8.0, 9.0]);
    assert_eq!(kept.skipped, 7);
    // Taken: the next one wakes it again, and nothing is counted twice.
    assert!(shared.hold_inspected(entry(10)));
    let kept = shared.take_inspected();
    assert_eq!((kept.requests.len(), kept.skipped), (1, 0));
}
