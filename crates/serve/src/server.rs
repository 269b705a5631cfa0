//! Starting and stopping: bind, start the model worker, serve until a shutdown signal, drain.

use crate::access::{ApiKey, cors};
use crate::batcher::{Batcher, BatcherThread};
use crate::config::ServeConfig;
use crate::error::ServeError;
use crate::info::Info;
use crate::metrics::Metrics;
use crate::openapi;
use crate::routes::{AppState, metrics_router, router};
use crate::scorer::Scorer;
use axum::Router;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// A bound server with its model worker running; [`Server::run`] serves it.
pub struct Server {
    listener: TcpListener,
    app: Router,
    /// The `--prometheus-port` listener and its metrics-only router.
    metrics: Option<(TcpListener, Router)>,
    worker: BatcherThread,
}

impl Server {
    /// Checks the configuration, binds `hostname:port` (and `hostname:prometheus_port`), and
    /// starts the thread that owns `scorer` (a [`provence_infer::Pruner`], or any [`Scorer`]).
    pub async fn bind<S: Scorer>(scorer: S, config: &ServeConfig) -> Result<Self, ServeError> {
        let limits = config.limits.clone();
        limits.check().map_err(ServeError::Config)?;
        let threshold = scorer
            .resolve_threshold(config.threshold)
            .map_err(|e| ServeError::Config(e.to_string()))?;
        let api_key = config.api_key.as_deref().map(ApiKey::new).transpose()?;
        let cors = cors(&config.cors_allow_origin)?;
        let info = Info::new(scorer.card(), config, threshold);
        let listener = bind(&config.hostname, config.port).await?;
        warn_if_public(&config.hostname, config.api_key.is_some());
        let metrics_listener = match config.prometheus_port {
            Some(port) => Some(bind(&config.hostname, port).await?),
            None => None,
        };
        let admitted = Arc::new(Semaphore::new(limits.max_concurrent_requests));
        let metrics = Arc::new(Metrics::default());
        let (batcher, worker) = Batcher::start(scorer, limits.clone(), admitted.clone(), metrics.clone())
            .map_err(|e| ServeError::Batcher(e.to_string()))?;
        let state = Arc::new(AppState {
            batcher,
            admitted,
            metrics,
            info,
            threshold,
            limits,
        });
        let mut app = router(state.clone(), api_key, openapi::routes());
        if let Some(cors) = cors {
            app = app.layer(cors);
        }
        Ok(Self {
            listener,
            app,
            metrics: metrics_listener.map(|l| (l, metrics_router(state))),
            worker,
        })
    }

    /// The service's router (every route and layer, served by this server's model worker), to
    /// answer requests in process without a socket (the fuzz targets do).
    pub fn router(&self) -> Router {
        self.app.clone()
    }

    /// The address the server listens on (the port chosen when the config said 0).
    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        Ok(self.listener.local_addr()?)
    }

    /// The address of the metrics-only listener (`prometheus_port`), if there is one.
    pub fn metrics_addr(&self) -> Result<Option<SocketAddr>, ServeError> {
        self.metrics
            .as_ref()
            .map(|(listener, _)| listener.local_addr())
            .transpose()
            .map_err(ServeError::Io)
    }

    /// Serves until `shutdown` completes, then stops accepting connections, answers every
    /// request already received, lets the model worker finish and stops it (and the metrics
    /// listener).
    pub async fn run<F>(self, shutdown: F) -> Result<(), ServeError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let metrics = self
            .metrics
            .map(|(listener, app)| tokio::spawn(axum::serve(listener, app).into_future()));
        let served = axum::serve(self.listener, self.app)
            .with_graceful_shutdown(shutdown)
            .await;
        if let Some(task) = metrics {
            task.abort();
        }
        served?;
        tracing::info!("in-flight requests answered; stopping the model worker");
        let worker = self.worker;
        tokio::task::spawn_blocking(move || worker.stop())
            .await
            .map_err(|e| ServeError::Batcher(e.to_string()))?
            .map_err(ServeError::Batcher)
    }
}

async fn bind(hostname: &str, port: u16) -> Result<TcpListener, ServeError> {
    // A bare IPv6 address needs brackets before the port.
    let addr = match hostname.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, port).to_string(),
        Err(_) => format!("{hostname}:{port}"),
    };
    TcpListener::bind(&addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Logs a warning when the server listens on every interface.
fn warn_if_public(hostname: &str, has_key: bool) {
    if hostname.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified()) {
        let access = if has_key {
            "requests need the API key"
        } else {
            "without --api-key anyone who can reach it can use the model"
        };
        tracing::warn!(hostname, "listening on every network interface; {access}");
    }
}

/// Serves `scorer` as `config` says until SIGTERM or Ctrl-C, then drains and returns: the whole
/// `open_provence_eval serve` command after loading the model.
pub fn serve<S: Scorer>(scorer: S, config: &ServeConfig) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("provence-http")
        .build()?;
    runtime.block_on(async move {
        let server = Server::bind(scorer, config).await?;
        tracing::info!(address = %server.local_addr()?, model = %config.model_id, "listening");
        if let Some(metrics) = server.metrics_addr()? {
            tracing::info!(address = %metrics, "metrics listening");
        }
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
