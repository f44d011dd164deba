//! Self-relative security descriptors and SDDL (ea-reparse-sd.md §3).
