//! Reading backup streams (placeholder until the reader lands).
/// Reads a backup stream.
pub struct BackupStreamReader<R> {
    inner: R,
}
impl<R> BackupStreamReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        BackupStreamReader { inner }
    }
    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}
