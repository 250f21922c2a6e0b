//! The guarded client against real sockets on loopback: a refused address gets no connection
//! at all, whether a URL names it, a host name resolves to it, or a redirect points at it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use outbound::{refusal_of, GuardedClient, Policy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A listener that counts connections and answers every request with `response`.
struct Server {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

async fn server(ip: &str, response: String) -> Server {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(response.as_bytes()).await;
            });
        }
    });
    Server { addr, connections }
}

fn ok_response() -> String {
    "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\n#EXTM3U".into()
}

fn redirect_to(location: &str) -> String {
    format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
}

fn client(list: &str) -> GuardedClient {
    let builder = reqwest::Client::builder().timeout(Duration::from_secs(5));
    GuardedClient::build(builder, Policy::parse(list, "originHosts").unwrap()).unwrap()
}

/// The refusal message of a failed request (panics if it failed for another reason).
async fn refused(client: &GuardedClient, url: &str) -> String {
    let request = match client.get(url) {
        Ok(r) => r,
        Err(e) => return refusal_of(&e).expect("a refusal").0.clone(),
    };
    let e = request.send().await.expect_err("the request must fail");
    refusal_of(&e)
        .unwrap_or_else(|| panic!("not a refusal: {e:?}"))
        .0
        .clone()
}

#[tokio::test]
async fn an_allowed_address_is_fetched() {
    let origin = server("127.0.0.1", ok_response()).await;
    let c = client("127.0.0.1");
    let body = c
        .get(&format!("http://{}/a.m3u8", origin.addr))
        .unwrap()
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "#EXTM3U");
    assert_eq!(origin.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_loopback_url_is_refused_before_any_connection() {
    let target = server("127.0.0.1", ok_response()).await;
    let msg = refused(&client("*"), &format!("http://{}/x.m3u8", target.addr)).await;
    assert!(msg.contains("127.0.0.1 is a loopback address"), "{msg}");
    assert!(msg.contains("originHosts"), "{msg}");
    assert_eq!(target.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_refused() {
    let target = server("127.0.0.1", ok_response()).await;
    let url = format!("http://localhost:{}/x.m3u8", target.addr.port());
    let msg = refused(&client("*"), &url).await;
    assert!(msg.contains("localhost resolves to"), "{msg}");
    assert!(msg.contains("a loopback address"), "{msg}");
    // Listing the name is not enough: its addresses must be allowed too.
    let msg = refused(&client("localhost"), &url).await;
    assert!(msg.contains("localhost resolves to"), "{msg}");
    assert_eq!(target.connections.load(Ordering::SeqCst), 0);
    // With the addresses allowed, it is fetched.
    let c = client("localhost,127.0.0.1,::1");
    c.get(&url).unwrap().send().await.unwrap();
    assert_eq!(target.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn redirects_to_refused_places_are_not_followed() {
    // Only 127.0.0.1 is allowed; 127.0.0.2 is loopback too, and not listed.
    let hidden = server("127.0.0.2", ok_response()).await;
    let to_ip = server(
        "127.0.0.1",
        redirect_to(&format!("http://{}/secret", hidden.addr)),
    )
    .await;
    let to_name = server(
        "127.0.0.1",
        redirect_to(&format!("http://localhost:{}/secret", hidden.addr.port())),
    )
    .await;
    let c = client("127.0.0.1");
    let msg = refused(&c, &format!("http://{}/x.m3u8", to_ip.addr)).await;
    assert!(
        msg.starts_with("redirect refused: 127.0.0.2 is not an allowed host"),
        "{msg}"
    );
    let msg = refused(&c, &format!("http://{}/x.m3u8", to_name.addr)).await;
    assert!(
        msg.starts_with("redirect refused: localhost is not an allowed host"),
        "{msg}"
    );
    // With `*` the redirect target's address decides.
    let c = client("*,127.0.0.1");
    let msg = refused(&c, &format!("http://{}/x.m3u8", to_ip.addr)).await;
    assert!(msg.contains("127.0.0.2 is a loopback address"), "{msg}");
    assert_eq!(to_ip.connections.load(Ordering::SeqCst), 2);
    assert_eq!(hidden.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn refusals_never_carry_the_url_query() {
    let msg = refused(&client(""), "http://cdn.example.com/a.m3u8?token=s3cret").await;
    assert!(!msg.contains("s3cret"), "{msg}");
}
