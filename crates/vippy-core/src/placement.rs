//! Placement: which eligible node should hold each group (DESIGN §4).
//! Being written; see issue 2.
