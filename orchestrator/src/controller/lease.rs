//! Leader election on a `coordination.k8s.io/v1` Lease: every replica
//! serves the API, one reconciles. The decision (take, renew, follow) is a
//! pure function of the lease and the clock; the loop writes with the
//! lease's resource version, so two replicas racing for it cannot both win
//! (the loser gets a 409 and follows).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::watch;

/// What a replica should do with the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseDecision {
    /// Nobody holds it (or the holder let it lapse): take it.
    Take,
    /// We hold it: renew it.
    Renew,
    /// Someone else holds it until then.
    Follow {
        /// The holder.
        holder: String,
    },
}

/// Decides from the lease's spec (None: no lease yet) at `now`.
pub fn decide_lease(spec: Option<&LeaseSpec>, me: &str, now: jiff::Timestamp) -> LeaseDecision {
    let Some(spec) = spec else {
        return LeaseDecision::Take;
    };
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder == me {
        return LeaseDecision::Renew;
    }
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(15));
    let renewed = spec.renew_time.as_ref().map(|t| t.0);
    let lapsed = match renewed {
        Some(t) => now.as_second() >= t.as_second().saturating_add(duration),
        None => true,
    };
    if holder.is_empty() || lapsed {
        LeaseDecision::Take
    } else {
        LeaseDecision::Follow { holder }
    }
}

/// Lease settings.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// Namespace of the lease.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// This replica's identity (its pod name).
    pub identity: String,
    /// How long a lease lasts without renewal.
    pub duration: Duration,
    /// How often to renew (well under `duration`).
    pub renew_every: Duration,
}

/// One round: reads the lease, takes or renews it if it should, and
/// returns whether this replica leads now.
pub async fn round(api: &Api<Lease>, s: &LeaseSettings, now: jiff::Timestamp) -> bool {
    let current = match api.get_opt(&s.name).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "reading the lease failed; not leading");
            return false;
        }
    };
    let decision = decide_lease(
        current.as_ref().and_then(|l| l.spec.as_ref()),
        &s.identity,
        now,
    );
    let LeaseDecision::Follow { .. } = decision else {
        let transitions = current
            .as_ref()
            .and_then(|l| l.spec.as_ref())
            .and_then(|sp| sp.lease_transitions)
            .unwrap_or(0);
        let spec = LeaseSpec {
            holder_identity: Some(s.identity.clone()),
            lease_duration_seconds: Some(i32::try_from(s.duration.as_secs()).unwrap_or(15)),
            renew_time: Some(MicroTime(now)),
            acquire_time: match (&decision, current.as_ref().and_then(|l| l.spec.as_ref())) {
                (LeaseDecision::Renew, Some(sp)) => sp.acquire_time.clone(),
                _ => Some(MicroTime(now)),
            },
            lease_transitions: Some(if decision == LeaseDecision::Take {
                transitions + 1
            } else {
                transitions
            }),
            ..LeaseSpec::default()
        };
        let written = match current {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(s.name.clone()),
                        namespace: Some(s.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec),
                };
                api.create(&PostParams::default(), &lease).await
            }
            Some(mut lease) => {
                // The resource version makes this a compare-and-swap.
                lease.spec = Some(spec);
                api.replace(&s.name, &PostParams::default(), &lease).await
            }
        };
        return match written {
            Ok(_) => true,
            Err(e) => {
                tracing::info!(error = %e, "lost the race for the lease");
                false
            }
        };
    };
    false
}

/// Keeps trying for the lease; `leading` says whether we lead right now.
pub async fn keep(api: Api<Lease>, s: LeaseSettings, leading: watch::Sender<bool>) {
    let mut tick = tokio::time::interval(s.renew_every);
    loop {
        tick.tick().await;
        let lead = round(&api, &s, jiff::Timestamp::now()).await;
        if *leading.borrow() != lead {
            tracing::info!(leading = lead, identity = %s.identity, "leadership changed");
        }
        let _ = leading.send(lead);
    }
}

