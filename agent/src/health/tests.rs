//! Fixtures for [`super::assess`]: every built-in kind in its progressing,
//! ready and failed states, the generic rule, and custom CEL rules.
//!
//! Objects are trimmed to the fields the rules read, as the API server
//! returns them (zero counters omitted).

use serde_json::{Value, json};

use super::{CompiledRule, Health, HealthError, assess};

fn ready(obj: &Value) {
    assert_eq!(assess(Some(obj), &[]), Health::Ready, "{obj:#}");
}

/// Asserts Progressing with a message containing `why`.
fn progressing(obj: &Value, why: &str) {
    match assess(Some(obj), &[]) {
        Health::Progressing(m) => assert!(m.contains(why), "{m:?} lacks {why:?}"),
        other => panic!("expected Progressing({why:?}), got {other:?} for {obj:#}"),
    }
}

/// Asserts Failed with a message containing `why`.
fn failed(obj: &Value, why: &str) {
    match assess(Some(obj), &[]) {
        Health::Failed(m) => assert!(m.contains(why), "{m:?} lacks {why:?}"),
        other => panic!("expected Failed({why:?}), got {other:?} for {obj:#}"),
    }
}

#[test]
fn not_found_is_progressing_never_failed() {
    // Seed 000: the installer's wait died on "no matching resources found".
    assert_eq!(
        assess(None, &[]),
        Health::Progressing("not found yet".to_owned())
    );
}

// --- Deployment -----------------------------------------------------------

fn deployment(generation: i64, status: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "apps", "generation": generation},
        "spec": {"replicas": 3},
        "status": status,
    })
}

#[test]
fn deployment_rolled_out_is_ready() {
    ready(&deployment(
        2,
        json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
               "readyReplicas": 3, "availableReplicas": 3}),
    ));
}

#[test]
fn deployment_with_generation_ahead_of_observed_is_progressing() {
    // The status is about the previous spec: all-ready numbers prove nothing.
    progressing(
        &deployment(
            3,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
                   "readyReplicas": 3, "availableReplicas": 3}),
        ),
        "observe generation 3 (observed 2)",
    );
}

#[test]
fn deployment_without_status_is_progressing() {
    let mut obj = deployment(1, json!(null));
    if let Some(o) = obj.as_object_mut() {
        o.remove("status");
    }
    progressing(&obj, "report status");
}

#[test]
fn deployment_mid_rollout_is_progressing() {
    progressing(
        &deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 1,
                              "readyReplicas": 3, "availableReplicas": 3}),
        ),
        "1 of 3 replicas updated",
    );
    progressing(
        &deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3,
                              "readyReplicas": 3, "availableReplicas": 3}),
        ),
        "1 old replicas pending termination",
    );
    progressing(
        &deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
                              "readyReplicas": 3, "availableReplicas": 2}),
        ),
        "2 of 3 replicas available",
    );
    progressing(
        &deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
                              "readyReplicas": 2, "availableReplicas": 3}),
        ),
        "2 of 3 replicas ready",
    );
}

#[test]
fn deployment_replicas_default_to_one() {
    let obj = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"generation": 1}, "spec": {},
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                   "readyReplicas": 1, "availableReplicas": 1},
    });
    ready(&obj);
}

#[test]
fn deployment_scaled_to_zero_is_ready() {
    ready(&json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"generation": 4}, "spec": {"replicas": 0},
        "status": {"observedGeneration": 4},
    }));
}

#[test]
fn deployment_past_its_progress_deadline_fails_with_the_message() {
    let obj = deployment(
        2,
        json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 1,
               "readyReplicas": 3, "availableReplicas": 3,
               "conditions": [{"type": "Progressing", "status": "False",
                               "reason": "ProgressDeadlineExceeded",
                               "message": "ReplicaSet \"api-7d9\" has timed out progressing."}]}),
    );
    failed(
        &obj,
        "progress deadline exceeded: ReplicaSet \"api-7d9\" has timed out progressing.",
    );
}

// --- StatefulSet ----------------------------------------------------------

fn stateful_set(spec: Value, status: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
           "metadata": {"name": "db", "generation": 1}, "spec": spec, "status": status})
}

