//! A blob read ahead on its own thread into a bounded queue of chunks, so that several
//! layers of a registry image download at once while one is imported, with at most
//! [`CHUNKS`] × [`CHUNK`] bytes (8 MiB) held per blob.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, sync_channel};

/// Bytes per chunk read ahead.
const CHUNK: usize = 256 << 10;
/// Chunks held before the reading thread waits.
const CHUNKS: usize = 32;

/// The reading end of a blob read ahead.
pub(crate) struct Prefetched {
    rx: Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
}

/// Starts reading `r` ahead on a thread; the thread ends at the blob's end, at an error, or
/// when the returned reader is dropped.
pub(crate) fn spawn(mut r: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
    let (tx, rx) = sync_channel(CHUNKS);
    let started = std::thread::Builder::new()
        .name("wclayer-prefetch".into())
        .spawn(move || {
            loop {
                let mut buf = vec![0u8; CHUNK];
                match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.send(Ok(buf)).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                }
            }
        });
    match started {
        Ok(_) => Box::new(Prefetched {
            rx,
            current: Vec::new(),
            pos: 0,
            done: false,
        }),
        // No thread: the chunks would never come; tell it as a read error.
        Err(e) => Box::new(FailedStart(Some(e))),
    }
}

struct FailedStart(Option<io::Error>);

impl Read for FailedStart {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| io::Error::other("cannot start reading ahead")))
    }
}

impl Read for Prefetched {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                // The thread ended: the blob's end.
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let rest = self.current.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos = self.pos.saturating_add(n);
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn read_ahead_gives_the_same_bytes_and_the_error() {
        let data: Vec<u8> = (0..(3 * CHUNK + 17))
            .map(|i| u8::try_from(i % 251).unwrap())
            .collect();
        let mut got = Vec::new();
        spawn(Box::new(io::Cursor::new(data.clone())))
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(got, data);
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("cut"))
            }
        }
        let e = spawn(Box::new(Failing))
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(e.to_string(), "cut");
    }
}
