//! How a task's model generates: thinking (`think`) and the sampling options Ollama takes
//! in a chat request's `options` (`temperature`, `top_p`, `top_k`, `seed`), checked.
//!
//! Ollama turns thinking on by default for models that can think, and the thinking counts
//! against the output budget (`num_predict`, the task's `max_tokens`); `think: false` turns
//! it off, and a level (`low`, `medium`, `high`) bounds it for the models that take levels
//! (gpt-oss). Source: Ollama's API reference (`/api/chat`: `think`, `options`) and its
//! thinking guide.

use serde_saphyr::Spanned;

use super::check::Checker;
use super::raw::RawThink;

/// Highest `temperature` accepted. Ollama documents the option without a bound; above 2
/// the output of every coding model is noise, so a larger number is a typo.
pub const MAX_TEMPERATURE: f64 = 2.0;

/// Highest `top_k` accepted: Ollama's default is 40; past a thousand candidates the option
/// no longer limits anything.
pub const MAX_TOP_K: i64 = 1000;

/// `think`: whether (and how much) a thinking model reasons before it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Think {
    /// `false`: no thinking, every output token goes to the answer.
    Off,
    /// `true`: the model's own default amount.
    On,
    Low,
    Medium,
    High,
}

impl Think {
    /// The levels, as written in the file and sent to Ollama.
    pub const LEVELS: [&'static str; 3] = ["low", "medium", "high"];

    /// The request's `think` field: `false`, `true` or the level's name.
    pub fn to_json(self) -> serde_json::Value {
        match self {
            Self::Off => serde_json::Value::Bool(false),
            Self::On => serde_json::Value::Bool(true),
            Self::Low => "low".into(),
            Self::Medium => "medium".into(),
            Self::High => "high".into(),
        }
    }

    fn level(name: &str) -> Option<Self> {
        match name {
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            _ => None,
        }
    }
}

/// The chat `options` a task sets beyond the output budget; `None` leaves Ollama's (or
/// the model's) default.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sampling {
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
    pub seed: Option<i64>,
}

// Every float in a `Sampling` was checked to be finite (no NaN), so equality is total.
impl Eq for Sampling {}

impl Sampling {
    /// `self`, with what `over` sets laid on top.
    pub fn or(self, over: Self) -> Self {
        Self {
            temperature: over.temperature.or(self.temperature),
            top_p: over.top_p.or(self.top_p),
            top_k: over.top_k.or(self.top_k),
            seed: over.seed.or(self.seed),
        }
    }
}

/// The sampling keys as written in a task or in `automation.defaults`.
#[derive(Debug, Default)]
pub(super) struct RawSampling {
    pub temperature: Option<Spanned<f64>>,
    pub top_p: Option<Spanned<f64>>,
    pub top_k: Option<Spanned<i64>>,
    pub seed: Option<Spanned<i64>>,
}

impl Checker {
    /// `think`: `true`, `false`, or one of [`Think::LEVELS`].
    pub(super) fn think(&mut self, value: &Spanned<RawThink>, field: &str) -> Option<Think> {
        match &value.value {
            RawThink::Flag(true) => Some(Think::On),
            RawThink::Flag(false) => Some(Think::Off),
            RawThink::Level(text) => {
                let level = Think::level(text.trim());
                if level.is_none() {
                    self.invalid(
                        &value.referenced,
                        field,
                        format!("`{text}` is not a thinking setting"),
                        Some(
                            "write `false` (no thinking), `true`, or a level `low`, `medium` or \
                             `high` for models that take levels, like gpt-oss",
                        ),
                    );
                }
                level
            }
        }
    }

    /// The sampling options, each checked against the range Ollama can use.
    pub(super) fn sampling(&mut self, raw: RawSampling, field: &str) -> Sampling {
        let field = |key: &str| format!("{field}.{key}");
        Sampling {
            temperature: raw.temperature.and_then(|v| {
                self.fraction(
                    &v,
                    &field("temperature"),
                    MAX_TEMPERATURE,
                    "0.2 keeps code steady",
                )
            }),
            top_p: raw
                .top_p
                .and_then(|v| self.fraction(&v, &field("top_p"), 1.0, "0.9 is Ollama's default")),
            top_k: raw.top_k.and_then(|v| {
                let k = v.value;
                match u32::try_from(k) {
                    Ok(k) if (1..=MAX_TOP_K).contains(&i64::from(k)) => Some(k),
                    _ => {
                        self.invalid(
                            &v.referenced,
                            &field("top_k"),
                            format!("`{k}` must be between 1 and {MAX_TOP_K}"),
                            Some("40 is Ollama's default"),
                        );
                        None
                    }
                }
            }),
            seed: raw.seed.and_then(|v| {
                if v.value < 0 {
                    self.invalid(
                        &v.referenced,
                        &field("seed"),
                        format!("`{}` must be 0 or more", v.value),
                        None,
                    );
                    return None;
                }
                Some(v.value)
            }),
        }
    }

    /// A number from 0 to `max`.
    fn fraction(&mut self, value: &Spanned<f64>, field: &str, max: f64, hint: &str) -> Option<f32> {
        let number = value.value;
        if number.is_finite() && (0.0..=max).contains(&number) {
            // The range is small, so the value fits an f32 with room to spare.
            #[allow(clippy::cast_possible_truncation)]
            return Some(number as f32);
        }
        self.invalid(
            &value.referenced,
            field,
            format!("`{number}` must be a number from 0 to {max}"),
            Some(hint),
        );
        None
    }
}