#[test]
fn stateful_set_states() {
    let spec = json!({"replicas": 3});
    ready(&stateful_set(
        spec.clone(),
        json!({"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3,
               "currentRevision": "db-1", "updateRevision": "db-1"}),
    ));
    progressing(
        &stateful_set(
            spec.clone(),
            json!({"observedGeneration": 1, "replicas": 3, "readyReplicas": 1}),
        ),
        "1 of 3 replicas ready",
    );
    progressing(
        &stateful_set(
            spec.clone(),
            json!({"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 2}),
        ),
        "2 of 3 replicas updated",
    );
    progressing(
        &stateful_set(
            spec.clone(),
            json!({"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3,
                   "currentRevision": "db-1", "updateRevision": "db-2"}),
        ),
        "current revision db-1, updating to db-2",
    );
    progressing(
        &stateful_set(spec, json!({"observedGeneration": 0, "readyReplicas": 3})),
        "observe generation 1",
    );
}

#[test]
fn stateful_set_on_delete_does_not_wait_for_updates() {
    ready(&stateful_set(
        json!({"replicas": 2, "updateStrategy": {"type": "OnDelete"}}),
        json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "updatedReplicas": 0,
               "currentRevision": "db-1", "updateRevision": "db-2"}),
    ));
}

#[test]
fn stateful_set_partitioned_rollout_is_done_above_the_partition() {
    let spec = json!({"replicas": 3,
                      "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}});
    ready(&stateful_set(
        spec.clone(),
        json!({"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 1,
               "currentRevision": "db-1", "updateRevision": "db-2"}),
    ));
    progressing(
        &stateful_set(
            spec,
            json!({"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 0}),
        ),
        "0 of 1 replicas updated",
    );
}

// --- DaemonSet ------------------------------------------------------------

fn daemon_set(status: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
           "metadata": {"name": "agent", "generation": 5}, "spec": {}, "status": status})
}

#[test]
fn daemon_set_states() {
    ready(&daemon_set(
        json!({"observedGeneration": 5, "desiredNumberScheduled": 4,
                             "numberReady": 4, "updatedNumberScheduled": 4, "numberAvailable": 4}),
    ));
    progressing(
        &daemon_set(json!({"observedGeneration": 5, "desiredNumberScheduled": 4,
                           "numberReady": 4, "updatedNumberScheduled": 2, "numberAvailable": 4})),
        "2 of 4 pods updated",
    );
    progressing(
        &daemon_set(json!({"observedGeneration": 5, "desiredNumberScheduled": 4,
                           "numberReady": 3, "updatedNumberScheduled": 4, "numberAvailable": 3})),
        "3 of 4 pods ready",
    );
    progressing(
        &daemon_set(json!({"observedGeneration": 5, "desiredNumberScheduled": 4,
                           "numberReady": 4, "updatedNumberScheduled": 4, "numberAvailable": 1})),
        "1 of 4 pods available",
    );
    progressing(
        &daemon_set(json!({"observedGeneration": 4, "desiredNumberScheduled": 4,
                           "numberReady": 4, "updatedNumberScheduled": 4, "numberAvailable": 4})),
        "observe generation 5",
    );
}

// --- ReplicaSet -----------------------------------------------------------

#[test]
fn replica_set_states() {
    let rs = |status: Value| {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"generation": 1},
               "spec": {"replicas": 2}, "status": status})
    };
    ready(&rs(
        json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2}),
    ));
    progressing(
        &rs(json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 1})),
        "1 of 2",
    );
    progressing(&rs(json!({"replicas": 2})), "report status");
}

// --- Job ------------------------------------------------------------------

fn job(status: Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "db-migrate", "generation": 1}, "spec": {}, "status": status})
}

#[test]
fn job_complete_is_ready() {
    ready(&job(json!({"succeeded": 1, "conditions": [
        {"type": "SuccessCriteriaMet", "status": "True"},
        {"type": "Complete", "status": "True"}]})));
}

