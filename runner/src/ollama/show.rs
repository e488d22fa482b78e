//! What the server says about a model (`POST /api/show`), asked once before any work: that
//! the model exists, whether it can call tools, and the context length it was trained with.
//!
//! Ollama clamps `num_ctx` to the trained length without a word (`llm/server.go`: "requested
//! context size too large for model") and then drops the oldest messages of a prompt that
//! does not fit (`server/prompt.go`, `chatPrompt`); the agent sizes its window from this
//! answer instead. Read leniently: an older server without `capabilities`, or a model
//! without `model_info`, gives `None`s, and the agent then falls back to its settings.

use serde_json::Value;

/// The parts of an `/api/show` answer the agent uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelInfo {
    /// `capabilities` (`completion`, `tools`, `thinking`, …); `None` from servers that
    /// predate the field.
    pub capabilities: Option<Vec<String>>,
    /// `model_info["general.architecture"]`, e.g. `qwen3moe`.
    pub architecture: Option<String>,
    /// `model_info["<architecture>.context_length"]`: the trained context length, the most
    /// `num_ctx` Ollama allocates for this model.
    pub context_length: Option<u32>,
}

impl ModelInfo {
    /// Reads an `/api/show` body. Fields that are missing or of another shape are `None`.
    pub fn from_show(body: &Value) -> Self {
        let capabilities = body
            .get("capabilities")
            .and_then(Value::as_array)
            .map(|caps| {
                caps.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            });
        let info = body.get("model_info");
        let architecture = info
            .and_then(|i| i.get("general.architecture"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let context_length = architecture
            .as_ref()
            .and_then(|arch| info?.get(format!("{arch}.context_length"))?.as_u64())
            .or_else(|| body.get("details")?.get("context_length")?.as_u64())
            .filter(|&n| n > 0)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        Self {
            capabilities,
            architecture,
            context_length,
        }
    }

    /// Whether the model can call tools; `None` when the server did not say.
    pub fn supports_tools(&self) -> Option<bool> {
        self.capabilities
            .as_ref()
            .map(|caps| caps.iter().any(|c| c == "tools"))
    }

    /// The context window to ask for: `configured`, but no more than the trained length,
    /// which is all Ollama would allocate anyway.
    pub fn num_ctx(&self, configured: u32) -> u32 {
        self.context_length
            .map_or(configured, |trained| configured.min(trained))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_show_answer_is_read() {
        // The shape of docs/api.md's "Show Model Information" example.
        let body = json!({
            "template": "{{ .Prompt }}",
            "details": {"format": "gguf", "family": "qwen3moe", "parameter_size": "30.5B"},
            "model_info": {"general.architecture": "qwen3moe", "qwen3moe.context_length": 262_144},
            "capabilities": ["completion", "tools"]
        });
        let info = ModelInfo::from_show(&body);
        assert_eq!(info.context_length, Some(262_144));
        assert_eq!(info.architecture.as_deref(), Some("qwen3moe"));
        assert_eq!(info.supports_tools(), Some(true));
        assert_eq!(info.num_ctx(65_536), 65_536);
        let small = ModelInfo {
            context_length: Some(8192),
            ..info
        };
        assert_eq!(small.num_ctx(65_536), 8192);
    }

    #[test]
    fn missing_fields_are_unknown() {
        let info = ModelInfo::from_show(&json!({"model_info": {"general.architecture": 7}}));
        assert_eq!(info, ModelInfo::default());
        assert_eq!(info.supports_tools(), None);
        assert_eq!(info.num_ctx(4096), 4096);
        let no_tools = ModelInfo::from_show(&json!({"capabilities": ["completion"]}));
        assert_eq!(no_tools.supports_tools(), Some(false));
    }
}
