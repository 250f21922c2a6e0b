//! The tokio server: a thin I/O layer around [`Tracker`].
//!
//! One port serves WebSocket upgrades on `/` and `/announce` and the HTTP endpoints. Each
//! TCP connection (optionally TLS) gets one task. Its first request head is read by
//! [`handshake`]: a WebSocket upgrade is answered there and the connection becomes a
//! [`ws`] task (decode, lock the state machine, route the output to bounded
//! [`outbox::Outbox`]es, write batches); any other request goes to hyper and axum.

mod access;
pub(crate) mod cluster;
pub(crate) mod drain;
pub(crate) mod handshake;
pub(crate) mod http;
pub mod metrics;
pub mod outbox;
mod qoe;
mod ws;

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::admission::Admission;
use crate::config::{TlsFiles, TrackerConfig};
use crate::swarm::{ConnId, Tracker};

use self::metrics::Metrics;
use self::outbox::Outbox;

/// The state machine, what it admits, and where each connection's frames go, behind one
/// lock.
pub(crate) struct Core {
    pub tracker: Tracker,
    pub admission: Admission,
    pub routes: HashMap<ConnId, Arc<Outbox>>,
    /// What goes to and comes from the other nodes; `None` without `--redis`.
    pub cluster: Option<cluster::ClusterCore>,
}

/// What every task of the server shares.
pub(crate) struct Shared {
    pub config: TrackerConfig,
    core: Mutex<Core>,
    pub metrics: Metrics,
    pub limits: access::ConnectionLimits,
    pub shutdown: CancellationToken,
    pub drain: drain::Drain,
    pub tasks: TaskTracker,
    /// The Redis side of a cluster node; `None` without `--redis`.
    pub cluster: Option<cluster::ClusterLink>,
    next_conn: AtomicU64,
    /// Origin of the coarse clock the sweeper compares against.
    started: Instant,
}

impl Shared {
    pub fn core(&self) -> MutexGuard<'_, Core> {
        // A panic while holding the lock would be a bug; the state stays usable.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn next_conn_id(&self) -> ConnId {
        ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    /// Whole seconds since the server started, plus one (0 means "never").
    pub fn clock_secs(&self, at: Instant) -> u32 {
        at.saturating_duration_since(self.started).as_secs() as u32 + 1
    }
}

