//! `ota`: Ollama Turbo Agent on one machine. `ota serve` composes the domain in `shared`
//! with the one-machine adapters of `ota_local` — an embedded SQLite store, an in-process
//! engine that follows the job lifecycle, runners as child processes (started as
//! `ota runner`, [`child`]) — and serves the webhook ([`serve`]), the setup flow
//! ([`setup`]) and a status page ([`pages`]). `ota run` runs one task on a local checkout
//! ([`local_run`]), and `ota eval` runs it on a suite of tasks with hidden checks to
//! measure models ([`eval`]); `ota jobs` and friends work on the local database ([`commands`]), or
//! with `--stack NAME` on a deployed stack ([`stack`]), which `dlq`, `policy` and
//! `secrets` operate too.

pub mod browser;
pub mod child;
pub mod commands;
pub mod eval;
pub mod local_run;
pub mod pages;
pub mod serve;
pub mod settings;
pub mod setup;
pub mod stack;
