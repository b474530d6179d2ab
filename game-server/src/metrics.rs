//! Prometheus metrics of one game server, rendered as text at `/metrics`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// Every metric the server exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Tick duration.
    pub tick_seconds: Histogram,
    /// Last completed tick.
    pub tick: IntGauge,
    /// Connected players (all roles).
    pub players_online: IntGauge,
    /// Commands by kind and result (`ok` or an error code).
    pub commands: IntCounterVec,
    /// Command acknowledgement latency (receipt to durable ack).
    pub ack_seconds: Histogram,
    /// Narration latency by provider.
    pub narration_seconds: HistogramVec,
    /// Narration tokens by provider.
    pub narration_tokens: IntCounterVec,
    /// Narration errors by provider and kind.
    pub narration_errors: IntCounterVec,
    /// Narrations served by the offline fallback, by reason.
    pub narration_fallbacks: IntCounterVec,
    /// Narration jobs dropped because the narrator fell behind.
    pub narration_dropped: IntCounter,
    /// 1 while the narration circuit breaker is open.
    pub narrator_breaker_open: IntGauge,
    /// Snapshot duration.
    pub snapshot_seconds: Histogram,
    /// Size of the last snapshot, compressed bytes.
    pub snapshot_bytes: IntGauge,
    /// Failed snapshots.
    pub snapshot_failures: IntCounter,
    /// Restores that had to skip a corrupt or missing snapshot.
    pub restore_fallbacks: IntCounter,
    /// Connections closed because the client could not keep up.
    pub slow_clients: IntCounter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn reg<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, m: T) -> T {
    // Names are fixed and unique, so registration cannot collide.
    let _ = r.register(Box::new(m.clone()));
    m
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Metrics {
        let r = Registry::new_custom(Some("gameserver".into()), None).unwrap_or_default();
        let fast = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
        ];
        let slow = vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
        macro_rules! h {
            ($n:literal, $help:literal, $b:expr) => {
                Histogram::with_opts(HistogramOpts::new($n, $help).buckets($b.clone()))
                    .expect("valid histogram")
            };
        }
        macro_rules! hv {
            ($n:literal, $help:literal, $b:expr, $l:expr) => {
                HistogramVec::new(HistogramOpts::new($n, $help).buckets($b.clone()), $l)
                    .expect("valid histogram")
            };
        }
        macro_rules! cv {
            ($n:literal, $help:literal, $l:expr) => {
                IntCounterVec::new(Opts::new($n, $help), $l).expect("valid counter")
            };
        }
        macro_rules! g {
            ($n:literal, $help:literal) => {
                IntGauge::new($n, $help).expect("valid gauge")
            };
        }
        macro_rules! c {
            ($n:literal, $help:literal) => {
                IntCounter::new($n, $help).expect("valid counter")
            };
        }
        Metrics {
            tick_seconds: reg(&r, h!("tick_duration_seconds", "Tick duration.", fast)),
            tick: reg(&r, g!("tick", "Last completed tick.")),
            players_online: reg(&r, g!("players_online", "Connected clients.")),
            commands: reg(
                &r,
                cv!(
                    "commands_total",
                    "Commands by kind and result.",
                    &["kind", "result"]
                ),
            ),
            ack_seconds: reg(&r, h!("command_ack_seconds", "Command ack latency.", fast)),
            narration_seconds: reg(
                &r,
                hv!(
                    "narration_duration_seconds",
                    "Narration latency.",
                    slow,
                    &["provider"]
                ),
            ),
            narration_tokens: reg(
                &r,
                cv!("narration_tokens_total", "Narration tokens.", &["provider"]),
            ),
            narration_errors: reg(
                &r,
                cv!(
                    "narration_errors_total",
                    "Narration errors.",
                    &["provider", "kind"]
                ),
            ),
            narration_fallbacks: reg(
                &r,
                cv!(
                    "narration_fallback_total",
                    "Narrations served offline instead, by reason.",
                    &["reason"]
                ),
            ),
            narration_dropped: reg(&r, c!("narration_dropped_total", "Narration jobs dropped.")),
            narrator_breaker_open: reg(
                &r,
                g!(
                    "narrator_circuit_open",
                    "1 while the narrator breaker is open."
                ),
            ),
            snapshot_seconds: reg(
                &r,
                h!("snapshot_duration_seconds", "Snapshot duration.", slow),
            ),
            snapshot_bytes: reg(&r, g!("snapshot_size_bytes", "Last snapshot size.")),
            snapshot_failures: reg(&r, c!("snapshot_failures_total", "Failed snapshots.")),
            restore_fallbacks: reg(
                &r,
                c!(
                    "restore_fallbacks_total",
                    "Corrupt or missing snapshots skipped."
                ),
            ),
            slow_clients: reg(&r, c!("slow_clients_total", "Clients dropped for lagging.")),
            registry: r,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