/// Loads the PEM certificate chain and private key for `wss://`.
pub fn load_tls(files: &TlsFiles) -> io::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot read the TLS {what} {}: {e}", path.display()),
        )
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| bad("certificate", &files.cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("certificate", &files.cert, &e))?;
    if certs.is_empty() {
        return Err(bad("certificate", &files.cert, &"no CERTIFICATE block"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| bad("key", &files.key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("key", &files.key, &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves the tracker on `listener` until `shutdown` resolves, then drains for
/// `config.drain` ([`drain`]), closes every connection (WebSocket close 1001) and waits up
/// to `config.shutdown_grace` for them.
///
/// Logs `tracker listening on ws://ADDR` (or `wss://`) once ready.
pub async fn serve(
    listener: TcpListener,
    config: TrackerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let tls = config.tls.as_ref().map(load_tls).transpose()?;
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let seed = config.seed.unwrap_or_else(|| fastrand::u64(..));
    let mut admission = Admission::new(
        config.limits,
        config.swarm.max_offers_per_announce,
        Instant::now(),
    );
    if let Some(list) = &config.swarm_list {
        admission.set_swarms(Some(list.borrow().clone()));
    }
    let link = config
        .cluster
        .clone()
        .map(cluster::ClusterLink::new)
        .transpose()?;
    let mut tracker = Tracker::new(config.swarm.clone(), seed);
    tracker.set_clustered(link.is_some());
    let shared = Arc::new(Shared {
        core: Mutex::new(Core {
            tracker,
            admission,
            routes: HashMap::new(),
            cluster: link
                .as_ref()
                .map(|l| cluster::ClusterCore::new(l.config.max_queued)),
        }),
        cluster: link,
        metrics: Metrics::default(),
        limits: access::ConnectionLimits::default(),
        shutdown: CancellationToken::new(),
        drain: drain::Drain::default(),
        tasks: TaskTracker::new(),
        next_conn: AtomicU64::new(1),
        started: Instant::now(),
        config,
    });
    let router = http::router(shared.clone());
    let addr = listener.local_addr()?;
    let scheme = if acceptor.is_some() { "wss" } else { "ws" };
    tracing::info!("tracker listening on {scheme}://{addr}");

    shared.tasks.spawn(sweep(shared.clone()));
    if shared.cluster.is_some() {
        cluster::spawn(&shared);
    }
    let open_sockets = Arc::new(AtomicUsize::new(0));
    // Sockets beyond this are closed at once, before any TLS or HTTP work.
    let max_sockets = shared.config.max_connections + 1024;
    let shutdown = drain::after(shutdown, shared.clone());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Usually EMFILE: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if open_sockets.load(Ordering::Relaxed) >= max_sockets {
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let guard = SocketGuard::new(open_sockets.clone());
        let (shared, router, acceptor) = (shared.clone(), router.clone(), acceptor.clone());
        let tasks = shared.tasks.clone();
        match acceptor {
            None => {
                let opening = open(stream, peer, router, shared);
                tasks.spawn(ConnectionTask::new(guard, Box::pin(opening)));
            }
            Some(acceptor) => {
                let opening = async move {
                    let handshake = shared.config.handshake_timeout;
                    match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => open(tls, peer, router, shared).await,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, "TLS handshake failed: {e}");
                            None
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            None
                        }
                    }
                };
                tasks.spawn(ConnectionTask::new(guard, Box::pin(opening)));
            }
        }
    }
    drop(listener);
    tracing::info!("tracker shutting down");
    shared.shutdown.cancel();
    shared.tasks.close();
    if tokio::time::timeout(shared.config.shutdown_grace, shared.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close in time");
    }
    Ok(())
}

struct SocketGuard(Arc<AtomicUsize>);

impl SocketGuard {
    fn new(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        SocketGuard(count)
    }
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One TCP connection's task, written by hand so that while it serves a WebSocket it holds
/// exactly a [`ws::Connection`]: the request head, TLS handshake and HTTP serving before,
/// and the close handshake after, run boxed and are freed when done.
struct ConnectionTask<S> {
    phase: Phase<S>,
    _guard: SocketGuard,
}

enum Phase<S> {
    /// Reading the first request: serves HTTP to the end, or yields a WebSocket.
    Opening(BoxFuture<Option<ws::Connection<S>>>),
    Open(ws::Connection<S>),
    Closing(BoxFuture<()>),
    Done,
}

impl<S> ConnectionTask<S> {
    fn new(guard: SocketGuard, opening: BoxFuture<Option<ws::Connection<S>>>) -> Self {
        ConnectionTask {
            phase: Phase::Opening(opening),
            _guard: guard,
        }
    }
}

impl<S> Future for ConnectionTask<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            match &mut this.phase {
                Phase::Opening(opening) => match ready!(opening.as_mut().poll(cx)) {
                    Some(connection) => this.phase = Phase::Open(connection),
                    None => this.phase = Phase::Done,
                },
                Phase::Open(connection) => {
                    let end = ready!(connection.poll_run(cx));
                    let Phase::Open(connection) = std::mem::replace(&mut this.phase, Phase::Done)
                    else {
                        unreachable!("matched above")
                    };
                    if let Some(closing) = connection.finish(end) {
                        this.phase = Phase::Closing(Box::pin(closing));
                    }
                }
                Phase::Closing(closing) => {
                    ready!(closing.as_mut().poll(cx));
                    this.phase = Phase::Done;
                }
                Phase::Done => return Poll::Ready(()),
            }
        }
    }
}

