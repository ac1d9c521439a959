//! The `log` capability: always available, writes into the call's size-capped log.

use crate::sandbox::bindings::action::testmesh::plugin::{log, types};
use crate::sandbox::logs::{LogLevel, LogSource};
use crate::sandbox::state::HostState;
use wasmtime::component::{HasSelf, Linker};

pub(crate) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    types::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)?;
    log::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
}

impl types::Host for HostState {}

impl log::Host for HostState {
    async fn write(&mut self, level: types::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            types::Level::Trace => LogLevel::Trace,
            types::Level::Debug => LogLevel::Debug,
            types::Level::Info => LogLevel::Info,
            types::Level::Warn => LogLevel::Warn,
            types::Level::Error => LogLevel::Error,
        };
        self.scope.log.push(level, LogSource::Plugin, message);
        Ok(())
    }
}
