//! The Kubernetes side: the `GameServer` and `GameServerPool` custom
//! resources and the reconcile decisions for them. Decisions are pure
//! functions of a resource and what exists for it ([`decide`]); the loop
//! that watches the API server and carries them out sits on top.

pub mod decide;
#[cfg(test)]
pub mod fixtures;
pub mod lease;
pub mod resources;
pub mod run;

pub use decide::{Action, Decision, Observed, ObservedPod, PodSettings, PodState, decide};
pub use resources::{
    DesiredState, GameServer, GameServerPool, GameServerPoolSpec, GameServerPoolStatus,
    GameServerSpec, GameServerStatus, Phase, SnapshotLocation, crds_yaml,
};

#[cfg(test)]
mod tests {
    /// Where the generated CRDs are committed.
    const COMMITTED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../charts/startales/crds/startales.dev.yaml"
    );

    #[test]
    fn the_committed_crds_match_the_rust_types() {
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        assert!(
            committed == super::crds_yaml(),
            "charts/startales/crds/startales.dev.yaml is out of date; regenerate it with\n  \
             cargo run -p orchestrator -- crd > charts/startales/crds/startales.dev.yaml"
        );
    }
}
