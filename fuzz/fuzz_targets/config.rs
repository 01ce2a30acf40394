//! Fuzzes `vippy_core::config::load` (docs/FUZZING.md): any text, valid
//! UTF-8 or not, must give a config or errors, never a panic. A config that
//! loads must survive its canonical form: the cluster part written out and
//! read back has the same digest.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vippy_core::config::{load, load_cluster};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = load(text, "fuzz.conf") else {
        return;
    };
    let canonical = config.cluster.canonical_text();
    let again = load_cluster(&canonical, "canonical").expect("the canonical form loads");
    assert_eq!(again.digest(), config.cluster.digest());
});
