//! Defaults of the kinds charts ship around their workloads: admission
//! webhooks and policies, APIServices, HorizontalPodAutoscalers,
//! EndpointSlices and NetworkPolicies — the `SetDefaults_*` functions of
//! `pkg/apis/{admissionregistration,autoscaling,discovery,networking}/v*`
//! in kube-apiserver v1.32. Webhooks are stored, never called.

use super::{Obj, child, each, ensure, existing, json, or_insert};

/// SetDefaults_ValidatingWebhook / SetDefaults_MutatingWebhook, with their
/// ServiceReference (port 443) and RuleWithOperations (scope `*`).
pub(super) fn webhook_configuration(o: &mut Obj, mutating: bool) {
    for hook in each(o, "webhooks") {
        or_insert(hook, "failurePolicy", json!("Fail"));
        or_insert(hook, "matchPolicy", json!("Equivalent"));
        or_insert(hook, "namespaceSelector", json!({}));
        or_insert(hook, "objectSelector", json!({}));
        or_insert(hook, "timeoutSeconds", json!(10));
        if mutating {
            or_insert(hook, "reinvocationPolicy", json!("Never"));
        }
        if let Some(service) = existing(hook, "clientConfig").and_then(|c| existing(c, "service")) {
            or_insert(service, "port", json!(443));
        }
        each(hook, "rules").for_each(|r| or_insert(r, "scope", json!("*")));
    }
}

/// SetDefaults_MatchResources and its NamedRuleWithOperations.
fn match_resources(m: &mut Obj) {
    or_insert(m, "matchPolicy", json!("Equivalent"));
    or_insert(m, "namespaceSelector", json!({}));
    or_insert(m, "objectSelector", json!({}));
    for key in ["resourceRules", "excludeResourceRules"] {
        each(m, key).for_each(|r| or_insert(r, "scope", json!("*")));
    }
}

/// SetDefaults_ValidatingAdmissionPolicySpec.
pub(super) fn validating_admission_policy(o: &mut Obj) {
    let Some(spec) = existing(o, "spec") else {
        return;
    };
    or_insert(spec, "failurePolicy", json!("Fail"));
    if let Some(m) = existing(spec, "matchConstraints") {
        match_resources(m);
    }
}

/// SetDefaults_ValidatingAdmissionPolicyBinding (its matchResources and
/// paramRef).
pub(super) fn validating_admission_policy_binding(o: &mut Obj) {
    let Some(spec) = existing(o, "spec") else {
        return;
    };
    if let Some(m) = existing(spec, "matchResources") {
        match_resources(m);
    }
    if let Some(p) = existing(spec, "paramRef") {
        or_insert(p, "parameterNotFoundAction", json!("Deny"));
    }
}

/// autoscaling/v2 SetDefaults_HorizontalPodAutoscaler: one replica at
/// least, 80 % CPU when no metric is named, and a given `behavior`
/// completed with the default scale-up and scale-down rules.
pub(super) fn horizontal_pod_autoscaler(o: &mut Obj) {
    let Some(spec) = existing(o, "spec") else {
        return;
    };
    or_insert(spec, "minReplicas", json!(1));
    if spec
        .get("metrics")
        .and_then(|m| m.as_array())
        .is_none_or(Vec::is_empty)
    {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    let Some(behavior) = existing(spec, "behavior") else {
        return;
    };
    let up = json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15}]});
    let down = json!({"stabilizationWindowSeconds": 300, "selectPolicy": "Max", "policies": [
        {"type": "Percent", "value": 100, "periodSeconds": 15}]});
    for (key, defaults) in [("scaleUp", up), ("scaleDown", down)] {
        let rules = behavior.entry(key).or_insert_with(|| json!({}));
        if let (Some(rules), Some(defaults)) = (rules.as_object_mut(), defaults.as_object()) {
            for (field, value) in defaults {
                or_insert(rules, field, value.clone());
            }
        }
    }
}

/// SetDefaults_EndpointPort: an unnamed port is named `""`, and TCP.
pub(super) fn endpoint_slice(o: &mut Obj) {
    for port in each(o, "ports") {
        or_insert(port, "name", json!(""));
        or_insert(port, "protocol", json!("TCP"));
    }
}

/// SetDefaults_NetworkPolicyPort (TCP) and SetDefaults_NetworkPolicy: no
/// `policyTypes` means Ingress, and Egress too when egress rules are given.
pub(super) fn network_policy(o: &mut Obj) {
    // Both are Go structs, not pointers: always encoded.
    let Some(spec) = child(o, "spec") else {
        return;
    };
    ensure(spec, "podSelector");
    for direction in ["ingress", "egress"] {
        for rule in each(spec, direction) {
            each(rule, "ports").for_each(|p| or_insert(p, "protocol", json!("TCP")));
        }
    }
    let has = |key: &str, spec: &Obj| {
        spec.get(key)
            .and_then(|v| v.as_array())
            .is_some_and(|a| !a.is_empty())
    };
    if !has("policyTypes", spec) {
        let mut types = vec![json!("Ingress")];
        if has("egress", spec) {
            types.push(json!("Egress"));
        }
        spec.insert("policyTypes".into(), json!(types));
    }
}
