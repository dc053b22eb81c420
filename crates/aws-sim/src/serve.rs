//! Serving a router on a loopback port until told to stop.

use std::net::SocketAddr;

use axum::Router;

/// A router being served. Dropping it stops accepting connections.
pub struct Serving {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Serving {
    /// Binds `addr` (port 0 picks a free port) and serves `router` on it;
    /// `name` labels the log lines.
    pub async fn bind(
        addr: SocketAddr,
        router: Router,
        name: &'static str,
    ) -> std::io::Result<Serving> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let r = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(e) = r.await {
                tracing::error!(error = %e, "{name} server failed");
            }
        });
        tracing::info!(%addr, "{name} listening");
        Ok(Serving {
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and waits for in-flight requests.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
