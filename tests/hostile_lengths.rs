//! Requests announcing absurd array lengths (2^31 elements in a 20-byte frame) are refused by
//! closing that connection, without the broker trying to reserve memory for them; the broker
//! keeps serving everyone else. (Found by the `frame` fuzz target: see vendor/README.md.)

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

/// Sends one frame and expects the broker to close the connection without answering.
fn expect_closed(bootstrap: &str, body: &[u8]) {
    let mut s = TcpStream::connect(bootstrap).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    s.write_all(&frame).expect("write");
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("expected the connection closed, got {other:?}"),
    }
}

fn header(api_key: i16, version: i16, flexible: bool) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&api_key.to_be_bytes());
    h.extend_from_slice(&version.to_be_bytes());
    h.extend_from_slice(&7i32.to_be_bytes());
    h.extend_from_slice(&1i16.to_be_bytes());
    h.push(b'x');
    if flexible {
        h.push(0); // no tagged fields
    }
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_array_lengths_close_only_that_connection() {
    let broker = TestBroker::start().await;
    broker.create_topic("alive", 1, &[]).await;
    let bootstrap = broker.bootstrap();
    // Metadata v1: topics is a classic array with an i32 length.
    let mut v1 = header(3, 1, false);
    v1.extend_from_slice(&i32::MAX.to_be_bytes());
    // Metadata v9: topics is a compact array with an unsigned varint length (2^32 - 1 + 1).
    let mut v9 = header(3, 9, true);
    v9.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    // Produce v3: topic_data array of 2^31 - 1 entries after acks/timeout/transactional id.
    let mut produce = header(0, 3, false);
    produce.extend_from_slice(&(-1i16).to_be_bytes());
    produce.extend_from_slice(&1i16.to_be_bytes());
    produce.extend_from_slice(&1000i32.to_be_bytes());
    produce.extend_from_slice(&i32::MAX.to_be_bytes());
    let b = bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        for body in [&v1, &v9, &produce] {
            expect_closed(&b, body);
        }
    })
    .await
    .unwrap();
    // Everyone else is still served.
    let producer = broker.producer(&[]);
    let (p, o) = send(&producer, "alive", Some(0), b"k", b"still here").await;
    assert_eq!((p, o), (0, 0));
    broker.shutdown().await;
}
