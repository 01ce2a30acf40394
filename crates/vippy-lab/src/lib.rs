//! The network-namespace lab. Being written; see issue 4.
