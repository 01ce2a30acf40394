//! The deterministic cluster simulator. Being written; see issue 3.
