//! Narration: prose about what happened, layered on top of the game.
//!
//! [`Narrator`] is the seam. [`OfflineNarrator`] writes deterministic,
//! template-based prose from the world's names; it is the default and the
//! fallback. [`OpenAiNarrator`] calls any OpenAI-compatible chat endpoint
//! (OpenAI, Anthropic, Gemini, Grok, Ollama) through async-openai with a
//! base URL and model per tier, a timeout per attempt and retries with
//! exponential backoff. [`NarrationService`] adds the per-campaign token
//! budget (counted from the provider's usage figures) and a circuit
//! breaker, and falls back to offline prose, saying so in metrics.
//!
//! Narration never feeds back into the simulation: it reads events, and its
//! text is only stored and broadcast.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestUserMessageArgs,
    CreateChatCompletionRequestArgs,
};
use campaign_gen::World;

use crate::config::Secret;
use crate::metrics::Metrics;
use crate::protocol::{AnomalyKind, GameEvent, Stock};

/// Events of one tick to narrate.
#[derive(Debug, Clone, PartialEq)]
pub struct NarrationRequest {
    /// The tick.
    pub tick: u64,
    /// What happened.
    pub events: Vec<GameEvent>,
    /// Recent events in words, oldest first (context for the model).
    pub recent: Vec<String>,
}

/// A piece of narration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narration {
    /// The prose.
    pub text: String,
    /// Who wrote it: `offline` or the provider name.
    pub narrator: String,
    /// Tokens the provider counted for it.
    pub tokens: u64,
}

/// Why a narrator failed.
#[derive(Debug, thiserror::Error)]
pub enum NarratorError {
    /// No answer in time.
    #[error("narrator timed out after {0:?}")]
    Timeout(Duration),
    /// The provider could not be reached or answered with an error.
    #[error("narrator request failed: {0}")]
    Request(String),
    /// The answer was not a usable completion.
    #[error("narrator answer was malformed: {0}")]
    Malformed(String),
}

impl NarratorError {
    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            NarratorError::Timeout(_) => "timeout",
            NarratorError::Request(_) => "request",
            NarratorError::Malformed(_) => "malformed",
        }
    }
}

/// Something that turns events into prose.
#[async_trait::async_trait]
pub trait Narrator: Send + Sync {
    /// The provider name, for metrics and stored narration.
    fn name(&self) -> &str;
    /// Checks the narrator is reachable.
    async fn check(&self) -> Result<(), NarratorError>;
    /// Narrates one tick's events.
    async fn narrate(&self, req: &NarrationRequest) -> Result<Narration, NarratorError>;
}

/// Describes events in plain words with the world's names.
#[derive(Debug, Clone)]
pub struct Describer {
    world: Arc<World>,
}

impl Describer {
    /// A describer for a world.
    pub fn new(world: Arc<World>) -> Describer {
        Describer { world }
    }

    fn faction(&self, id: u32) -> String {
        self.world
            .factions
            .get(id as usize)
            .map(|f| f.name.clone())
            .unwrap_or_else(|| format!("faction {id}"))
    }