#[test]
fn job_running_is_progressing() {
    assert_eq!(
        assess(Some(&job(json!({"active": 1}))), &[]),
        Health::Progressing("running".to_owned())
    );
    progressing(
        &job(json!({"conditions": [{"type": "Suspended", "status": "True"}]})),
        "suspended",
    );
}

#[test]
fn job_failed_carries_its_condition() {
    let obj = job(json!({"failed": 7, "conditions": [
        {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
         "message": "Job has reached the specified backoff limit"}]}));
    assert_eq!(
        assess(Some(&obj), &[]),
        Health::Failed(
            "Job failed: BackoffLimitExceeded: Job has reached the specified backoff limit"
                .to_owned()
        )
    );
}

// --- PersistentVolumeClaim ------------------------------------------------

#[test]
fn pvc_states() {
    let pvc = |status: Value| json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": status});
    ready(&pvc(json!({"phase": "Bound"})));
    progressing(&pvc(json!({"phase": "Pending"})), "phase Pending");
    progressing(&pvc(json!({})), "not bound");
    failed(&pvc(json!({"phase": "Lost"})), "lost");
}

// --- CustomResourceDefinition ---------------------------------------------

#[test]
fn crd_states() {
    let crd = |conditions: Value| {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "clusters.postgresql.cnpg.io", "generation": 1},
               "status": {"conditions": conditions}})
    };
    ready(&crd(json!([{"type": "NamesAccepted", "status": "True"},
                      {"type": "Established", "status": "True"}])));
    progressing(
        &crd(json!([{"type": "NamesAccepted", "status": "True"},
                            {"type": "Established", "status": "False", "reason": "Installing"}])),
        "not established",
    );
    progressing(&crd(json!([])), "not established");
    failed(
        &crd(
            json!([{"type": "NamesAccepted", "status": "False", "reason": "ListKindConflict",
                        "message": "\"ClusterList\" is already in use"},
                       {"type": "Established", "status": "False"}]),
        ),
        "ListKindConflict",
    );
}

// --- Namespace ------------------------------------------------------------

#[test]
fn namespace_states() {
    ready(&json!({"apiVersion": "v1", "kind": "Namespace", "status": {"phase": "Active"}}));
    ready(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "new"}}));
    progressing(
        &json!({"apiVersion": "v1", "kind": "Namespace", "status": {"phase": "Terminating"}}),
        "terminating",
    );
}

// --- Pod ------------------------------------------------------------------

#[test]
fn pod_states() {
    let pod = |status: Value| json!({"apiVersion": "v1", "kind": "Pod", "status": status});
    ready(&pod(
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}),
    ));
    ready(&pod(json!({"phase": "Succeeded"})));
    progressing(&pod(json!({"phase": "Pending"})), "phase Pending");
    progressing(
        &pod(json!({"phase": "Running",
                    "conditions": [{"type": "Ready", "status": "False"}],
                    "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]})),
        "container app: CrashLoopBackOff",
    );
    failed(
        &pod(json!({"phase": "Failed", "reason": "Evicted", "message": "low on memory"})),
        "Evicted: low on memory",
    );
}

// --- Service --------------------------------------------------------------

#[test]
fn service_states() {
    let svc = |type_: &str, status: Value| json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": type_}, "status": status});
    ready(&svc("ClusterIP", json!({"loadBalancer": {}})));
    ready(&svc(
        "LoadBalancer",
        json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.7"}]}}),
    ));
    progressing(
        &svc("LoadBalancer", json!({"loadBalancer": {}})),
        "load balancer",
    );
    progressing(
        &svc("LoadBalancer", json!({"loadBalancer": {"ingress": []}})),
        "load balancer",
    );
    ready(&json!({"apiVersion": "v1", "kind": "Service", "spec": {}}));
}

// --- Generic rule ---------------------------------------------------------

fn custom(generation: i64, status: Value) -> Value {
    json!({"apiVersion": "example.io/v1", "kind": "Widget",
           "metadata": {"name": "w", "generation": generation}, "status": status})
}

#[test]
fn objects_without_status_are_ready() {
    ready(&json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}}));
    ready(&json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque"}));
    ready(&json!({"apiVersion": "v1", "kind": "ServiceAccount"}));
    ready(
        &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "rules": []}),
    );
    ready(&json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "value": 1000}));
    ready(
        &json!({"apiVersion": "monitoring.example.io/v1", "kind": "ScrapeConfig",
                  "metadata": {"generation": 1}, "spec": {}}),
    );
}

