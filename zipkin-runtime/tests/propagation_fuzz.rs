//! The fuzz target's checks (`fuzz/check.rs`) in `cargo test`: over the checked-in corpus of
//! hostile inputs, and over proptest input for a bounded number of cases. The coverage-guided
//! run is `cargo +nightly fuzz run b3_parsers` in `zipkin-runtime/fuzz`.

use proptest::prelude::*;

#[path = "../fuzz/check.rs"]
mod check;

#[test]
fn corpus_never_panics_and_round_trips() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/b3_parsers");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let r = std::panic::catch_unwind(|| check::check(&data));
        assert!(r.is_ok(), "corpus input {} failed", path.display());
        n += 1;
    }
    // The hand-written hostile inputs alone are 79 files; a lost corpus must not pass silently.
    assert!(n >= 79, "only {n} corpus files in {dir}");
}

const T: &str = "463ac35c9f6413ad48485a3953bb6124";

/// Pieces that make near-valid input, so random combinations reach the deep branches.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(T[..16].to_owned()),
        Just(T.to_owned()),
        Just("a2fb4a1d1a96d312".to_owned()),
        Just("0000000000000000".to_owned()),
        Just("-".to_owned()),
        Just("1".to_owned()),
        Just("0".to_owned()),
        Just("d".to_owned()),
        Just("\r\n".to_owned()),
        Just("\n".to_owned()),
        Just(":".to_owned()),
        Just("b3:".to_owned()),
        Just("X-B3-TraceId:".to_owned()),
        Just("x-b3-spanid:".to_owned()),
        Just("X-B3-ParentSpanId:".to_owned()),
        Just("X-B3-Sampled:".to_owned()),
        Just("X-B3-Flags:".to_owned()),
        Just("traceparent:00-".to_owned()),
        Just("true".to_owned()),
        Just("A".to_owned()),
        Just("é".to_owned()),
        "[0-9a-fA-F\\-dx ]{0,4}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..160)) {
        check::check(&data);
    }

    #[test]
    fn near_valid_input_never_panics(parts in proptest::collection::vec(piece(), 0..12)) {
        check::check(parts.concat().as_bytes());
    }
}