    fn system(&self, id: u32) -> String {
        self.world
            .galaxy
            .systems
            .get(id as usize)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| format!("system {id}"))
    }

    fn stock(s: &Stock) -> String {
        let mut parts = Vec::new();
        for (n, w) in [
            (s.minerals, "minerals"),
            (s.energy, "energy"),
            (s.food, "food"),
            (s.exotics, "exotics"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {w}"));
            }
        }
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(", ")
        }
    }

    /// One sentence for one event.
    pub fn describe(&self, e: &GameEvent) -> String {
        match e {
            GameEvent::FleetArrived {
                faction, system, ..
            } => format!(
                "A fleet of {} dropped out of hyperspace at {}.",
                self.faction(*faction),
                self.system(*system)
            ),
            GameEvent::ShipsBuilt {
                faction,
                system,
                count,
                ..
            } => format!(
                "The yards of {} launched {count} warships for {}.",
                self.system(*system),
                self.faction(*faction)
            ),
            GameEvent::OutpostBuilt { faction, system } => format!(
                "{} raised an outpost at {} and claimed the system.",
                self.faction(*faction),
                self.system(*system)
            ),
            GameEvent::Colonised {
                faction,
                system,
                planet,
            } => {
                let planet = self
                    .world
                    .galaxy
                    .systems
                    .get(*system as usize)
                    .and_then(|s| s.planets.get(*planet as usize))
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| format!("a world of {}", self.system(*system)));
                format!("Colonists of {} settled {planet}.", self.faction(*faction))
            }
            GameEvent::ResearchCompleted {
                faction,
                field,
                level,
            } => format!(
                "Scholars of {} mastered level {level} of {}.",
                self.faction(*faction),
                match field {
                    crate::protocol::Field::Weapons => "weapons",
                    crate::protocol::Field::Propulsion => "propulsion",
                    crate::protocol::Field::Industry => "industry",
                }
            ),
            GameEvent::TreatyProposed { from, to, .. } => format!(
                "Envoys of {} carried a treaty proposal to {}.",
                self.faction(*from),
                self.faction(*to)
            ),
            GameEvent::TreatySigned { a, b, treaty } => format!(
                "{} and {} signed a {} treaty.",
                self.faction(*a),
                self.faction(*b),
                match treaty {
                    crate::protocol::TreatyKind::Peace => "peace",
                    crate::protocol::TreatyKind::Trade => "trade",
                    crate::protocol::TreatyKind::Alliance => "alliance",
                }
            ),
            GameEvent::TreatyBroken { by, with } => format!(
                "{} tore up its treaty with {}.",
                self.faction(*by),
                self.faction(*with)
            ),
            GameEvent::Traded { a, b, gave, got } => format!(
                "{} traded {} to {} for {}.",
                self.faction(*a),
                Self::stock(gave),
                self.faction(*b),
                Self::stock(got)
            ),
            GameEvent::TradeOffered { from, to, .. } => format!(
                "{} offered a trade to {}.",
                self.faction(*from),
                self.faction(*to)
            ),
            GameEvent::Battle {
                attacker,
                defender,
                system,
                attacker_lost,
                defender_lost,
                captured,
            } => format!(
                "Battle at {}: {} lost {attacker_lost} ships, {} lost {defender_lost}{}.",
                self.system(*system),
                self.faction(*attacker),
                self.faction(*defender),
                if *captured {
                    format!(", and {} changed hands", self.system(*system))
                } else {
                    String::new()
                }
            ),
            GameEvent::NpcReplied { reply, .. } => reply.clone(),
            GameEvent::Anomaly { system, what } => format!(
                "{} at {}.",
                match what {
                    AnomalyKind::MineralBoom => "A mineral boom",
                    AnomalyKind::IonStorm => "An ion storm raged",
                    AnomalyKind::DerelictSalvage => "Derelict salvage was recovered",
                    AnomalyKind::SolarFlare => "A solar flare struck",
                },
                self.system(*system)
            ),
        }
    }
}

/// Deterministic template prose: the default narrator and the fallback.
#[derive(Debug, Clone)]
pub struct OfflineNarrator {
    describer: Describer,
}

impl OfflineNarrator {
    /// An offline narrator for a world.
    pub fn new(world: Arc<World>) -> OfflineNarrator {
        OfflineNarrator {
            describer: Describer::new(world),
        }
    }

    /// Narrates without I/O; the same events always give the same prose.
    pub fn narrate_now(&self, req: &NarrationRequest) -> Narration {
        let world = &self.describer.world;
        let mut text = format!("Day {} in {}. ", req.tick, world.name);
        let lines: Vec<String> = req
            .events
            .iter()
            .map(|e| self.describer.describe(e))
            .collect();
        if lines.is_empty() {
            text.push_str("The lanes are quiet.");
        } else {
            text.push_str(&lines.join(" "));
        }
        Narration {
            text,
            narrator: "offline".into(),
            tokens: 0,
        }
    }
}

#[async_trait::async_trait]
impl Narrator for OfflineNarrator {
    fn name(&self) -> &str {
        "offline"
    }

    async fn check(&self) -> Result<(), NarratorError> {
        Ok(())
    }

    async fn narrate(&self, req: &NarrationRequest) -> Result<Narration, NarratorError> {
        Ok(self.narrate_now(req))
    }
}

