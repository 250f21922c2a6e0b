//! Real tracker servers on 127.0.0.1 for the server tests, and the client side of the
//! protocol they need.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracker::TrackerConfig;

pub const HASH: &str = "LF5ru/aNcTeuFIVnksyB";

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Server {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(config: TrackerConfig) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(tracker::serve(listener, config, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            stop: Some(stop),
            task,
        }
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn connect(&self) -> Ws {
        tokio_tungstenite::connect_async(self.ws_url("/announce"))
            .await
            .unwrap()
            .0
    }

    /// Sends the shutdown signal without waiting for the server to stop.
    pub fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub async fn shutdown(mut self) {
        self.signal_stop();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap()
            .unwrap();
    }
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

pub async fn recv(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("socket open")
            .unwrap();
        if let Message::Text(text) = msg {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

pub fn peer(n: u8) -> String {
    format!("-PM0203-00000000000{}", char::from(b'a' + n))
}

pub fn announce(peer_id: &str, offers: usize) -> Value {
    let offers: Vec<Value> = (0..offers)
        .map(|k| json!({"offer": {"type": "offer", "sdp": format!("sdp-{k}")}, "offer_id": format!("\u{0}\u{ff}offer-{k}-xxxxxxxxxxx")}))
        .collect();
    json!({"action": "announce", "info_hash": HASH, "peer_id": peer_id, "numwant": offers.len(),
           "uploaded": 0, "downloaded": 0, "event": "started", "offers": offers})
}

pub fn http_status(err: tungstenite::Error) -> u16 {
    match err {
        tungstenite::Error::Http(response) => response.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

/// The `/metrics` text.
pub async fn metrics(server: &Server) -> String {
    reqwest::get(server.http("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
