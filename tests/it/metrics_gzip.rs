//! `GET /metrics` gzipped for scrapers that send `Accept-Encoding: gzip` (Prometheus
//! does): the decoded body holds exactly the samples of the plain one, in both formats,
//! before and after new events change some pairs (and add pairs before, between and after
//! the existing ones, enough to cut blocks again) and after profiles change; the body is
//! a single gzip member, so clients reading only the first member get everything too.

use std::io::Read;

use serde_json::json;

use crate::helpers::*;

const OPENMETRICS: &str = "application/openmetrics-text;version=1.0.0";

fn scrape(d: &Daemon, accept: Option<&str>, encoding: Option<&str>) -> Resp {
    let auth = format!("Bearer {}", d.token);
    let mut h = vec![("Authorization", auth.as_str())];
    if let Some(a) = accept {
        h.push(("Accept", a));
    }
    if let Some(e) = encoding {
        h.push(("Accept-Encoding", e));
    }
    let r = request(d.port, "GET", "/metrics", &h, b"");
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

/// The body without the lines that differ between any two scrapes (the process's own
/// figures, the scrape counter).
fn stable(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("process_") && !l.starts_with("clown_metrics_scrapes_total"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A plain and a gzipped scrape in `accept`'s format: the same samples; returns the text.
fn same_both_ways(d: &Daemon, accept: Option<&str>) -> String {
    let plain = scrape(d, accept, None);
    assert_eq!(plain.header("content-encoding"), None);
    let gz = scrape(d, accept, Some("gzip"));
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("content-type"), plain.header("content-type"));
    for r in [&plain, &gz] {
        let vary = r.header("vary").unwrap_or_default().to_ascii_lowercase();
        assert!(vary.contains("accept-encoding"), "{vary}");
    }
    // All members, as Prometheus (Go) and Python read a gzip body ...
    let mut all = String::new();
    flate2::read::MultiGzDecoder::new(&gz.body[..])
        .read_to_string(&mut all)
        .expect("a gzip body");
    // ... and only the first, as some clients do: the body is one member.
    let mut first = String::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_string(&mut first)
        .unwrap();
    assert_eq!(first, all);
    let text = plain.text();
    assert_eq!(stable(&all), stable(&text));
    assert!(
        gz.body.len() * 4 < text.len(),
        "{} of {}",
        gz.body.len(),
        text.len()
    );
    all
}

fn events(d: &Daemon, list: &[(&str, String, u64)], tag: &str) {
    let events: Vec<_> = list
        .iter()
        .enumerate()
        .map(|(i, (profile, model, n))| {
            json!({"profile": profile, "model": model, "source": "test",
                   "input_tokens": n, "output_tokens": 1, "dedupe_key": format!("{tag}-{i}")})
        })
        .collect();
    d.api(
        "POST",
        "/api/usage/record",
        Some(&json!({"events": events})),
    )
    .expect_ok();
}

fn value(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|rest| rest.trim().parse().ok())
}

#[test]
fn gzip_scrapes_decode_to_the_plain_samples() {
    let env = TestEnv::new("metrics-gzip");
    let d = Daemon::start(&env);
    for alias in ["ga", "gm", "gz"] {
        d.api(
            "POST",
            "/api/profiles",
            Some(
                &json!({"alias": alias, "agent_id": "claude", "provider_id": "anthropic",
                          "api_key": "sk-ant-gzip-0123456789abcdef"}),
            ),
        )
        .expect_ok();
    }
    // 3 profiles x 100 models: 300 pairs, several blocks of rows.
    let mut first = Vec::new();
    for p in ["ga", "gm", "gz"] {
        for m in 0..100 {
            first.push((p, format!("model-{m:03}"), 10 + m));
        }
    }
    events(&d, &first, "one");
    let text = same_both_ways(&d, None);
    let line = |p: &str, m: &str| {
        format!(
            "clown_tokens_total{{profile=\"{p}\",agent=\"claude\",provider=\"anthropic\",model=\"{m}\",kind=\"input\"}} "
        )
    };
    assert_eq!(value(&text, &line("gm", "model-050")), Some(60.0));
    same_both_ways(&d, Some(OPENMETRICS));
    // Nothing changed: the same again.
    same_both_ways(&d, None);

    // Some pairs change; new pairs sort before every row, between two blocks and after
    // every row (200 of them in one block, which is cut again).
    let mut second = vec![
        ("gm", "model-050".to_string(), 1000),
        ("ga", "model-000".to_string(), 5),
        ("gz", "model-099".to_string(), 5),
        ("a-first", "model-000".to_string(), 3),
        ("zz-last", "model-000".to_string(), 4),
    ];
    for m in 0..200 {
        second.push(("gm", format!("model-050-{m:03}"), 1));
    }
    events(&d, &second, "two");
    let text = same_both_ways(&d, None);
    assert_eq!(value(&text, &line("gm", "model-050")), Some(1060.0));
    assert_eq!(value(&text, &line("ga", "model-000")), Some(15.0));
    assert!(text.contains("clown_tokens_total{profile=\"a-first\",agent=\"unknown\""));
    assert!(text.contains("clown_tokens_total{profile=\"gm\",agent=\"claude\",provider=\"anthropic\",model=\"model-050-199\""));
    let om = same_both_ways(&d, Some(OPENMETRICS));
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("# TYPE clown_tokens counter"));

    // A profile created for rows that named none: its agent and provider show.
    d.api(
        "POST",
        "/api/profiles",
        Some(
            &json!({"alias": "zz-last", "agent_id": "codex", "provider_id": "openai",
                      "api_key": "sk-gzip-0123456789abcdef"}),
        ),
    )
    .expect_ok();
    let text = same_both_ways(&d, None);
    assert!(
        text.contains("clown_tokens_total{profile=\"zz-last\",agent=\"codex\",provider=\"openai\"")
    );
    same_both_ways(&d, Some(OPENMETRICS));
    // A profile deleted: its rows stay, their agent no longer known.
    d.api("DELETE", "/api/profiles/ga", None).expect_ok();
    let text = same_both_ways(&d, None);
    assert!(text.contains("clown_tokens_total{profile=\"ga\",agent=\"unknown\",provider=\"unknown\",model=\"model-000\""), "{text}");
    // The scrapes counted by format and encoding (this one included).
    let text = scrape(&d, None, Some("gzip;q=0")).text();
    let count = |f: &str, e: &str| {
        value(
            &text,
            &format!("clown_metrics_scrapes_total{{format=\"{f}\",encoding=\"{e}\"}} "),
        )
    };
    assert_eq!(count("text", "gzip"), Some(5.0), "{text}");
    assert_eq!(count("text", "identity"), Some(6.0), "{text}");
    assert_eq!(count("openmetrics", "gzip"), Some(3.0), "{text}");
}
