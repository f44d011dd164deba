//! OpenTelemetry: spans exported over OTLP/HTTP (the `otel` feature).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::{data, s, wclayer};

/// How long the test waits for the command and for its request: a regression fails the
/// test instead of hanging the run.
const PATIENCE: Duration = Duration::from_secs(60);

/// Accepts one connection on `listener` (non-blocking) before `deadline`, reads one HTTP
/// request and answers `200 OK`; returns the request line and the body.
fn one_request(listener: &TcpListener, deadline: Instant) -> Result<(String, Vec<u8>), String> {
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return Err("no connection to the collector".into());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    };
    let err = |e: std::io::Error| format!("reading the request: {e}");
    stream.set_nonblocking(false).map_err(err)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(err)?;
    let mut r = BufReader::new(stream);
    let mut request_line = String::new();
    r.read_line(&mut request_line).map_err(err)?;
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).map_err(err)? == 0 {
            return Err("the request ends in its headers".into());
        }
        if h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v
                .trim()
                .parse()
                .map_err(|e| format!("content-length: {e}"))?;
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).map_err(err)?;
    let _ = r
        .get_mut()
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
    Ok((request_line, body))
}

/// With the `otel` feature, spans go to the OTLP/HTTP collector named by
/// `OTEL_EXPORTER_OTLP_ENDPOINT`; here a one-shot collector on loopback.
#[test]
fn spans_are_exported_over_otlp() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let deadline = Instant::now() + PATIENCE;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(one_request(&listener, deadline));
    });
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("layer");
    wclayer()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .args([
            "import",
            "-i",
            &s(&data("v1_base_names_times.tar")),
            &s(&layer),
        ])
        .timeout(PATIENCE)
        .assert()
        .success();
    let (request_line, body) = rx
        .recv_timeout(PATIENCE)
        .expect("the collector thread never answered")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        request_line.starts_with("POST /v1/traces"),
        "{request_line}"
    );
    let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"wclayer::new_layer_writer"), "span name missing");
    assert!(has(b"parentLayerPaths"), "span attribute missing");
}
