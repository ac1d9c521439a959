//! The wasmtime engine: compiler, pooling allocator, stack size and the epoch ticker that lets
//! deadlines interrupt running guests.

use super::SandboxConfig;
use std::time::Duration;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the granularity of deadlines, and how often a running guest yields
/// to the async runtime.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Builds the engine from the sandbox configuration.
pub(crate) fn build(config: &SandboxConfig) -> wasmtime::Result<Engine> {
    let mut wasm = Config::new();
    wasm.wasm_component_model(true);
    wasm.epoch_interruption(true);
    wasm.max_wasm_stack(config.wasm_stack_bytes);
    // Host functions called from the guest run on the same fiber stack as the guest itself.
    wasm.async_stack_size(config.wasm_stack_bytes + (1 << 20));
    wasm.cranelift_opt_level(wasmtime::OptLevel::Speed);
    wasm.debug_info(config.debug_info);
    if config.pooling {
        let instances = config.max_instances;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances)
            .total_core_instances(instances * 8)
            .total_memories(instances * 2)
            .total_tables(instances * 4)
            .total_stacks(instances)
            .max_core_instances_per_component(64)
            .max_memories_per_component(16)
            .max_tables_per_component(32)
            .max_memory_size(config.max_memory_bytes as usize)
            .table_elements(200_000)
            .max_core_instance_size(8 << 20)
            .max_component_instance_size(8 << 20)
            .linear_memory_keep_resident(2 << 20)
            .table_keep_resident(512 << 10);
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&wasm)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped. Holds only a weak
/// reference, so the thread ends with the sandbox.
pub(crate) fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new().name("testmesh-epoch".into()).spawn(move || {
        loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => return,
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start the epoch thread, plugin deadlines will not interrupt guests: {e}");
    }
}

/// A stable fingerprint of everything that makes a precompiled artifact usable by this engine
/// (wasmtime version, compiler settings, target): precompiled components live under it on disk, so a
/// configuration change invalidates them.
pub(crate) fn fingerprint(engine: &Engine) -> String {
    use sha2::Digest;
    use std::hash::Hash;
    struct Sha(sha2::Sha256);
    impl std::hash::Hasher for Sha {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = Sha(sha2::Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compilation_settings_change_the_fingerprint_and_runtime_settings_do_not() {
        let fingerprint_of = |config: SandboxConfig| fingerprint(&build(&config).expect("engine"));
        let base = fingerprint_of(SandboxConfig::default());
        assert_eq!(base.len(), 16);
        assert_eq!(base, fingerprint_of(SandboxConfig::default()), "not stable");
        // The stack limit is enforced at run time: artifacts stay valid.
        assert_eq!(base, fingerprint_of(SandboxConfig { wasm_stack_bytes: 256 << 10, ..SandboxConfig::default() }));
        // Debug info changes the generated code: artifacts must not be shared.
        assert_ne!(base, fingerprint_of(SandboxConfig { debug_info: true, ..SandboxConfig::default() }));
    }
}
