//! Protocol limits: a client that opens more HTTP/2 streams than the server
//! allows gets them refused (RST_STREAM REFUSED_STREAM), not queued.
//!
//! A well-behaved client (tonic, h2) never exceeds the advertised limit, so
//! this test speaks raw HTTP/2 frames, as an attacker would.

use std::time::Duration;

use mesh::testing::{TestPki, raw_client_config, tls_connect};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::fixture;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const SETTINGS: u8 = 0x4;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const GOAWAY: u8 = 0x7;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const REFUSED_STREAM: u32 = 0x7;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// HPACK "literal header field without indexing, new name", no Huffman.
fn literal(block: &mut Vec<u8>, name: &str, value: &str) {
    block.push(0);
    for s in [name, value] {
        assert!(s.len() < 127);
        block.push(s.len() as u8);
        block.extend_from_slice(s.as_bytes());
    }
}

fn request_headers() -> Vec<u8> {
    let mut block = Vec::new();
    literal(&mut block, ":method", "POST");
    literal(&mut block, ":scheme", "https");
    literal(&mut block, ":path", "/grpc.health.v1.Health/Check");
    literal(&mut block, ":authority", "localhost");
    literal(&mut block, "content-type", "application/grpc");
    literal(&mut block, "te", "trailers");
    block
}

#[tokio::test]
async fn streams_over_the_limit_are_refused() {
    const LIMIT: u32 = 4;
    const EXTRA: u32 = 3;
    let pki = TestPki::new();
    let mut args = pki.server_args("accounts");
    args.limits.max_concurrent_streams = LIMIT;
    let (server, _) = fixture::start_with(args).await;

    let config = raw_client_config(&(&pki.files("gateway")).into(), &pki.dir().ca_cert());
    let mut tls = tls_connect(config, server.grpc_addr)
        .await
        .expect("connect");
    tls.write_all(PREFACE).await.expect("preface");
    tls.write_all(&frame(SETTINGS, 0, 0, &[]))
        .await
        .expect("settings");

    let run = async {
        let mut settings_seen = false;
        let mut refused = Vec::new();
        let mut sent = false;
        loop {
            let mut head = [0u8; 9];
            tls.read_exact(&mut head).await?;
            let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
            let (kind, flags) = (head[3], head[4]);
            let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
            let mut payload = vec![0u8; len];
            tls.read_exact(&mut payload).await?;
            match kind {
                SETTINGS if flags & ACK == 0 => {
                    // The server's SETTINGS must advertise our limit (id 0x3).
                    let advertised = payload
                        .chunks(6)
                        .find(|s| s[..2] == [0, 3])
                        .map(|s| u32::from_be_bytes([s[2], s[3], s[4], s[5]]));
                    assert_eq!(advertised, Some(LIMIT), "SETTINGS_MAX_CONCURRENT_STREAMS");
                    tls.write_all(&frame(SETTINGS, ACK, 0, &[])).await?;
                    settings_seen = true;
                }
                SETTINGS => {}
                RST_STREAM => {
                    let code = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
                    assert_eq!(code, REFUSED_STREAM, "stream {stream} reset with {code}");
                    refused.push(stream);
                    if refused.len() == EXTRA as usize {
                        return Ok::<_, std::io::Error>(refused);
                    }
                }
                GOAWAY => return Ok(refused),
                _ => {}
            }
            if settings_seen && !sent {
                // Open LIMIT + EXTRA streams at once, none of them finished.
                for i in 0..LIMIT + EXTRA {
                    tls.write_all(&frame(HEADERS, END_HEADERS, 1 + 2 * i, &request_headers()))
                        .await?;
                }
                sent = true;
            }
        }
    };
    let refused = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the server answered within 10 s")
        .expect("connection stayed readable");
    let expected: Vec<u32> = (LIMIT..LIMIT + EXTRA).map(|i| 1 + 2 * i).collect();
    assert_eq!(
        refused, expected,
        "exactly the streams past the limit are refused"
    );

    // A healthy client on another connection is unaffected.
    let channel = mesh::testing::raw_channel(
        &(&pki.files("orders")).into(),
        &pki.dir().ca_cert(),
        server.grpc_addr,
    );
    fixture::health(channel, "")
        .await
        .expect("healthy client still served");
}

#[tokio::test]
async fn oversized_messages_are_refused() {
    let pki = TestPki::new();
    let mut args = pki.server_args("accounts");
    args.limits.max_message_bytes = 1024;
    let (server, _) = fixture::start_with(args).await;
    let channel = mesh::testing::raw_channel(
        &(&pki.files("orders")).into(),
        &pki.dir().ca_cert(),
        server.grpc_addr,
    );
    let error = fixture::health(channel.clone(), &"x".repeat(4096))
        .await
        .expect_err("refused");
    // tonic reports an oversized request as OUT_OF_RANGE.
    assert_eq!(error.code(), tonic::Code::OutOfRange, "{error}");
    assert!(error.message().contains("too large"), "{error}");
    // The connection is still good for requests within the limit.
    fixture::health(channel, "")
        .await
        .expect("small request served");
}
