//! The current entry of a writer: an open file that takes the entry's bytes, buffered in
//! 64 KiB as hcsshim's writers buffer them (`bufio.NewWriterSize(f, 65536)`).

use crate::Error;
use crate::host::HostFile;

/// hcsshim's write buffer size.
const BUFFER: usize = 64 * 1024;

/// How the entry's backup-stream bytes reach its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// As plain content (transport files hold the raw backup stream).
    Raw,
    /// Restored with `BackupWrite`, with or without the security descriptor.
    Backup {
        /// Whether the security descriptor is restored.
        security: bool,
    },
}

/// An open entry.
pub(crate) struct Sink<F> {
    pub(crate) file: F,
    pub(crate) name: String,
    mode: Mode,
    buf: Vec<u8>,
}

impl<F: HostFile> Sink<F> {
    pub(crate) fn new(file: F, name: String, mode: Mode) -> Sink<F> {
        Sink {
            file,
            name,
            mode,
            buf: Vec::new(),
        }
    }

    /// Takes `data`, writing through when the buffer fills.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        if self.buf.len().saturating_add(data.len()) > BUFFER {
            self.flush()?;
        }
        if data.len() >= BUFFER {
            return self.put(data);
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Writes what is buffered.
    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let r = self.put(&buf);
        self.buf = buf;
        self.buf.clear();
        r
    }

    fn put(&mut self, data: &[u8]) -> Result<(), Error> {
        let r = match self.mode {
            Mode::Raw => self.file.write_all(data),
            Mode::Backup { security } => self.file.backup_write(data, security),
        };
        r.map_err(|e| Error::os("write", self.name.clone(), e))
    }
}
