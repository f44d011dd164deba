//! Reparse points: `REPARSE_DATA_BUFFER` for symbolic links and mount points
//! (ea-reparse-sd.md §2).
