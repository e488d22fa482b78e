//! `ota`: Ollama Turbo Agent on one machine. `ota serve` composes the domain in `shared`
//! with local adapters — an embedded SQLite store ([`store`]), an in-process engine that
//! follows the job lifecycle ([`engine`]), runners as child processes — and serves the
//! webhook and a status page ([`http`]). `ota run` runs one task on a local checkout
//! ([`local_run`]).

pub mod store;
pub mod local_run;
