//! `.ollama-turbo.yml`: the per-repository configuration, its defaults, validation and JSON Schema.
