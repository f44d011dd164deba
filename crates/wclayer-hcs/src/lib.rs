//! hcsshim's Windows layer writers and readers.
