//! The HTTP(S) listener: hyper connections, TLS, and translation between
//! hyper requests and the simulator's own request and response types.

use crate::api::{self, Body, Request};
use crate::core::Core;
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

type RespBody = BoxBody<Bytes, Infallible>;

/// Accepts connections until `shutdown` turns true; then closes the open ones.
pub async fn serve(
    listener: TcpListener,
    core: Arc<Core>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let core = core.clone();
        let tls = tls.clone();
        let mut stop = shutdown.clone();
        let conn = async move {
            match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => serve_connection(TokioIo::new(s), core).await,
                    Err(e) => tracing::debug!(error = %e, "TLS handshake failed"),
                },
                None => serve_connection(TokioIo::new(stream), core).await,
            }
        };
        // A stopped server closes its open connections (watches included)
        // at once, as a dying kube-apiserver does, so that a restart on the
        // same port is seen by clients.
        tokio::spawn(async move {
            tokio::select! {
                () = conn => {}
                _ = stop.changed() => {}
            }
        });
    }
}

async fn serve_connection<IO>(io: TokioIo<IO>, core: Arc<Core>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| {
        let core = core.clone();
        async move { respond(core, req).await }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, svc)
        .await
    {
        tracing::debug!(error = %e, "connection ended");
    }
}

async fn respond(
    core: Arc<Core>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<RespBody>, std::io::Error> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let header = |n: &str| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let request = Request {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(parse_query).unwrap_or_default(),
        content_type: header("content-type")
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string(),
        accept: header("accept").unwrap_or_default(),
        user_agent: header("user-agent").unwrap_or_default(),
        authorization: header("authorization"),
        body,
    };
    let resp = api::handle(core, request).await;
    if resp.drop_connection {
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "injected dropped connection",
        ));
    }
    let mut builder = hyper::Response::builder().status(resp.code);
    for (k, v) in &resp.headers {
        builder = builder.header(*k, v);
    }
    let body: RespBody =
        match resp.body {
            Body::Json(v) => {
                builder = builder.header("content-type", "application/json");
                Full::new(Bytes::from(serde_json::to_vec(&v).unwrap_or_default())).boxed()
            }
            Body::RawJson(b) => {
                builder = builder.header("content-type", "application/json");
                Full::new(b).boxed()
            }
            Body::Text(t) => {
                builder = builder.header("content-type", "text/plain; charset=utf-8");
                Full::new(Bytes::from(t)).boxed()
            }
            Body::Stream(rx) => {
                builder = builder
                    .header("content-type", "application/json")
                    .header("transfer-encoding", "chunked");
                let stream = futures::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|b| (b, rx))
                })
                .map(|b| Ok::<_, Infallible>(Frame::data(b)));
                BodyExt::boxed(StreamBody::new(stream))
            }
        };
    builder.body(body).map_err(std::io::Error::other)
}

/// Decodes `a=b&c=d` with percent-escapes and `+` as space.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}