/// Reads the first request: serves HTTP to the end, or accepts a WebSocket and returns it.
async fn open<S>(
    mut stream: S,
    peer: SocketAddr,
    router: axum::Router,
    shared: Arc<Shared>,
) -> Option<ws::Connection<S>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    use handshake::Request;
    let timeout = shared.config.handshake_timeout;
    let request = tokio::time::timeout(
        timeout,
        handshake::read_request(&mut stream, &shared.config),
    );
    let mut upgrade = match request.await {
        Ok(Ok(Request::WebSocket(upgrade))) => upgrade,
        Ok(Ok(Request::Http(head))) => {
            let stream = handshake::Prefixed::new(head, stream);
            serve_http(stream, peer, router, shared).await;
            return None;
        }
        Ok(Err(e)) => {
            tracing::debug!(%peer, "reading the request failed: {e}");
            return None;
        }
        Err(_) => {
            tracing::debug!(%peer, "request head timed out");
            return None;
        }
    };
    let slot = match upgrade.take_refusal() {
        Some(refusal) => Err(refusal),
        None if shared.drain.is_draining() => Err(drain::refusal()),
        None => shared.limits.acquire(client_ip(peer), &shared.config),
    };
    let slot = match slot {
        Ok(slot) => slot,
        Err(refusal) => {
            if let Some(reason) = refusal.reason {
                shared.metrics.rejected(reason);
            }
            tracing::debug!(%peer, "refused a connection: {}", refusal.message);
            let refuse = handshake::refuse(&mut stream, &refusal);
            let _ = tokio::time::timeout(timeout, refuse).await;
            return None;
        }
    };
    let accept = tokio::time::timeout(timeout, upgrade.accept(&mut stream));
    if !matches!(accept.await, Ok(Ok(()))) {
        return None;
    }
    let rest = std::mem::take(&mut upgrade.rest);
    let access = std::mem::take(&mut upgrade.access);
    Some(ws::Connection::open(
        stream,
        rest,
        shared,
        slot,
        client_ip(peer),
        access,
    ))
}

async fn serve_http<S>(stream: S, peer: SocketAddr, router: axum::Router, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        router.clone().oneshot(req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.config.handshake_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, "HTTP connection ended: {e}");
            }
        }
        _ = shared.shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(shared.config.shutdown_grace, conn).await;
        }
    }
}

/// Once a second: expires peers, offers and stats, closes connections that are idle or whose
/// socket accepts nothing (one timer for all connections), and takes a new private swarm
/// list if there is one. On shutdown, asks every connection to close.
async fn sweep(shared: Arc<Shared>) {
    let period = Duration::from_secs(1);
    let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX).max(1);
    let idle = secs(shared.config.idle_timeout);
    let write = secs(shared.config.write_timeout);
    let mut swarm_list = shared.config.swarm_list.clone();
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            _ = tokio::time::sleep(period) => {}
        }
        let now = Instant::now();
        let clock = shared.clock_secs(now);
        let fresh_list = swarm_list
            .as_mut()
            .filter(|l| l.has_changed().unwrap_or(false))
            .map(|l| l.borrow_and_update().clone());
        let mut core = shared.core();
        if let Some(list) = fresh_list {
            core.admission.set_swarms(Some(list));
        }
        core.tracker.expire(now);
        if core.collect_cluster() {
            if let Some(cluster) = &shared.cluster {
                cluster.wake.notify_one();
            }
        }
        for outbox in core.routes.values() {
            let stalled = outbox.write_stalled_since.load(Ordering::Relaxed);
            if stalled != 0 && clock.saturating_sub(stalled) >= write {
                shared.metrics.closed(metrics::Closed::WriteTimeout);
                outbox.abort();
            } else if clock.saturating_sub(outbox.last_read.load(Ordering::Relaxed)) >= idle
                && !outbox.is_closed()
            {
                shared.metrics.closed(metrics::Closed::Idle);
                outbox.close(ws::POLICY, "idle for too long");
            }
        }
    }
    for outbox in shared.core().routes.values() {
        outbox.close(ws::GOING_AWAY, "tracker shutting down");
    }
}

/// The IP a connection counts against for the per-IP limit (IPv4-mapped IPv6 as IPv4).
pub(crate) fn client_ip(addr: SocketAddr) -> IpAddr {
    match addr.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The task of an idle WebSocket is this future plus tokio's task header and trailer
    /// (about 100 bytes), in a 128-byte aligned cell: past 144 bytes it takes 384, not 256.
    #[test]
    fn an_idle_connection_task_fits_a_256_byte_task_cell() {
        let task = std::mem::size_of::<ConnectionTask<tokio::net::TcpStream>>();
        assert!(task <= 144, "ConnectionTask<TcpStream> is {task} bytes");
    }
}