/// Settings of an OpenAI-compatible narrator.
#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    /// Provider name for metrics (`openai`, `anthropic`, `ollama`, ...).
    pub provider: String,
    /// Base URL of the OpenAI-compatible API, such as `https://api.openai.com/v1`.
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// API key.
    pub api_key: Secret,
    /// Timeout per attempt.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff delay; doubled per retry.
    pub backoff: Duration,
    /// Most tokens one answer may use.
    pub max_tokens: u32,
}

/// Narration through an OpenAI-compatible chat-completions endpoint.
pub struct OpenAiNarrator {
    client: Client<OpenAIConfig>,
    settings: OpenAiSettings,
    system_prompt: String,
}

impl std::fmt::Debug for OpenAiNarrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiNarrator")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The system prompt: the backstory and NPC personas.
pub fn system_prompt(world: &World) -> String {
    let mut p = format!(
        "You are the narrator of a galactic strategy campaign set in {}. \
         Write two or three vivid sentences about the latest events, using only \
         the names given. Do not invent outcomes.\n\nBackstory:\n",
        world.name
    );
    for para in &world.backstory.paragraphs {
        p.push_str(para);
        p.push('\n');
    }
    p.push_str("\nNotable characters:\n");
    for c in world.characters.iter().take(12) {
        let traits: Vec<&str> = c.personality.iter().map(|t| t.label()).collect();
        p.push_str(&format!(
            "- {} {}, {} ({}): {}\n",
            c.name,
            c.title,
            c.role.label(),
            traits.join(", "),
            c.motive_text
        ));
    }
    p
}

impl OpenAiNarrator {
    /// A narrator for one tier's endpoint.
    pub fn new(settings: OpenAiSettings, world: &World) -> Result<OpenAiNarrator, NarratorError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| NarratorError::Request(e.to_string()))?;
        let config = OpenAIConfig::new()
            .with_api_base(settings.base_url.trim_end_matches('/'))
            .with_api_key(settings.api_key.expose());
        // Retries are ours (below), so the client's own retry layer is left out.
        let client = Client::with_config(config)
            .with_http_service(async_openai::middleware::ReqwestService::new(http));
        Ok(OpenAiNarrator {
            client,
            system_prompt: system_prompt(world),
            settings,
        })
    }

    async fn attempt(&self, req: &NarrationRequest) -> Result<Narration, NarratorError> {
        let mut user = String::new();
        if !req.recent.is_empty() {
            user.push_str("Earlier:\n");
            for r in &req.recent {
                user.push_str(r);
                user.push('\n');
            }
        }
        user.push_str(&format!("Now, day {}:\n", req.tick));
        let request = CreateChatCompletionRequestArgs::default()
            .model(self.settings.model.clone())
            .max_completion_tokens(self.settings.max_tokens)
            .messages([
                ChatCompletionRequestSystemMessageArgs::default()
                    .content(self.system_prompt.clone())
                    .build()
                    .map_err(|e| NarratorError::Request(e.to_string()))?
                    .into(),
                ChatCompletionRequestUserMessageArgs::default()
                    .content(user + &events_text(req))
                    .build()
                    .map_err(|e| NarratorError::Request(e.to_string()))?
                    .into(),
            ])
            .build()
            .map_err(|e| NarratorError::Request(e.to_string()))?;
        let chat = self.client.chat();
        let call = chat.create(request);
        let response = match tokio::time::timeout(self.settings.timeout, call).await {
            Err(_) => return Err(NarratorError::Timeout(self.settings.timeout)),
            Ok(Err(OpenAIError::JSONDeserialize(e, _))) => {
                return Err(NarratorError::Malformed(e.to_string()));
            }
            Ok(Err(OpenAIError::Reqwest(e))) if e.is_timeout() => {
                return Err(NarratorError::Timeout(self.settings.timeout));
            }
            Ok(Err(e)) => return Err(NarratorError::Request(e.to_string())),
            Ok(Ok(r)) => r,
        };
        let text = response
            .choices
            .first()
            .and_then(|c| c.message.content.clone())
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| NarratorError::Malformed("no text in the answer".into()))?;
        let Some(usage) = response.usage else {
            return Err(NarratorError::Malformed("no usage figures".into()));
        };
        Ok(Narration {
            text,
            narrator: self.settings.provider.clone(),
            tokens: u64::from(usage.total_tokens),
        })
    }
}

