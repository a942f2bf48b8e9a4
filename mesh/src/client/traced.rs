//! The response body of an outgoing call, holding the call's CLIENT span
//! until the answer has been read, so the span lasts as long as the call
//! and records its gRPC status: from the headers of a trailers-only answer
//! (how refusals come), else from the trailers.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use http_body::Frame;
use tonic::{Status, body::Body};
use tracing::Span;

use crate::telemetry::record_client_status;

pin_project_lite::pin_project! {
    /// A response body that ends its call's CLIENT span.
    #[derive(Debug)]
    pub struct ClientBody {
        #[pin]
        body: Body,
        span: Option<Span>,
    }
}

impl ClientBody {
    /// `response`'s body, tied to `span`.
    pub(crate) fn wrap(span: Span, response: http::Response<Body>) -> http::Response<Self> {
        if let Some(code) = grpc_status(response.headers()) {
            record_client_status(&span, code);
        }
        response.map(|body| Self {
            body,
            span: Some(span),
        })
    }

    /// A call answered here with `status`, never sent.
    pub(crate) fn finished(span: Span, status: Status) -> http::Response<Self> {
        Self::wrap(span, status.into_http())
    }
}

impl http_body::Body for ClientBody {
    type Data = <Body as http_body::Body>::Data;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.body.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(code), Some(span)) = (
                    frame.trailers_ref().and_then(grpc_status),
                    this.span.as_ref(),
                ) {
                    record_client_status(span, code);
                }
            }
            Poll::Ready(None | Some(Err(_))) => {
                this.span.take();
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The numeric `grpc-status` in `headers`, if any.
fn grpc_status(headers: &http::HeaderMap) -> Option<i64> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}
