//! The integration suite: one binary, many modules.
