//! Extended attributes: `FILE_FULL_EA_INFORMATION` chains (ea-reparse-sd.md §1).
