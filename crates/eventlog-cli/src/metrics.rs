//! `GET /metrics` of `eventlog serve`: a Prometheus recorder for everything the library and
//! the web crate record, served on `[server] metrics_bind`, an address of its own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use eventlog::metrics::{BATCH_SIZE, BATCH_SIZE_BUCKETS, SECONDS_BUCKETS};
use eventlog::store::Backend;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// How often histograms are folded for rendering when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The metrics listener and its tasks; stopped when dropped.
pub struct MetricsServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Installs the process's Prometheus recorder and serves it on `bind`. The pool gauges are
/// read from `store` at each scrape.
pub async fn start(bind: SocketAddr, store: Arc<dyn Backend>) -> anyhow::Result<MetricsServer> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(BATCH_SIZE.into()), BATCH_SIZE_BUCKETS)?
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    eventlog::metrics::describe();
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind} ([server] metrics_bind)"))?;
    let addr = listener.local_addr()?;
    let upkeep = {
        let handle = handle.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(UPKEEP_INTERVAL);
            loop {
                ticker.tick().await;
                handle.run_upkeep();
            }
        })
    };
    let router = axum::Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            let store = store.clone();
            async move {
                store.pool_status().record();
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
                    .into_response()
            }
        }),
    );
    let server = tokio::spawn(async move {
        if let Err(e) = eventlog_web::serve(listener, router, std::future::pending()).await {
            tracing::error!(error = %e, "metrics server failed");
        }
    });
    Ok(MetricsServer {
        addr,
        tasks: vec![upkeep, server],
    })
}
