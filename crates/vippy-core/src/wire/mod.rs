//! The wire protocol (DESIGN §3). Being written; see issue 2.
