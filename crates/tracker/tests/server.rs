//! The tracker server over real sockets on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message};

use tracker::TrackerConfig;

mod support;

use support::{announce, http_status, peer, recv, send, Server, HASH};

#[tokio::test]
async fn offers_and_answers_are_relayed_between_sockets() {
    let server = Server::start(TrackerConfig::default()).await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    send(&mut a, announce(&peer(0), 0)).await;
    let response = recv(&mut a).await;
    assert_eq!(response["action"], "announce");
    assert_eq!(response["info_hash"], HASH);
    assert_eq!(response["incomplete"], 1);
    assert_eq!(response["interval"], 120);

    send(&mut b, announce(&peer(1), 3)).await;
    assert_eq!(recv(&mut b).await["incomplete"], 2);
    let offer = recv(&mut a).await;
    assert_eq!(offer["peer_id"], peer(1));
    assert_eq!(offer["offer"]["type"], "offer");
    let offer_id = offer["offer_id"].as_str().unwrap().to_owned();
    assert!(
        offer_id.starts_with("\u{0}\u{ff}offer-"),
        "binary offer_id relayed exactly"
    );

    send(
        &mut a,
        json!({"action": "announce", "info_hash": HASH, "peer_id": peer(0),
        "to_peer_id": peer(1), "offer_id": offer_id, "answer": {"type": "answer", "sdp": "ans"}}),
    )
    .await;
    let answer = recv(&mut b).await;
    assert_eq!(answer["peer_id"], peer(0));
    assert_eq!(answer["offer_id"], offer_id.as_str());
    assert_eq!(answer["answer"]["sdp"], "ans");

    let scrape = {
        send(&mut b, json!({"action": "scrape", "info_hash": [HASH]})).await;
        recv(&mut b).await
    };
    assert_eq!(scrape["files"][HASH]["incomplete"], 2);

    // Closing a socket removes its peers.
    a.close(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    send(&mut b, json!({"action": "scrape", "info_hash": HASH})).await;
    assert_eq!(recv(&mut b).await["files"][HASH]["incomplete"], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_frames_get_error_frames_and_the_socket_stays_open() {
    let server = Server::start(TrackerConfig::default()).await;
    let mut ws = server.connect().await;
    ws.send(Message::text("{not json")).await.unwrap();
    let err = recv(&mut ws).await;
    assert_eq!(err["action"], "announce");
    assert_eq!(err["info_hash"], "");
    assert!(err["failure reason"]
        .as_str()
        .unwrap()
        .contains("invalid JSON"));

    send(
        &mut ws,
        json!({"action": "announce", "info_hash": HASH, "peer_id": "short"}),
    )
    .await;
    let err = recv(&mut ws).await;
    assert_eq!(err["info_hash"], HASH);
    assert!(err["failure reason"].is_string());

    send(&mut ws, announce(&peer(0), 0)).await;
    assert_eq!(recv(&mut ws).await["complete"], 0);
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_messages_close_the_connection_with_1009() {
    let server = Server::start(TrackerConfig {
        max_message_size: 2048,
        ..TrackerConfig::default()
    })
    .await;
    let mut ws = server.connect().await;
    ws.send(Message::text("x".repeat(4096))).await.unwrap();
    let close = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(close.map(|f| u16::from(f.code)), Some(1009));
    server.shutdown().await;
}

#[tokio::test]
async fn token_origin_and_connection_limits_refuse_upgrades_clearly() {
    let server = Server::start(TrackerConfig {
        token: Some("s3cret".into()),
        allowed_origins: vec!["https://good.example".into()],
        max_connections_per_ip: 2,
        ..TrackerConfig::default()
    })
    .await;
    let err = tokio_tungstenite::connect_async(server.ws_url("/announce"))
        .await
        .unwrap_err();
    assert_eq!(http_status(err), 401);
    let err = tokio_tungstenite::connect_async(server.ws_url("/?token=wrong"))
        .await
        .unwrap_err();
    assert_eq!(http_status(err), 401);

    let mut request = tungstenite::client::IntoClientRequest::into_client_request(
        server.ws_url("/?token=s3cret"),
    )
    .unwrap();
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let err = tokio_tungstenite::connect_async(request).await.unwrap_err();
    assert_eq!(http_status(err), 403);

    let mut request = tungstenite::client::IntoClientRequest::into_client_request(
        server.ws_url("/?token=s3cret"),
    )
    .unwrap();
    request
        .headers_mut()
        .insert("origin", "https://good.example".parse().unwrap());
    let (_one, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let (_two, _) = tokio_tungstenite::connect_async(server.ws_url("/announce?token=s3cret"))
        .await
        .unwrap();
    let err = tokio_tungstenite::connect_async(server.ws_url("/?token=s3cret"))
        .await
        .unwrap_err();
    assert_eq!(http_status(err), 429);

    let metrics = reqwest::get(server.http("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tracker_rejected_connections_total{reason=\"token\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("tracker_rejected_connections_total{reason=\"origin\"} 1"));
    assert!(metrics.contains("tracker_rejected_connections_total{reason=\"connections_per_ip\"} 1"));
    assert!(metrics.contains("tracker_connections 2"));
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_connections_with_going_away() {
    let server = Server::start(TrackerConfig::default()).await;
    let mut ws = server.connect().await;
    send(&mut ws, announce(&peer(0), 0)).await;
    recv(&mut ws).await;
    let closing = tokio::spawn(async move {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    });
    server.shutdown().await;
    assert_eq!(closing.await.unwrap(), Some(1001));
}

#[tokio::test]
async fn channel_api_ranks_swarms_and_shows_stats_from_both_ingest_paths() {
    let server = Server::start(TrackerConfig::default()).await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    send(&mut a, announce(&peer(0), 0)).await;
    recv(&mut a).await;
    send(&mut b, announce(&peer(1), 0)).await;
    recv(&mut b).await;
    let other = "OTHERHASHxxxxxxxxxxx";
    send(
        &mut b,
        json!({"action": "announce", "info_hash": other, "peer_id": peer(2)}),
    )
    .await;
    recv(&mut b).await;

    let stats = |peer_id: String, http: u64, p2p: u64| {
        json!({"action": "stats", "info_hash": HASH, "peer_id": peer_id, "channel": "https://cdn.example/live/index.m3u8",
               "http_down": http, "p2p_down": p2p, "p2p_up": 10, "peers": 1, "rebuffers": 0})
    };
    send(&mut a, stats(peer(0), 1000, 500)).await;
    send(&mut a, stats(peer(0), 1500, 700)).await;
    // Bad stats get an error frame with action "stats".
    send(
        &mut a,
        json!({"action": "stats", "info_hash": HASH, "peer_id": peer(0)}),
    )
    .await;
    let err = recv(&mut a).await;
    assert_eq!(err["action"], "stats");
    assert_eq!(err["info_hash"], HASH);

    let client = reqwest::Client::new();
    let posted = client
        .post(server.http("/stats"))
        .header("content-type", "text/plain")
        .body(stats(peer(1), 100, 0).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 204);
    assert_eq!(posted.headers()["access-control-allow-origin"], "*");
    let bad = client
        .post(server.http("/stats"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);

    let list: Value = reqwest::get(server.http("/channels"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["swarms"], 2);
    let top = &list["channels"][0];
    assert_eq!(top["info_hash"], HASH);
    assert_eq!(top["peers"], 2);
    assert_eq!(top["leechers"], 2);
    assert_eq!(top["channel"], "https://cdn.example/live/index.m3u8");
    assert_eq!(top["viewers"], 2);
    assert_eq!(top["http_bytes"], 1600);
    assert_eq!(top["p2p_bytes"], 700);
    assert_eq!(top["upload_bytes"], 20);
    assert_eq!(list["channels"][1]["channel"], Value::Null);

    let encoded = HASH.replace('/', "%2F");
    let one: Value = reqwest::get(server.http(&format!("/channels/{encoded}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["peers"], 2);
    let hex = one["info_hash_hex"].as_str().unwrap().to_owned();
    let by_hex: Value = reqwest::get(server.http(&format!("/channels/{hex}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_hex["info_hash"], HASH);
    let missing = reqwest::get(server.http("/channels/NOSUCHHASHxxxxxxxxxx"))
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    server.shutdown().await;
}

#[tokio::test]
async fn wss_with_built_in_tls() {
    let dir = std::env::temp_dir().join(format!("swarmcast-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
    let server = Server::start(TrackerConfig {
        tls: Some(tracker::TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }),
        ..TrackerConfig::default()
    })
    .await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let client_config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(client_config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let url = format!("wss://localhost:{}/announce", server.addr.port());
    let (mut ws, _) = tokio_tungstenite::client_async(url, tls).await.unwrap();
    ws.send(Message::text(announce(&peer(0), 0).to_string()))
        .await
        .unwrap();
    let Some(Ok(Message::Text(text))) = ws.next().await else {
        panic!("no response")
    };
    let response: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(response["incomplete"], 1);
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A WebSocket opened by hand, to send frames no well-behaved client library would.
struct RawClient {
    tcp: TcpStream,
}

impl RawClient {
    async fn connect(server: &Server) -> RawClient {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        let request = format!(
            "GET /announce HTTP/1.1\r\nhost: {}\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n",
            server.addr
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0];
            tcp.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(head.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        RawClient { tcp }
    }

    /// A client frame, masked unless `masked` is false.
    fn frame(fin: bool, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
        let mask = masked.then_some([0xa1, 0x02, 0x7f, 0x40]);
        let mut out = Vec::new();
        tracker::websocket::encode_client_frame(fin, opcode, payload, mask, &mut out);
        out
    }

    async fn send_bytes(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.tcp.write_all(bytes).await.unwrap();
    }

    /// The next server frame: (opcode, payload). Server frames are never masked.
    async fn recv(&mut self) -> (u8, Vec<u8>) {
        use tokio::io::AsyncReadExt;
        let read = async {
            let mut head = [0; 2];
            self.tcp.read_exact(&mut head).await.unwrap();
            assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
            let len = match head[1] & 0x7f {
                126 => usize::from(self.tcp.read_u16().await.unwrap()),
                127 => self.tcp.read_u64().await.unwrap() as usize,
                n => usize::from(n),
            };
            let mut payload = vec![0; len];
            self.tcp.read_exact(&mut payload).await.unwrap();
            assert_eq!(head[0] & 0x80, 0x80, "server frames are not fragmented");
            (head[0] & 0x0f, payload)
        };
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("a frame within 5 s")
    }

    /// Reads until the server's close frame; returns its status code.
    async fn close_code(&mut self) -> u16 {
        loop {
            let (opcode, payload) = self.recv().await;
            if opcode == 0x8 {
                return u16::from_be_bytes([payload[0], payload[1]]);
            }
        }
    }
}

#[tokio::test]
async fn pings_fragments_and_frames_split_across_reads_are_handled() {
    let server = Server::start(TrackerConfig::default()).await;
    let mut raw = RawClient::connect(&server).await;
    raw.send_bytes(&RawClient::frame(true, 0x9, b"are you there", true))
        .await;
    assert_eq!(raw.recv().await, (0xA, b"are you there".to_vec()));

    // An announce in three fragments with a ping between them, sent a few bytes at a time.
    let text = announce(&peer(0), 0).to_string().into_bytes();
    let (a, rest) = text.split_at(10);
    let (b, c) = rest.split_at(rest.len() / 2);
    let mut bytes = RawClient::frame(false, 0x1, a, true);
    bytes.extend(RawClient::frame(true, 0x9, b"p", true));
    bytes.extend(RawClient::frame(false, 0x0, b, true));
    bytes.extend(RawClient::frame(true, 0x0, c, true));
    for chunk in bytes.chunks(7) {
        raw.send_bytes(chunk).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(raw.recv().await, (0xA, b"p".to_vec()));
    let (opcode, payload) = raw.recv().await;
    assert_eq!(opcode, 0x1);
    let response: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(response["incomplete"], 1);

    // The client closes: the server answers with the same status.
    raw.send_bytes(&RawClient::frame(
        true,
        0x8,
        &[0x0f, 0xa0, b'b', b'y', b'e'],
        true,
    ))
    .await;
    assert_eq!(raw.close_code().await, 4000);
    server.shutdown().await;
}

#[tokio::test]
async fn protocol_violations_close_with_the_matching_code() {
    let server = Server::start(TrackerConfig {
        max_message_size: 2048,
        ..TrackerConfig::default()
    })
    .await;
    let cases: [(Vec<u8>, u16); 4] = [
        (RawClient::frame(true, 0x1, b"{}", false), 1002),
        (RawClient::frame(true, 0x1, &[b'{', 0xff, b'}'], true), 1007),
        (RawClient::frame(true, 0x0, b"{}", true), 1002),
        // Refused from the header alone: the payload never arrives.
        (
            RawClient::frame(true, 0x1, &[b' '; 3000], true)[..8].to_vec(),
            1009,
        ),
    ];
    for (bytes, code) in cases {
        let mut raw = RawClient::connect(&server).await;
        raw.send_bytes(&bytes).await;
        assert_eq!(raw.close_code().await, code);
    }
    let metrics = reqwest::get(server.http("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("tracker_closed_connections_total{reason=\"protocol_error\"} 3"));
    assert!(metrics.contains("tracker_closed_connections_total{reason=\"message_too_big\"} 1"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_message_larger_than_one_read_is_reassembled() {
    let server = Server::start(TrackerConfig::default()).await;
    let mut ws = server.connect().await;
    // 40 KB, more than the 16 KiB a single read takes: valid JSON the tracker refuses with
    // an error frame, which it can only send after reading the whole message.
    let mut big = announce(&peer(0), 0);
    big["padding"] = json!("x".repeat(40_000));
    big["peer_id"] = json!("short");
    send(&mut ws, big).await;
    let err = recv(&mut ws).await;
    assert_eq!(err["info_hash"], HASH);
    assert!(err["failure reason"].is_string());
    send(&mut ws, announce(&peer(0), 0)).await;
    assert_eq!(recv(&mut ws).await["incomplete"], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn qoe_reports_from_both_groups_are_listed_and_bad_ones_refused_clearly() {
    let server = Server::start(TrackerConfig::default()).await;
    let channel = "https://cdn.example/live/index.m3u8";
    let report = |peer_id: String, qoe: Value| {
        json!({"action": "stats", "info_hash": HASH, "peer_id": peer_id, "channel": channel,
               "http_down": 1000, "p2p_down": 3000, "p2p_up": 500, "peers": 1, "rebuffers": 1, "qoe": qoe})
    };
    // A P2P viewer over the WebSocket, a control viewer by POST (it has no tracker socket).
    let mut a = server.connect().await;
    send(
        &mut a,
        report(
            peer(0),
            json!({"group": "p2p", "tag": "beta", "startup_ms": 800, "play_ms": 9000,
                   "rebuffer_ms": 1000, "played_kbit": 18000}),
        ),
    )
    .await;
    let client = reqwest::Client::new();
    let post = |body: String| client.post(server.http("/stats")).body(body).send();
    let mut control = report(
        peer(1),
        json!({"group": "control", "tag": "beta", "startup_ms": 1200, "play_ms": 10000,
               "rebuffer_ms": 0, "played_kbit": 10000}),
    );
    control["p2p_down"] = json!(0);
    control["p2p_up"] = json!(0);
    assert_eq!(
        post(control.to_string()).await.unwrap().status().as_u16(),
        204
    );

    // Malformed and oversized reports: a 4xx saying what is wrong, and no change.
    let bad = report(peer(2), json!({"group": "cdn"}));
    let refused = post(bad.to_string()).await.unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("qoe.group"),
        "{body}"
    );
    let big = report(peer(3), json!({"group": "p2p", "pad": "x".repeat(5000)}));
    assert_eq!(post(big.to_string()).await.unwrap().status().as_u16(), 413);

    // The WebSocket report is taken before the GET below (same connection order).
    send(&mut a, json!({"action": "scrape", "info_hash": HASH})).await;
    recv(&mut a).await;
    let qoe: Value = reqwest::get(server.http("/qoe"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let c = &qoe["channels"][0];
    assert_eq!(c["channel"], channel);
    assert_eq!(qoe["channels"].as_array().unwrap().len(), 1);
    let (p, k) = (&c["p2p"], &c["control"]);
    assert_eq!(
        (p["viewers"].as_u64(), k["viewers"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(p["startup_ms"], 800.0);
    assert_eq!(p["rebuffer_ratio"], 0.1);
    assert_eq!(p["bitrate_kbps"], 2000.0);
    assert_eq!(p["p2p_share"], 0.75);
    assert_eq!(
        (k["p2p_bytes"].as_u64(), k["upload_bytes"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(k["p2p_share"], 0.0);
    assert_eq!(k["startup_ms"], 1200.0);
    assert_eq!(c["tags"][0]["tag"], "beta");
    let other: Value = reqwest::get(server.http("/qoe?channel=none"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(other["channels"], json!([]));
}