#[test]
fn custom_resource_ready_condition() {
    ready(&custom(
        2,
        json!({"observedGeneration": 2,
                            "conditions": [{"type": "Ready", "status": "True"}]}),
    ));
    ready(&custom(
        2,
        json!({"conditions": [{"type": "Available", "status": "True"}]}),
    ));
    progressing(
        &custom(
            2,
            json!({"observedGeneration": 2, "conditions": [
            {"type": "Ready", "status": "False", "reason": "Provisioning", "message": "creating volumes"}]}),
        ),
        "Ready=False: Provisioning: creating volumes",
    );
    progressing(
        &custom(
            2,
            json!({"conditions": [{"type": "Ready", "status": "Unknown"}]}),
        ),
        "Ready=Unknown",
    );
}

#[test]
fn custom_resource_with_unobserved_generation_is_progressing() {
    // flux2#4346: a stale Ready=True must not pass for the new spec.
    progressing(
        &custom(
            3,
            json!({"observedGeneration": 2,
                          "conditions": [{"type": "Ready", "status": "True"}]}),
        ),
        "observe generation 3 (observed 2)",
    );
    progressing(
        &custom(
            3,
            json!({"conditions": [{"type": "Ready", "status": "True", "observedGeneration": 2}]}),
        ),
        "waiting for generation 3",
    );
}

#[test]
fn custom_resource_with_conditions_but_no_ready_is_progressing() {
    // flux2#4528 / #4346: "unknown" must not pass as healthy.
    progressing(
        &custom(
            1,
            json!({"conditions": [{"type": "Initialized", "status": "True"}]}),
        ),
        "no Ready or Available condition",
    );
    progressing(
        &custom(1, json!({"conditions": []})),
        "no Ready or Available condition",
    );
    progressing(
        &custom(1, json!({"phase": "Creating"})),
        "give it a health rule",
    );
}

#[test]
fn custom_resource_with_current_observed_generation_and_no_conditions_is_ready() {
    ready(&custom(
        4,
        json!({"observedGeneration": 4, "phase": "Running"}),
    ));
}

#[test]
fn kstatus_abnormal_conditions() {
    failed(
        &custom(
            1,
            json!({"conditions": [
            {"type": "Stalled", "status": "True", "reason": "InvalidSpec", "message": "bad size"},
            {"type": "Ready", "status": "False"}]}),
        ),
        "stalled: InvalidSpec: bad size",
    );
    progressing(
        &custom(
            1,
            json!({"conditions": [
            {"type": "Reconciling", "status": "True", "reason": "Progressing"},
            {"type": "Ready", "status": "True"}]}),
        ),
        "reconciling",
    );
}

#[test]
fn built_in_kinds_without_ready_condition_are_ready() {
    ready(
        &json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                  "metadata": {"generation": 1},
                  "status": {"observedGeneration": 1,
                             "conditions": [{"type": "AbleToScale", "status": "True"}]}}),
    );
    ready(
        &json!({"apiVersion": "batch/v1", "kind": "CronJob", "status": {"lastScheduleTime": "x"}}),
    );
    progressing(
        &json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                "status": {"conditions": [{"type": "Available", "status": "False",
                                           "reason": "MissingEndpoints"}]}}),
        "Available=False: MissingEndpoints",
    );
}

#[test]
fn built_in_kind_names_in_custom_groups_use_the_generic_rule() {
    // A CR that happens to be called Deployment is not judged by replica counts.
    ready(&json!({"apiVersion": "example.io/v1", "kind": "Deployment",
                  "status": {"conditions": [{"type": "Ready", "status": "True"}]}}));
}

// --- Custom CEL rules -----------------------------------------------------

const CNPG_READY: &str =
    "self.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')";

