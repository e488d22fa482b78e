//! The runner: the agent that does one job against a repository with an Ollama model.

pub mod agent;
pub mod job;
pub mod ollama;
pub mod sandbox;
pub mod tools;
pub mod workspace;
