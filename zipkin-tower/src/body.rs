//! The response body of an instrumented service: the body unchanged, carrying a gRPC span to
//! its trailers.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http_body::{Body, Frame, SizeHint};
use zipkin_runtime::Span;

use crate::grpc;

pin_project_lite::pin_project! {
    /// A response body as the service made it. For a gRPC call whose status comes in the
    /// trailers, it carries the span until then: the trailers' `grpc-status` is tagged and the
    /// span ends at the end of the body (or when the body is dropped).
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        // Boxed: only a sampled gRPC call with its status in the trailers carries a span here,
        // and an inline `Option<Span>` made every response larger by a whole span, moved with
        // `memcpy` wherever the response goes (benchmark: http_layers/server_layer_unsampled).
        span: Option<Box<Span>>,
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(inner: B, span: Option<Span>) -> ResponseBody<B> {
        ResponseBody {
            inner,
            span: span.map(Box::new),
        }
    }

    /// The service's own body.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if this.span.is_some() {
            match &frame {
                Some(Ok(f)) => {
                    if let Some(trailers) = f.trailers_ref() {
                        if let Some(mut span) = this.span.take() {
                            if let Some(code) = grpc::status(trailers) {
                                grpc::tag_status(&mut span, code);
                            }
                        }
                    }
                }
                Some(Err(_)) => {
                    if let Some(mut span) = this.span.take() {
                        span.tag("error", "response body failed");
                    }
                }
                None => *this.span = None,
            }
        }
        Poll::Ready(frame)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
