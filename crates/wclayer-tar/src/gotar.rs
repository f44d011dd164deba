//! A tar writer that produces the bytes of Go's archive/tar.
