//! The Kubernetes side: the `GameServer` and `GameServerPool` custom
//! resources and the reconcile decisions for them. Decisions are pure
//! functions of a resource and what exists for it ([`decide`],
//! [`pool::decide_pool`]); the loops that watch the API server and carry
//! them out sit on top ([`run`]), gated by a Lease ([`lease`]).

pub mod decide;
#[cfg(test)]
pub mod fixtures;
pub mod lease;
pub mod pool;
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

    /// Renders the subset of Helm templating the chart uses: `{{
    /// .Release.Namespace }}` and `{{ .Values.a.b }}` looked up in
    /// `values.yaml`, optionally `| quote`d. Anything else fails the test.
    fn render(text: &str, values: &serde_json::Value, file: &std::path::Path) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find("}}")
                .unwrap_or_else(|| panic!("{file:?}: unclosed {{{{"));
            let inner = rest[start + 2..start + end].trim();
            let (expr, quoted) = match inner.strip_suffix("| quote") {
                Some(e) => (e.trim(), true),
                None => (inner, false),
            };
            let value = if expr == ".Release.Namespace" {
                "startales".to_string()
            } else if let Some(path) = expr.strip_prefix(".Values.") {
                let v = path.split('.').fold(values, |v, k| &v[k]);
                match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    other => {
                        panic!("{file:?}: .Values.{path} is {other}, not a scalar in values.yaml")
                    }
                }
            } else {
                panic!("{file:?} uses templating the test does not know: {expr}")
            };
            if quoted {
                out.push_str(&serde_json::Value::String(value).to_string());
            } else {
                out.push_str(&value);
            }
            rest = &rest[start + end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// The chart's templates, as the API server would get them with the
    /// chart's default values.
    fn chart() -> Vec<serde_json::Value> {
        use serde::Deserialize as _;
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../charts/startales");
        let values: serde_json::Value = serde_norway::from_str(
            &std::fs::read_to_string(format!("{root}/values.yaml")).unwrap(),
        )
        .unwrap();
        let mut docs = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(format!("{root}/templates"))
            .unwrap()
            .flatten()
            .collect();
        files.sort_by_key(|f| f.path());
        for f in files {
            let text = render(
                &std::fs::read_to_string(f.path()).unwrap(),
                &values,
                &f.path(),
            );
            for doc in serde_norway::Deserializer::from_str(&text) {
                docs.push(serde_json::Value::deserialize(doc).unwrap());
            }
        }
        docs
    }

    fn one<T: serde::de::DeserializeOwned>(docs: &[serde_json::Value], kind: &str) -> T {
        let found: Vec<_> = docs.iter().filter(|d| d["kind"] == kind).collect();
        assert_eq!(found.len(), 1, "one {kind} in the chart");
        serde_json::from_value(found[0].clone()).unwrap()
    }

    #[test]
    fn the_chart_grants_what_the_scheduler_and_controller_use_and_no_more_secrets() {
        use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
        let docs = chart();
        let role: Role = one(&docs, "Role");
        let rules = role.rules.unwrap_or_default();
        let allowed = |group: &str, resource: &str, verb: &str| {
            rules.iter().any(|r| {
                r.api_groups
                    .as_ref()
                    .is_some_and(|g| g.iter().any(|x| x == group))
                    && r.resources
                        .as_ref()
                        .is_some_and(|rs| rs.iter().any(|x| x == resource))
                    && r.verbs.iter().any(|v| v == verb)
            })
        };
        for (group, resource, verbs) in [
            (
                "startales.dev",
                "gameservers",
                &["get", "list", "watch", "patch", "delete"][..],
            ),
            ("startales.dev", "gameservers/status", &["patch"][..]),
            (
                "startales.dev",
                "gameserverpools",
                &["get", "list", "watch"][..],
            ),
            ("startales.dev", "gameserverpools/status", &["patch"][..]),
            (
                "",
                "pods",
                &["get", "list", "watch", "create", "patch", "delete"][..],
            ),
            (
                "coordination.k8s.io",
                "leases",
                &["get", "create", "update"][..],
            ),
            ("events.k8s.io", "events", &["create", "patch"][..]),
            ("", "secrets", &["get"][..]),
        ] {
            for verb in verbs {
                assert!(allowed(group, resource, verb), "{verb} {group}/{resource}");
            }
        }
        // Only the game servers' Secret is readable.
        for r in rules.iter().filter(|r| {
            r.resources
                .as_ref()
                .is_some_and(|rs| rs.iter().any(|x| x == "secrets"))
        }) {
            assert_eq!(
                r.resource_names.as_deref(),
                Some(&[super::PodSettings::default().secret_name][..])
            );
        }
        let binding: RoleBinding = one(&docs, "RoleBinding");
        assert_eq!(binding.role_ref.name, role.metadata.name.unwrap());
        let account = binding.subjects.unwrap()[0].name.clone();
        let deployment: k8s_openapi::api::apps::v1::Deployment = one(&docs, "Deployment");
        let pod = deployment.spec.unwrap().template.spec.unwrap();
        assert_eq!(pod.service_account_name.as_deref(), Some(account.as_str()));
        let c = &pod.containers[0];
        let env = c.env.clone().unwrap_or_default();
        let value = |n: &str| env.iter().find(|e| e.name == n).cloned();
        assert_eq!(
            value("STARTALES_RUNTIME").unwrap().value.as_deref(),
            Some("kubernetes")
        );
        assert_eq!(
            value("POD_NAME")
                .unwrap()
                .value_from
                .unwrap()
                .field_ref
                .unwrap()
                .field_path,
            "metadata.name"
        );
        assert!(
            value("STARTALES_LISTEN")
                .unwrap()
                .value
                .unwrap()
                .starts_with("0.0.0.0:")
        );
        let probe = super::fixtures::probe_path;
        assert_eq!(probe(&c.readiness_probe).as_deref(), Some("/readyz"));
        assert_eq!(probe(&c.liveness_probe).as_deref(), Some("/healthz"));
    }

    #[test]
    fn kubectl_scale_works_on_pools_and_the_chart_keeps_one_warm() {
        use kube::core::CustomResourceExt as _;
        let crd = super::GameServerPool::crd();
        let version = &crd.spec.versions[0];
        let scale = version
            .subresources
            .as_ref()
            .and_then(|s| s.scale.as_ref())
            .expect("a scale subresource");
        assert_eq!(scale.spec_replicas_path, ".spec.replicas");
        assert_eq!(scale.status_replicas_path, ".status.replicas");
        assert_eq!(
            scale.label_selector_path.as_deref(),
            Some(".status.selector")
        );
        let pool: super::GameServerPool = one(&chart(), "GameServerPool");
        assert!(pool.spec.replicas >= 1);
        let deployment: k8s_openapi::api::apps::v1::Deployment = one(&chart(), "Deployment");
        let env = deployment.spec.unwrap().template.spec.unwrap().containers[0]
            .env
            .clone()
            .unwrap_or_default();
        let value = |n: &str| {
            env.iter()
                .find(|e| e.name == n)
                .and_then(|e| e.value.clone())
        };
        // Campaigns only take warm servers made like their own.
        assert_eq!(Some(pool.spec.image), value("STARTALES_GAME_SERVER_IMAGE"));
        assert_eq!(
            pool.spec.snapshot_credentials_secret,
            value("STARTALES_S3_CREDENTIALS_SECRET")
        );
        assert_eq!(
            pool.spec.resources,
            Some(crate::runtime::kubernetes::resources(
                &value("STARTALES_GAME_SERVER_CPU").unwrap_or_default(),
                &value("STARTALES_GAME_SERVER_MEMORY").unwrap_or_default(),
                &value("STARTALES_GAME_SERVER_MEMORY_LIMIT").unwrap_or_default(),
            ))
        );
    }

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
