//! The runner: the agent that does one job against a repository with an Ollama model.
