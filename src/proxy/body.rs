//! The response body the agent receives: the upstream body, frame for frame as it
//! arrives, with the usage tap reading along and an idle timeout between frames.
//!
//! When the body ends — completely, with an upstream error or on the idle timeout — the
//! usage seen is reported once. When the agent goes away first (Ctrl-C, a closed socket)
//! and the body is dropped mid-answer, the provider still bills the request: the rest of
//! the upstream answer is read on the side (bounded by the idle timeout between frames,
//! [`DRAIN_TIME`] and [`DRAIN_BYTES`]) so its usage is reported too.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::{Body, Bytes, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::client::UpBody;
use super::report::{Attempt, Reporter};
use super::translate::Translator;
use super::usage_tap::UsageTap;
use crate::records::UsageEvent;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long the rest of an answer is read after the agent went away, at most.
const DRAIN_TIME: Duration = Duration::from_secs(300);
/// How much of it, at most.
const DRAIN_BYTES: usize = 64 * 1024 * 1024;
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// What a finished request reports besides the tokens.
pub struct ReportCtx {
    pub reporter: Reporter,
    pub profile: String,
    pub agent: String,
    pub provider: String,
    /// The model sent upstream, used when the response names none.
    pub model: Option<String>,
    /// For `/metrics`: the response's status, when the attempt began, and how long the
    /// first body byte took.
    pub status: u16,
    pub started: std::time::Instant,
    pub ttfb: Option<Duration>,
    /// The inspector's entry of this request (`super::inspect`).
    pub entry: Option<super::inspect::Entry>,
    /// The key that answered: its pool label and last four characters.
    pub key_label: String,
    pub key_hint: Option<String>,
}

pub struct TapBody {
    first: Option<Frame<Bytes>>,
    /// Taken when the agent went away mid-answer, to read the rest on the side.
    inner: Option<UpBody>,
    idle: Duration,
    sleep: Pin<Box<Sleep>>,
    tap: Option<UsageTap>,
    report: Option<ReportCtx>,
    translator: Option<Translator>,
    /// The last frame handed to the agent, read by the tap and the inspector only on the
    /// next turn (or after the answer went out), not before it is written.
    held: Option<Bytes>,
    ended: bool,
}

impl TapBody {
    pub fn new(
        first: Option<Frame<Bytes>>,
        inner: UpBody,
        idle: Duration,
        tap: Option<UsageTap>,
        report: ReportCtx,
        translator: Option<Translator>,
    ) -> Self {
        let mut body = Self {
            first: None,
            inner: Some(inner),
            idle,
            sleep: Box::pin(tokio::time::sleep(idle)),
            tap,
            report: Some(report),
            translator,
            held: None,
            ended: false,
        };
        if let Some(f) = first.and_then(|f| body.translate(f)) {
            body.hold(&f);
            body.first = Some(f);
        }
        body
    }

    /// The frame the agent gets for one from upstream: itself, or its translation
    /// (None while the translation has nothing to send yet).
    fn translate(&mut self, frame: Frame<Bytes>) -> Option<Frame<Bytes>> {
        let Some(t) = self.translator.as_mut() else {
            return Some(frame);
        };
        match frame.into_data() {
            Ok(data) => {
                let out = t.feed(&data);
                (!out.is_empty()).then(|| Frame::data(Bytes::from(out)))
            }
            Err(other) => Some(other),
        }
    }

    pub fn boxed(self) -> ProxyBody {
        BodyExt::boxed(self)
    }

    /// Keeps a frame going out to be read after it went (the one before is read now).
    fn hold(&mut self, frame: &Frame<Bytes>) {
        self.see_held();
        self.held = frame.data_ref().cloned();
    }

    fn see_held(&mut self) {
        if let Some(data) = self.held.take() {
            see(self.tap.as_mut(), self.report.as_mut(), &data);
        }
    }

    /// The upstream's answer is over: what a translation still holds of its end (seen, and
    /// the last frame to send), then the usage reported.
    fn end(&mut self) -> Option<Frame<Bytes>> {
        let tail = self
            .translator
            .take()
            .map(|mut t| t.finish())
            .filter(|out| !out.is_empty())
            .map(|out| Frame::data(Bytes::from(out)));
        if let Some(frame) = &tail {
            self.hold(frame);
        }
        self.finish();
        tail
    }

    /// Reports the usage seen, once: on a task of its own when in a runtime, so that reading
    /// the last frame, the inspector's entry and the reports come after the answer's last
    /// bytes are written to the agent, not before.
    fn finish(&mut self) {
        self.ended = true;
        let Some(mut ctx) = self.report.take() else {
            return;
        };
        let ended = std::time::Instant::now();
        let held = self.held.take();
        let mut tap = self.tap.take();
        let work = move || {
            if let Some(data) = held {
                see(tap.as_mut(), Some(&mut ctx), &data);
            }
            report(ctx, tap.as_mut(), ended);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn(async move { work() })),
            Err(_) => work(),
        }
    }
}

/// What the agent got of an answer, read by the usage tap and the inspector's entry.
fn see(tap: Option<&mut UsageTap>, ctx: Option<&mut ReportCtx>, data: &[u8]) {
    if let Some(tap) = tap {
        tap.feed(data);
    }
    if let Some(entry) = ctx.and_then(|c| c.entry.as_mut()) {
        entry.see(data);
    }
}

