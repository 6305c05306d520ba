//! Compile-time behaviour of `#[zipkin_span]`: the passing cases compile without a warning, and
//! each misuse fails with the message pinned in its `.stderr` file.
//!
//! Compiler output changes between Rust releases, so this runs on the stable toolchain only
//! (refresh the files with `TRYBUILD=overwrite cargo test --test ui` after a toolchain upgrade).

#[rustversion::attr(not(stable), ignore = "compiler messages are pinned for stable only")]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
