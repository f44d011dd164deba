//! Writing backup streams (placeholder until the writer lands).
/// Writes a backup stream.
pub struct BackupStreamWriter<R> {
    inner: R,
}
impl<R> BackupStreamWriter<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        BackupStreamWriter { inner }
    }
    /// The wrapped writer.
    pub fn into_inner(self) -> R {
        self.inner
    }
}