fn cnpg_cluster(status: Option<Value>) -> Value {
    let mut obj = json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
                         "metadata": {"name": "pg", "namespace": "db", "generation": 1},
                         "spec": {"instances": 3}});
    if let (Some(status), Some(o)) = (status, obj.as_object_mut()) {
        o.insert("status".to_owned(), status);
    }
    obj
}

fn cnpg_rule() -> Result<CompiledRule, HealthError> {
    CompiledRule::compile(
        Some("postgresql.cnpg.io/v1"),
        "Cluster",
        CNPG_READY,
        Some("self.status.phase == 'Failed'"),
    )
}

#[test]
fn cnpg_rule_ready() -> Result<(), HealthError> {
    let obj = cnpg_cluster(Some(
        json!({"phase": "Cluster in healthy state", "conditions": [
        {"type": "ContinuousArchiving", "status": "False"},
        {"type": "Ready", "status": "True", "reason": "ClusterIsReady"}]}),
    ));
    assert_eq!(assess(Some(&obj), &[cnpg_rule()?]), Health::Ready);
    Ok(())
}

#[test]
fn cnpg_rule_not_ready_yet() -> Result<(), HealthError> {
    let obj = cnpg_cluster(Some(json!({"phase": "Setting up primary", "conditions": [
        {"type": "Ready", "status": "False", "reason": "ClusterIsNotReady"}]})));
    assert_eq!(
        assess(Some(&obj), &[cnpg_rule()?]),
        Health::Progressing("waiting for Cluster ready rule".to_owned())
    );
    Ok(())
}

#[test]
fn rule_on_a_missing_field_is_progressing_not_failed() -> Result<(), HealthError> {
    // Just applied: the operator has not written status yet. Without the rule
    // the generic rule would call a status-less object Ready.
    let rules = [cnpg_rule()?];
    let fresh = cnpg_cluster(None);
    assert!(
        matches!(assess(Some(&fresh), &rules), Health::Progressing(m) if m.starts_with("waiting for Cluster ready rule")),
    );
    let no_conditions = cnpg_cluster(Some(json!({"phase": "Setting up primary"})));
    assert!(matches!(
        assess(Some(&no_conditions), &rules),
        Health::Progressing(_)
    ));
    Ok(())
}

#[test]
fn failed_rule_fails_with_the_expression() -> Result<(), HealthError> {
    let obj = cnpg_cluster(Some(json!({"phase": "Failed", "conditions": [
        {"type": "Ready", "status": "False"}]})));
    assert_eq!(
        assess(Some(&obj), &[cnpg_rule()?]),
        Health::Failed("rule self.status.phase == 'Failed' matched".to_owned())
    );
    Ok(())
}

#[test]
fn custom_rule_overrides_the_built_in_one() -> Result<(), HealthError> {
    // A rule for a built-in kind: a Job counts as ready as soon as it started.
    let rule = CompiledRule::compile(Some("batch/v1"), "Job", "self.status.active > 0", None)?;
    let obj = job(json!({"active": 1}));
    assert_eq!(assess(Some(&obj), &[rule]), Health::Ready);
    Ok(())
}

#[test]
fn rules_for_other_kinds_do_not_apply() -> Result<(), HealthError> {
    let obj = job(json!({"active": 1}));
    assert_eq!(
        assess(Some(&obj), &[cnpg_rule()?]),
        Health::Progressing("running".to_owned())
    );
    Ok(())
}

#[test]
fn the_first_matching_rule_wins() -> Result<(), HealthError> {
    let rules = [
        CompiledRule::compile(None, "Cluster", "true", None)?,
        CompiledRule::compile(None, "Cluster", "false", None)?,
    ];
    assert_eq!(assess(Some(&cnpg_cluster(None)), &rules), Health::Ready);
    Ok(())
}

#[test]
fn a_type_error_in_a_rule_fails_fast_with_the_reason() -> Result<(), HealthError> {
    let rule = CompiledRule::compile(None, "Cluster", "self.spec.instances > 'three'", None)?;
    match assess(Some(&cnpg_cluster(None)), &[rule]) {
        Health::Failed(m) => assert!(m.contains("cannot be evaluated"), "{m}"),
        other => panic!("expected Failed, got {other:?}"),
    }
    Ok(())
}