/// Reports one finished request (for `/metrics` and the inspector) and what `tap` read
/// of its answer, which ended at `ended`.
fn report(mut ctx: ReportCtx, tap: Option<&mut UsageTap>, ended: std::time::Instant) {
    let used = tap.and_then(|t| t.finish());
    if let Some(entry) = ctx.entry.take() {
        let (model, tokens) = used
            .as_ref()
            .map(|(m, t)| (m.as_deref(), Some(t)))
            .unwrap_or_default();
        entry.done(
            ctx.ttfb.map(|t| t.as_secs_f64() * 1000.0),
            tokens,
            model,
            ended,
        );
    }
    // The event first, then the attempt (see `Reporter::request`).
    if let Some((model, usage)) = used
        && let Some(model) = model.or(ctx.model.take())
    {
        let event = UsageEvent {
            profile: ctx.profile.clone(),
            agent: Some(std::mem::take(&mut ctx.agent)),
            provider: Some(ctx.provider.clone()),
            model,
            ts: Some(jiff::Timestamp::now().as_second()),
            tokens: usage,
            source: "proxy".into(),
            session_id: None,
            dedupe_key: Some(dedupe_key()),
            key_label: Some(std::mem::take(&mut ctx.key_label)),
            key_hint: ctx.key_hint.take(),
            links: Default::default(),
        };
        // A count no real answer has (a broken or hostile upstream) is not reported: the
        // daemon would refuse it, and it must not cost the other events of its batch.
        match event.validate() {
            Ok(()) => ctx.reporter.report(event),
            Err(e) => tracing::warn!("usage of a response not recorded: {e}"),
        }
    }
    ctx.reporter.request(Attempt {
        profile: &ctx.profile,
        target: &ctx.provider,
        status: ctx.status,
        duration: ended.duration_since(ctx.started),
        ttfb: ctx.ttfb,
    });
}

/// The rest of an answer the agent stopped reading: read to its end (bounded), fed to
/// the translation and the tap as if forwarded, then reported.
async fn drain(
    mut inner: UpBody,
    mut tap: UsageTap,
    mut translator: Option<Translator>,
    ctx: ReportCtx,
    idle: Duration,
) {
    let started = Instant::now();
    let mut read = 0usize;
    loop {
        let left = DRAIN_TIME.saturating_sub(started.elapsed()).min(idle);
        match tokio::time::timeout(left, inner.frame()).await {
            Ok(Some(Ok(frame))) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                read += data.len();
                match translator.as_mut() {
                    Some(t) => tap.feed(&t.feed(&data)),
                    None => tap.feed(&data),
                }
                if read > DRAIN_BYTES {
                    tracing::warn!(
                        "the rest of an abandoned answer is over {DRAIN_BYTES} bytes; reporting what was read"
                    );
                    break;
                }
            }
            Ok(None) => {
                if let Some(mut t) = translator.take() {
                    tap.feed(&t.finish());
                }
                break;
            }
            Ok(Some(Err(e))) => {
                tracing::warn!("upstream answer broke off after the agent went away: {e}");
                break;
            }
            Err(_) => {
                tracing::warn!(
                    "the rest of an abandoned answer did not come in time; reporting what was read"
                );
                break;
            }
        }
    }
    report(ctx, Some(&mut tap), std::time::Instant::now());
}

/// `proxy:<random per process>:<counter>`: unique without a random draw per request.
fn dedupe_key() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| uuid::Uuid::new_v4().simple().to_string());
    format!("proxy:{prefix}:{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

impl Body for TapBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Some(f) = this.first.take() {
            return Poll::Ready(Some(Ok(f)));
        }
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            let Some(inner) = this.inner.as_mut() else {
                return Poll::Ready(None);
            };
            return match Pin::new(inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let deadline = Instant::now() + this.idle;
                    this.sleep.as_mut().reset(deadline);
                    let Some(frame) = this.translate(frame) else {
                        continue;
                    };
                    this.hold(&frame);
                    Poll::Ready(Some(Ok(frame)))
                }
                Poll::Ready(Some(Err(e))) => {
                    tracing::warn!("upstream response broke off: {e}");
                    this.finish();
                    Poll::Ready(Some(Err(Box::new(e))))
                }
                Poll::Ready(None) => Poll::Ready(this.end().map(Ok)),
                Poll::Pending => {
                    if this.sleep.as_mut().poll(cx).is_ready() {
                        tracing::warn!(
                            "upstream sent nothing for {:?}; cutting the response",
                            this.idle
                        );
                        this.finish();
                        return Poll::Ready(Some(Err("upstream idle timeout".into())));
                    }
                    Poll::Pending
                }
            };
        }
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none()
            && (self.ended
                || (self.translator.is_none()
                    && self.inner.as_ref().is_none_or(|i| i.is_end_stream())))
    }

    fn size_hint(&self) -> SizeHint {
        if self.translator.is_some() {
            return SizeHint::default();
        }
        let Some(inner) = self.inner.as_ref().map(|i| i.size_hint()) else {
            return SizeHint::default();
        };
        let Some(n) = self
            .first
            .as_ref()
            .and_then(|f| f.data_ref())
            .map(|d| d.len() as u64)
        else {
            return inner;
        };
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + n);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + n);
        }
        hint
    }
}

impl Drop for TapBody {
    fn drop(&mut self) {
        if self.report.is_none() {
            return;
        }
        // Everything was read (hyper stops polling a fixed-length answer once its length
        // is sent, before the end is seen): report here, without a task to drain nothing.
        if !self.ended && self.inner.as_ref().is_some_and(|i| i.is_end_stream()) {
            self.end();
            return;
        }
        // The agent went away mid-answer: read the rest on the side, then report.
        self.see_held();
        if !self.ended
            && self.inner.is_some()
            && self.tap.is_some()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
            && let (Some(inner), Some(tap), Some(ctx)) =
                (self.inner.take(), self.tap.take(), self.report.take())
        {
            rt.spawn(drain(inner, tap, self.translator.take(), ctx, self.idle));
            return;
        }
        self.finish();
    }
}
