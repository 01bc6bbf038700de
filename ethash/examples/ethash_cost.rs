//! What ethash light verification costs on this machine: building the epoch-0 cache
//! (16 MiB) and one light hashimoto. `cargo run --release -p ethpeer-ethash --example
//! ethash_cost`; the README's table comes from it.

use std::time::Instant;

use alloy_primitives::B256;
use ethpeer_ethash::{cache_size, LightCache};

fn main() {
    let started = Instant::now();
    let Some(cache) = LightCache::for_epoch(0) else {
        eprintln!("no memory for the epoch-0 cache");
        return;
    };
    let built = started.elapsed();
    println!(
        "epoch 0 cache: {} bytes ({:.1} MiB) built in {:.2?}",
        cache.size_bytes(),
        cache.size_bytes() as f64 / (1 << 20) as f64,
        built
    );
    let tries = 2000u64;
    let started = Instant::now();
    let mut sink = 0u8;
    for nonce in 0..tries {
        sink ^= cache.hashimoto(&B256::repeat_byte(7), nonce).result[0];
    }
    let each = started.elapsed() / tries as u32;
    println!("light hashimoto: {each:.2?} each ({tries} tries, sink {sink})");
    for epoch in [100, 517] {
        if let Some(size) = cache_size(epoch) {
            let mib = size as f64 / (1 << 20) as f64;
            println!("epoch {epoch} cache: {mib:.1} MiB");
        }
    }
}
