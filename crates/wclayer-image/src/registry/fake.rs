//! A fake registry for unit tests: a loopback HTTP/1.1 server that answers each request
//! with what a closure says and records what it got.

use std::io::Read;
use std::sync::{Arc, Mutex};

/// A request the fake server got: method, path with query, headers (names lower case).
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer: status, headers, body, and how many body bytes to send before closing
/// (`None`: all).
pub(crate) type Answer = (u16, Vec<(String, String)>, Vec<u8>, Option<usize>);

/// A loopback HTTP/1.1 server answering each request (one per connection) with `answer`
/// (given the request and its number) and recording what it got.
pub(crate) fn fake(
    answer: impl Fn(&Seen, usize) -> Answer + Send + 'static,
) -> (u16, Arc<Mutex<Vec<Seen>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut r = BufReader::new(stream.try_clone().unwrap());
            // A TLS handshake (the client tries HTTPS first): hang up.
            if r.fill_buf().map_or(true, |b| b.first() == Some(&0x16)) {
                continue;
            }
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let mut words = line.split_whitespace();
            let method = words.next().unwrap_or_default().to_string();
            let path = words.next().unwrap_or_default().to_string();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
            let req = Seen {
                method,
                path,
                headers,
            };
            if let Some(n) = req.header("content-length") {
                let mut body = vec![0; n.parse().unwrap()];
                r.read_exact(&mut body).unwrap();
            }
            let n = {
                let mut l = log.lock().unwrap();
                l.push(req.clone());
                l.len() - 1
            };
            let (status, hs, body, cut) = answer(&req, n);
            let mut out = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in hs {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            let _ = stream.write_all(out.as_bytes());
            let _ = stream.write_all(&body[..cut.unwrap_or(body.len())]);
        }
    });
    (port, seen)
}
