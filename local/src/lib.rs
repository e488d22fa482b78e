//! `ota-local`: the one-machine adapters of the domain's ports, which `ota serve` composes
//! — the embedded SQLite store ([`store`], which alone holds the project's SQL), the
//! in-process engine that walks the job workflow on it ([`engine`]), and runners as child
//! processes ([`processes`]) with their clones' directories ([`clones`]). The engine and the process launcher both build on the store,
//! never on each other; both tell time by `shared::clock`. The dashboard's port is
//! [`control_plane`].

pub mod clones;
pub mod control_plane;
pub mod engine;
pub mod processes;
pub mod store;