fn events_text(req: &NarrationRequest) -> String {
    req.events
        .iter()
        .filter_map(|e| serde_json::to_string(e).ok())
        .collect::<Vec<_>>()
        .join("\n")
}

#[async_trait::async_trait]
impl Narrator for OpenAiNarrator {
    fn name(&self) -> &str {
        &self.settings.provider
    }

    async fn check(&self) -> Result<(), NarratorError> {
        let models = self.client.models();
        match tokio::time::timeout(self.settings.timeout, models.list()).await {
            Err(_) => Err(NarratorError::Timeout(self.settings.timeout)),
            Ok(Err(e)) => Err(NarratorError::Request(e.to_string())),
            Ok(Ok(_)) => Ok(()),
        }
    }

    async fn narrate(&self, req: &NarrationRequest) -> Result<Narration, NarratorError> {
        let mut delay = self.settings.backoff;
        let mut attempt = 0;
        loop {
            match self.attempt(req).await {
                Ok(n) => return Ok(n),
                // A malformed answer will not improve on asking again.
                Err(e @ NarratorError::Malformed(_)) => return Err(e),
                Err(e) if attempt >= self.settings.retries => return Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, attempt, "narration attempt failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                    attempt += 1;
                }
            }
        }
    }
}

/// Circuit breaker settings.
#[derive(Debug, Clone, Copy)]
pub struct BreakerSettings {
    /// Consecutive failures that open the breaker.
    pub failures: u32,
    /// How long it stays open before one trial call.
    pub cooldown: Duration,
}

#[derive(Debug)]
struct Breaker {
    settings: BreakerSettings,
    consecutive: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    fn allows(&mut self, now: Instant) -> bool {
        !matches!(self.open_until, Some(t) if now < t)
    }

    fn success(&mut self) {
        self.consecutive = 0;
        self.open_until = None;
    }

    /// Returns whether this failure opened the breaker.
    fn failure(&mut self, now: Instant) -> bool {
        self.consecutive += 1;
        if self.consecutive >= self.settings.failures {
            let was_open = self.open_until.is_some();
            self.open_until = Some(now + self.settings.cooldown);
            return !was_open;
        }
        false
    }

    fn open_now(&mut self, now: Instant) {
        self.consecutive = self.settings.failures;
        self.open_until = Some(now + self.settings.cooldown);
    }
}

/// Narration with a budget, a breaker and the offline fallback.
pub struct NarrationService {
    primary: Option<Arc<dyn Narrator>>,
    offline: OfflineNarrator,
    budget: u64,
    used: AtomicU64,
    breaker: Mutex<Breaker>,
    recent: Mutex<VecDeque<String>>,
    describer: Describer,
    metrics: Metrics,
}

