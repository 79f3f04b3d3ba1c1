//! The response body the agent receives: the upstream body, frame for frame as it
//! arrives, with the usage tap reading along and an idle timeout between frames.
//!
//! When the body ends — completely, with an upstream error, on the idle timeout, or
//! because the agent went away and the body was dropped — the usage seen so far is
//! reported once.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use super::report::Reporter;
use super::usage_tap::UsageTap;
use crate::store::usage::UsageEvent;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// What a finished request reports besides the tokens.
pub struct ReportCtx {
    pub reporter: Reporter,
    pub profile: String,
    pub agent: String,
    pub provider: String,
    /// The model sent upstream, used when the response names none.
    pub model: Option<String>,
}

pub struct TapBody {
    first: Option<Frame<Bytes>>,
    inner: Incoming,
    idle: Duration,
    sleep: Pin<Box<Sleep>>,
    tap: Option<UsageTap>,
    report: Option<ReportCtx>,
    ended: bool,
}

impl TapBody {
    pub fn new(
        first: Option<Frame<Bytes>>,
        inner: Incoming,
        idle: Duration,
        tap: Option<UsageTap>,
        report: ReportCtx,
    ) -> Self {
        let mut body = Self {
            first: None,
            inner,
            idle,
            sleep: Box::pin(tokio::time::sleep(idle)),
            tap,
            report: Some(report),
            ended: false,
        };
        if let Some(f) = first {
            body.see(&f);
            body.first = Some(f);
        }
        body
    }

    pub fn boxed(self) -> ProxyBody {
        BodyExt::boxed(self)
    }

    fn see(&mut self, frame: &Frame<Bytes>) {
        if let (Some(tap), Some(data)) = (self.tap.as_mut(), frame.data_ref()) {
            tap.feed(data);
        }
    }

    /// Reports the usage seen, once.
    fn finish(&mut self) {
        self.ended = true;
        let (Some(ctx), Some(tap)) = (self.report.take(), self.tap.as_mut()) else {
            return;
        };
        let Some((model, usage)) = tap.finish() else {
            return;
        };
        let Some(model) = model.or(ctx.model) else {
            return;
        };
        ctx.reporter.report(UsageEvent {
            profile: ctx.profile,
            agent: Some(ctx.agent),
            provider: Some(ctx.provider),
            model,
            ts: Some(jiff::Timestamp::now().as_second()),
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cache_creation_input_tokens: usage.cache_creation_input_tokens,
            cache_read_input_tokens: usage.cache_read_input_tokens,
            cache_creation_1h_input_tokens: usage.cache_creation_1h_input_tokens,
            source: "proxy".into(),
            session_id: None,
            dedupe_key: Some(dedupe_key()),
        });
    }
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
        if this.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.see(&frame);
                let deadline = Instant::now() + this.idle;
                this.sleep.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                tracing::warn!("upstream response broke off: {e}");
                this.finish();
                Poll::Ready(Some(Err(Box::new(e))))
            }
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
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
        }
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && (self.ended || self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
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
        if self.report.is_some() {
            self.finish();
        }
    }
}
