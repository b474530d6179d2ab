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
}
