//! The AFL++ target: every input through the entry point `crates/engine/tests/fuzz_target` defines,
//! which `cargo test` also replays over the corpus this keeps (`crates/engine/tests/corpus`).

#[path = "../../crates/engine/tests/fuzz_target/mod.rs"]
mod fuzz_target;

fn main() {
    let schema = fuzz_target::schema();
    afl::fuzz!(|data: &[u8]| fuzz_target::run(&schema, data));
}