impl std::fmt::Debug for NarrationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NarrationService")
            .field(
                "primary",
                &self.primary.as_ref().map(|p| p.name().to_owned()),
            )
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl NarrationService {
    /// A service narrating with `primary` (offline only when `None`),
    /// starting with `used` tokens already spent of `budget`.
    pub fn new(
        world: Arc<World>,
        primary: Option<Arc<dyn Narrator>>,
        budget: u64,
        used: u64,
        breaker: BreakerSettings,
        metrics: Metrics,
    ) -> NarrationService {
        NarrationService {
            primary,
            offline: OfflineNarrator::new(Arc::clone(&world)),
            budget,
            used: AtomicU64::new(used),
            breaker: Mutex::new(Breaker {
                settings: breaker,
                consecutive: 0,
                open_until: None,
            }),
            recent: Mutex::new(VecDeque::new()),
            describer: Describer::new(world),
            metrics,
        }
    }

    /// Tokens spent so far.
    pub fn tokens_used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// The narrator in use when healthy (`offline` or the provider).
    pub fn provider(&self) -> String {
        self.primary
            .as_ref()
            .map_or_else(|| "offline".to_owned(), |p| p.name().to_owned())
    }

    /// Warming: checks the primary narrator; when it cannot be reached the
    /// breaker opens and offline narration is used. Returns the narrator
    /// chosen.
    pub async fn warm(&self) -> String {
        let Some(primary) = &self.primary else {
            return "offline".into();
        };
        match primary.check().await {
            Ok(()) => primary.name().to_owned(),
            Err(e) => {
                tracing::warn!(provider = primary.name(), error = %e,
                    "narrator unreachable; narrating offline until it recovers");
                self.metrics
                    .narration_errors
                    .with_label_values(&[primary.name(), e.kind()])
                    .inc();
                if let Ok(mut b) = self.breaker.lock() {
                    b.open_now(Instant::now());
                }
                self.metrics.narrator_breaker_open.set(1);
                "offline".into()
            }
        }
    }

    fn fallback(&self, req: &NarrationRequest, reason: &str) -> Narration {
        self.metrics
            .narration_fallbacks
            .with_label_values(&[reason])
            .inc();
        self.offline.narrate_now(req)
    }

    /// Narrates; never fails (falls back to offline prose).
    pub async fn narrate(&self, tick: u64, events: Vec<GameEvent>) -> Narration {
        let recent: Vec<String> = self
            .recent
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default();
        let req = NarrationRequest {
            tick,
            events,
            recent,
        };
        let narration = self.narrate_request(&req).await;
        if let Ok(mut r) = self.recent.lock() {
            for e in &req.events {
                r.push_back(self.describer.describe(e));
                if r.len() > 20 {
                    r.pop_front();
                }
            }
        }
        narration
    }

    async fn narrate_request(&self, req: &NarrationRequest) -> Narration {
        let Some(primary) = &self.primary else {
            return self.offline.narrate_now(req);
        };
        if self.tokens_used() >= self.budget {
            return self.fallback(req, "budget");
        }
        let allowed = self
            .breaker
            .lock()
            .map(|mut b| b.allows(Instant::now()))
            .unwrap_or(false);
        if !allowed {
            return self.fallback(req, "circuit_open");
        }
        let started = Instant::now();
        let result = primary.narrate(req).await;
        self.metrics
            .narration_seconds
            .with_label_values(&[primary.name()])
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(n) => {
                self.used.fetch_add(n.tokens, Ordering::Relaxed);
                self.metrics
                    .narration_tokens
                    .with_label_values(&[primary.name()])
                    .inc_by(n.tokens);
                if let Ok(mut b) = self.breaker.lock() {
                    b.success();
                }
                self.metrics.narrator_breaker_open.set(0);
                n
            }
            Err(e) => {
                self.metrics
                    .narration_errors
                    .with_label_values(&[primary.name(), e.kind()])
                    .inc();
                let opened = self
                    .breaker
                    .lock()
                    .map(|mut b| b.failure(Instant::now()))
                    .unwrap_or(false);
                if opened {
                    tracing::warn!(provider = primary.name(), error = %e,
                        "narrator failing; circuit opened, narrating offline");
                    self.metrics.narrator_breaker_open.set(1);
                } else {
                    tracing::info!(provider = primary.name(), error = %e, "narration failed");
                }
                self.fallback(req, e.kind())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use campaign_gen::{Settings, generate};

    fn world() -> Arc<World> {
        Arc::new(generate(
            3,
            &Settings::builder().players(2).build().unwrap(),
        ))
    }

    #[test]
    fn offline_narration_is_deterministic_and_uses_world_names() {
        let w = world();
        let n = OfflineNarrator::new(Arc::clone(&w));
        let req = NarrationRequest {
            tick: 4,
            events: vec![GameEvent::OutpostBuilt {
                faction: 0,
                system: 1,
            }],
            recent: vec![],
        };
        let a = n.narrate_now(&req);
        assert_eq!(a, n.narrate_now(&req));
        assert!(a.text.contains(&w.factions[0].name), "{}", a.text);
        assert!(a.text.contains(&w.galaxy.systems[1].name), "{}", a.text);
    }

    #[test]
    fn the_breaker_opens_after_consecutive_failures_and_recovers_after_cooldown() {
        let mut b = Breaker {
            settings: BreakerSettings {
                failures: 2,
                cooldown: Duration::from_secs(10),
            },
            consecutive: 0,
            open_until: None,
        };
        let t = Instant::now();
        assert!(!b.failure(t));
        assert!(b.failure(t));
        assert!(!b.allows(t + Duration::from_secs(5)));
        assert!(b.allows(t + Duration::from_secs(11)));
        b.success();
        assert!(b.allows(t));
    }
}
