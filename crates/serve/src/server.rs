//! Starting and stopping: bind, start the model worker, serve until a shutdown signal, drain.

use crate::batcher::{Batcher, BatcherThread};
use crate::config::ServeConfig;
use crate::error::ServeError;
use crate::metrics::Metrics;
use crate::routes::{AppState, router};
use axum::Router;
use provence_infer::Pruner;
use provence_model::ModelBackend;
use serde_json::{Value, json};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// A bound server with its model worker running; [`Server::run`] serves it.
pub struct Server {
    listener: TcpListener,
    app: Router,
    worker: BatcherThread,
}

impl Server {
    /// Checks the limits and the default threshold, binds `host:port` and starts the thread
    /// that owns `pruner`.
    pub async fn bind<B>(pruner: Pruner<B>, config: &ServeConfig) -> Result<Self, ServeError>
    where
        B: ModelBackend + 'static,
        Pruner<B>: Send,
    {
        let limits = config.limits.clone();
        limits.check().map_err(ServeError::Config)?;
        let threshold = pruner
            .resolve_threshold(config.threshold)
            .map_err(|e| ServeError::Config(e.to_string()))?;
        let info = model_info::<B>(&pruner, config, threshold);
        let addr = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let admitted = Arc::new(Semaphore::new(limits.max_concurrent_requests));
        let metrics = Arc::new(Metrics::default());
        let (batcher, worker) = Batcher::start(pruner, limits.clone(), admitted.clone(), metrics.clone())
            .map_err(|e| ServeError::Batcher(e.to_string()))?;
        let state = AppState {
            batcher,
            admitted,
            metrics,
            info,
            threshold,
            limits,
        };
        Ok(Self {
            listener,
            app: router(Arc::new(state)),
            worker,
        })
    }

    /// The address the server listens on (the port chosen when the config said 0).
    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` completes, then stops accepting connections, answers every
    /// request already received, lets the model worker finish and stops it.
    pub async fn run<F>(self, shutdown: F) -> Result<(), ServeError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        axum::serve(self.listener, self.app)
            .with_graceful_shutdown(shutdown)
            .await?;
        tracing::info!("in-flight requests answered; stopping the model worker");
        let worker = self.worker;
        tokio::task::spawn_blocking(move || worker.stop())
            .await
            .map_err(|e| ServeError::Batcher(e.to_string()))?
            .map_err(ServeError::Batcher)
    }
}

/// Serves `pruner` as `config` says until SIGTERM or Ctrl-C, then drains and returns: the whole
/// `open_provence_eval serve` command after loading the model.
pub fn serve<B>(pruner: Pruner<B>, config: &ServeConfig) -> Result<(), ServeError>
where
    B: ModelBackend + 'static,
    Pruner<B>: Send,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("provence-http")
        .build()?;
    runtime.block_on(async move {
        let server = Server::bind(pruner, config).await?;
        tracing::info!(address = %server.local_addr()?, model = %config.model_id, "listening");
        server.run(shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received; draining in-flight requests");
}

/// The body of `GET /info`.
fn model_info<B: ModelBackend>(pruner: &Pruner<B>, config: &ServeConfig, threshold: f64) -> Value {
    let model = &pruner.model().config;
    let backbone = model.base_model_config.to_json();
    let field = |key: &str| backbone.get(key).cloned().unwrap_or(Value::Null);
    let backend = std::any::type_name::<B>().rsplit("::").next().unwrap_or("unknown");
    let limits = &config.limits;
    json!({
        "model_id": config.model_id,
        "model_type": "reranker-pruner",
        "backbone": {
            "model_type": model.base_model_config.model_type(),
            "base_model_name_or_path": model.base_model_name_or_path,
            "hidden_size": model.base_model_config.hidden_size(),
            "num_hidden_layers": field("num_hidden_layers"),
            "num_attention_heads": field("num_attention_heads"),
            "vocab_size": model.base_model_config.vocab_size(),
        },
        "backend": backend,
        "max_input_length": model.max_length(),
        "default_threshold": threshold,
        "max_batch_tokens": limits.max_batch_tokens,
        "max_batch_requests": limits.max_batch_requests,
        "max_batch_blocks": limits.max_batch_blocks,
        "batch_wait_ms": limits.batch_wait.as_secs_f64() * 1000.0,
        "max_concurrent_requests": limits.max_concurrent_requests,
        "max_client_batch_size": limits.max_client_batch_size,
        "max_body_bytes": limits.max_body_bytes,
        "version": env!("CARGO_PKG_VERSION"),
    })
}
