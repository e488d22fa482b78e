//! The runner: the agent that does one job against a repository with an Ollama model.

pub mod agent;
pub mod ollama;
pub mod tools;
