//! `ota`: Ollama Turbo Agent on one machine. `ota serve` composes the domain in `shared`
//! with local adapters — an embedded SQLite store ([`store`]), an in-process engine that
//! follows the job lifecycle ([`engine`]), runners as child processes ([`launcher`],
//! [`child`]) — and serves the webhook, the setup flow ([`setup`]) and a status page
//! ([`pages`]). `ota run` runs one task on a local checkout ([`local_run`]); `ota jobs`
//! and friends work on the local database ([`commands`]).

pub mod child;
pub mod commands;
pub mod engine;
pub mod launcher;
pub mod local_run;
pub mod pages;
pub mod serve;
pub mod settings;
pub mod setup;
pub mod store;