/// Runs what `start` spawns only while `leading` is true: started when
/// leadership comes, aborted the moment it goes (so a replica that lost
/// the lease stops writing at once), started again if it comes back.
/// Returns when the sender of `leading` is gone.
pub async fn while_leading<F>(mut leading: watch::Receiver<bool>, start: F)
where
    F: Fn() -> tokio::task::JoinHandle<()>,
{
    let mut running: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        let lead = *leading.borrow_and_update();
        match (lead, running.take()) {
            (true, None) => running = Some(start()),
            (true, Some(t)) if t.is_finished() => running = Some(start()),
            (true, Some(t)) => running = Some(t),
            (false, Some(t)) => t.abort(),
            (false, None) => {}
        }
        if leading.changed().await.is_err() {
            break;
        }
    }
    if let Some(t) = running {
        t.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fixtures::{conflict, expect, mock_client, not_found};
    use serde_json::json;

    fn now() -> jiff::Timestamp {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    fn held(by: &str, renewed_secs_ago: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(by.into()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(
                now() - jiff::SignedDuration::from_secs(renewed_secs_ago),
            )),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn a_missing_free_or_lapsed_lease_is_taken_and_a_live_one_followed() {
        assert_eq!(decide_lease(None, "a", now()), LeaseDecision::Take);
        assert_eq!(
            decide_lease(Some(&LeaseSpec::default()), "a", now()),
            LeaseDecision::Take
        );
        assert_eq!(
            decide_lease(Some(&held("a", 5)), "a", now()),
            LeaseDecision::Renew
        );
        assert_eq!(
            decide_lease(Some(&held("b", 14)), "a", now()),
            LeaseDecision::Follow { holder: "b".into() }
        );
        assert_eq!(
            decide_lease(Some(&held("b", 15)), "a", now()),
            LeaseDecision::Take
        );
    }

    fn settings() -> LeaseSettings {
        LeaseSettings {
            namespace: "default".into(),
            name: "startales-controller".into(),
            identity: "orchestrator-0".into(),
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }
    }

    const LEASE: &str =
        "/apis/coordination.k8s.io/v1/namespaces/default/leases/startales-controller";

    #[tokio::test]
    async fn the_first_replica_creates_the_lease_and_leads() {
        let (client, mut api) = mock_client();
        let server = tokio::spawn(async move {
            expect(
                &mut api,
                "GET",
                LEASE,
                404,
                not_found("startales-controller"),
            )
            .await;
            let made = expect(
                &mut api,
                "POST",
                "/apis/coordination.k8s.io/v1/namespaces/default/leases",
                201,
                json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                       "metadata": {"name": "startales-controller", "resourceVersion": "1"},
                       "spec": {"holderIdentity": "orchestrator-0"}}),
            )
            .await;
            assert_eq!(made.body["spec"]["holderIdentity"], "orchestrator-0");
            assert_eq!(made.body["spec"]["leaseTransitions"], 1);
        });
        let leases: Api<Lease> = Api::namespaced(client, "default");
        assert!(round(&leases, &settings(), now()).await);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_replica_that_loses_the_race_for_a_lapsed_lease_follows() {
        let (client, mut api) = mock_client();
        let stale = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "startales-controller", "resourceVersion": "7"},
            "spec": {"holderIdentity": "orchestrator-1", "leaseDurationSeconds": 15,
                     "renewTime": "2026-11-23T11:59:00.000000Z", "leaseTransitions": 3}});
        let server = tokio::spawn(async move {
            expect(&mut api, "GET", LEASE, 200, stale).await;
            let put = expect(
                &mut api,
                "PUT",
                LEASE,
                409,
                conflict("startales-controller"),
            )
            .await;
            assert_eq!(put.body["metadata"]["resourceVersion"], "7");
            assert_eq!(put.body["spec"]["leaseTransitions"], 4);
        });
        let leases: Api<Lease> = Api::namespaced(client, "default");
        assert!(!round(&leases, &settings(), now()).await);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_live_lease_of_another_replica_is_left_alone() {
        let (client, mut api) = mock_client();
        let live = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "startales-controller", "resourceVersion": "8"},
            "spec": {"holderIdentity": "orchestrator-1", "leaseDurationSeconds": 15,
                     "renewTime": "2026-11-23T11:59:58.000000Z"}});
        let server = tokio::spawn(async move {
            expect(&mut api, "GET", LEASE, 200, live).await;
        });
        let leases: Api<Lease> = Api::namespaced(client, "default");
        assert!(!round(&leases, &settings(), now()).await);
        server.await.unwrap();
    }

    fn ours(renewed: &str, version: &str) -> serde_json::Value {
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "startales-controller", "resourceVersion": version},
            "spec": {"holderIdentity": "orchestrator-0", "leaseDurationSeconds": 15,
                     "renewTime": renewed, "leaseTransitions": 1}})
    }

    #[tokio::test]
    async fn a_leader_renews_with_a_compare_and_swap_and_keeps_leading() {
        let (client, mut api) = mock_client();
        let server = tokio::spawn(async move {
            expect(
                &mut api,
                "GET",
                LEASE,
                200,
                ours("2026-11-23T11:59:55.000000Z", "9"),
            )
            .await;
            let put = expect(
                &mut api,
                "PUT",
                LEASE,
                200,
                ours("2026-11-23T12:00:00.000000Z", "10"),
            )
            .await;
            assert_eq!(put.body["metadata"]["resourceVersion"], "9");
            assert_eq!(
                put.body["spec"]["leaseTransitions"], 1,
                "a renewal is no transition"
            );
            assert_eq!(put.body["spec"]["renewTime"], "2026-11-23T12:00:00.000000Z");
        });
        let leases: Api<Lease> = Api::namespaced(client, "default");
        assert!(round(&leases, &settings(), now()).await);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_leader_loses_the_lease_when_another_took_it_its_renewal_conflicts_or_the_api_fails()
    {
        let (client, mut api) = mock_client();
        let server = tokio::spawn(async move {
            // We stalled past the lease; another replica holds it now.
            expect(&mut api, "GET", LEASE, 200, json!({"apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease", "metadata": {"name": "startales-controller", "resourceVersion": "12"},
                "spec": {"holderIdentity": "orchestrator-1", "leaseDurationSeconds": 15,
                         "renewTime": "2026-11-23T11:59:59.000000Z"}})).await;
            // Our renewal raced another writer.
            expect(
                &mut api,
                "GET",
                LEASE,
                200,
                ours("2026-11-23T11:59:55.000000Z", "13"),
            )
            .await;
            expect(
                &mut api,
                "PUT",
                LEASE,
                409,
                conflict("startales-controller"),
            )
            .await;
            // The API server is unreachable or failing: we cannot know, so we stop.
            expect(
                &mut api,
                "GET",
                LEASE,
                500,
                json!({"kind": "Status", "apiVersion": "v1",
                "metadata": {}, "status": "Failure", "message": "etcd unavailable",
                "reason": "InternalError", "code": 500}),
            )
            .await;
        });
        let leases: Api<Lease> = Api::namespaced(client, "default");
        for _ in 0..3 {
            assert!(!round(&leases, &settings(), now()).await);
        }
        server.await.unwrap();
    }

    #[tokio::test]
    async fn losing_the_lease_stops_the_controllers_at_once_and_regaining_it_restarts_them() {
        let (lead_tx, leading) = watch::channel(false);
        let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
        let starts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = starts.clone();
        let gate = tokio::spawn(while_leading(leading, move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let events = events_tx.clone();
            tokio::spawn(async move {
                // Says "stopped" when dropped, which aborting does.
                struct Stopped(tokio::sync::mpsc::UnboundedSender<&'static str>);
                impl Drop for Stopped {
                    fn drop(&mut self) {
                        let _ = self.0.send("stopped");
                    }
                }
                let _guard = Stopped(events.clone());
                let _ = events.send("started");
                std::future::pending::<()>().await;
            })
        }));
        async fn next(
            events: &mut tokio::sync::mpsc::UnboundedReceiver<&'static str>,
        ) -> Option<&'static str> {
            tokio::time::timeout(Duration::from_secs(5), events.recv())
                .await
                .ok()
                .flatten()
        }
        // Following: nothing runs.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(starts.load(std::sync::atomic::Ordering::SeqCst), 0);
        lead_tx.send(true).unwrap();
        assert_eq!(next(&mut events).await, Some("started"));
        // A renewal that keeps the lease changes nothing.
        lead_tx.send(true).unwrap();
        lead_tx.send(false).unwrap();
        assert_eq!(next(&mut events).await, Some("stopped"));
        lead_tx.send(true).unwrap();
        assert_eq!(next(&mut events).await, Some("started"));
        assert_eq!(starts.load(std::sync::atomic::Ordering::SeqCst), 2);
        // The lease keeper gone: the controllers go with it.
        drop(lead_tx);
        assert_eq!(next(&mut events).await, Some("stopped"));
        gate.await.unwrap();
    }
}
