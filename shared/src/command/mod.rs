//! Commands users write in comments (`/ollama ...`, `/approve`, ...): the pure parser and the help text.
