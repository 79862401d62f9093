//! The kinds charts ship around their workloads are served, discovered and
//! defaulted as kube-apiserver v1.32 does: admission webhooks and policies,
//! APIServices, HorizontalPodAutoscalers (autoscaling/v2), EndpointSlices and
//! NetworkPolicies; and a workload's pod template keeps `serviceAccount` in
//! step with `serviceAccountName`.

mod common;

use common::{resource, setup};
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::Discovery;
use serde_json::{Value, json};

/// Server-side applies `obj` (cluster-scoped when `ns` is None) and returns
/// what the server stored.
async fn apply(client: &Client, plural: &str, ns: Option<&str>, obj: Value) -> Value {
    let api_version = obj["apiVersion"].as_str().expect("apiVersion").to_owned();
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let kind = obj["kind"].as_str().expect("kind");
    let ar = resource(group, version, kind, plural);
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let name = obj["metadata"]["name"].as_str().expect("name").to_owned();
    let applied = api
        .patch(
            &name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&obj),
        )
        .await
        .unwrap_or_else(|e| panic!("apply {kind}/{name}: {e}"));
    serde_json::to_value(applied).expect("json")
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_lists_the_chart_kinds_with_their_scope_and_short_names() {
    let (_sim, client) = setup("disc").await;
    let discovery = Discovery::new(client).run().await.expect("discovery");
    let find = |group: &str, kind: &str| {
        discovery
            .groups()
            .find(|g| g.name() == group)
            .and_then(|g| {
                g.recommended_resources()
                    .into_iter()
                    .find(|(r, _)| r.kind == kind)
            })
            .unwrap_or_else(|| panic!("{group}/{kind} not discovered"))
    };
    for (group, kind, version, plural, namespaced) in [
        (
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration",
            "v1",
            "validatingwebhookconfigurations",
            false,
        ),
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration",
            "v1",
            "mutatingwebhookconfigurations",
            false,
        ),
        (
            "admissionregistration.k8s.io",
            "ValidatingAdmissionPolicy",
            "v1",
            "validatingadmissionpolicies",
            false,
        ),
        (
            "admissionregistration.k8s.io",
            "ValidatingAdmissionPolicyBinding",
            "v1",
            "validatingadmissionpolicybindings",
            false,
        ),
        (
            "apiregistration.k8s.io",
            "APIService",
            "v1",
            "apiservices",
            false,
        ),
        (
            "autoscaling",
            "HorizontalPodAutoscaler",
            "v2",
            "horizontalpodautoscalers",
            true,
        ),
        (
            "discovery.k8s.io",
            "EndpointSlice",
            "v1",
            "endpointslices",
            true,
        ),
        (
            "networking.k8s.io",
            "NetworkPolicy",
            "v1",
            "networkpolicies",
            true,
        ),
    ] {
        let (r, caps) = find(group, kind);
        assert_eq!(r.version, version, "{kind}");
        assert_eq!(r.plural, plural, "{kind}");
        assert_eq!(
            caps.scope == kube::discovery::Scope::Namespaced,
            namespaced,
            "{kind}"
        );
    }
    let (_, hpa) = find("autoscaling", "HorizontalPodAutoscaler");
    assert!(
        hpa.subresources
            .iter()
            .any(|(s, _)| s.plural == "horizontalpodautoscalers/status" || s.plural == "status"),
        "HPA has a status subresource"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_configurations_and_policies_get_the_v1_defaults() {
    let (_sim, client) = setup("adm").await;
    let vwc = apply(
        &client,
        "validatingwebhookconfigurations",
        None,
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
          "metadata": {"name": "cert-manager-webhook"},
          "webhooks": [{"name": "webhook.cert-manager.io", "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "clientConfig": {"service": {"name": "cert-manager-webhook", "namespace": "adm", "path": "/validate"}},
            "rules": [{"apiGroups": ["cert-manager.io"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["*/*"]}]}]}),
    )
    .await;
    let hook = &vwc["webhooks"][0];
    assert_eq!(hook["failurePolicy"], "Fail");
    assert_eq!(hook["matchPolicy"], "Equivalent");
    assert_eq!(hook["namespaceSelector"], json!({}));
    assert_eq!(hook["objectSelector"], json!({}));
    assert_eq!(hook["timeoutSeconds"], 10);
    assert_eq!(hook["clientConfig"]["service"]["port"], 443);
    assert_eq!(hook["rules"][0]["scope"], "*");
    assert!(
        hook.get("reinvocationPolicy").is_none(),
        "only mutating webhooks have one"
    );
    assert_eq!(vwc["metadata"]["generation"], 1);

    let mwc = apply(
        &client,
        "mutatingwebhookconfigurations",
        None,
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
          "metadata": {"name": "inject"},
          "webhooks": [{"name": "inject.example.com", "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": "Ignore", "timeoutSeconds": 5,
            "clientConfig": {"url": "https://inject.example.com/mutate"}}]}),
    )
    .await;
    let hook = &mwc["webhooks"][0];
    assert_eq!(hook["failurePolicy"], "Ignore", "a given value stays");
    assert_eq!(hook["timeoutSeconds"], 5);
    assert_eq!(hook["reinvocationPolicy"], "Never");

    let vap = apply(
        &client,
        "validatingadmissionpolicies",
        None,
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
          "metadata": {"name": "replicas"},
          "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
              "operations": ["CREATE"], "resources": ["deployments"]}]},
            "validations": [{"expression": "object.spec.replicas <= 5"}]}}),
    )
    .await;
    assert_eq!(vap["spec"]["failurePolicy"], "Fail");
    let m = &vap["spec"]["matchConstraints"];
    assert_eq!(m["matchPolicy"], "Equivalent");
    assert_eq!(m["namespaceSelector"], json!({}));
    assert_eq!(m["resourceRules"][0]["scope"], "*");

    let binding = apply(
        &client,
        "validatingadmissionpolicybindings",
        None,
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
          "metadata": {"name": "replicas"},
          "spec": {"policyName": "replicas", "validationActions": ["Deny"],
            "paramRef": {"name": "limits", "namespace": "adm"},
            "matchResources": {}}}),
    )
    .await;
    assert_eq!(
        binding["spec"]["paramRef"]["parameterNotFoundAction"],
        "Deny"
    );
    assert_eq!(
        binding["spec"]["matchResources"]["matchPolicy"],
        "Equivalent"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hpa_endpointslice_networkpolicy_and_apiservice_are_defaulted() {
    let (_sim, client) = setup("net").await;
    let hpa = apply(
        &client,
        "horizontalpodautoscalers",
        Some("net"),
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
          "metadata": {"name": "api", "namespace": "net"},
          "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
            "maxReplicas": 5, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}),
    )
    .await;
    let spec = &hpa["spec"];
    assert_eq!(spec["minReplicas"], 1);
    assert_eq!(spec["metrics"][0]["resource"]["name"], "cpu");
    assert_eq!(
        spec["metrics"][0]["resource"]["target"]["averageUtilization"],
        80
    );
    assert_eq!(
        spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"], 60,
        "a given value stays"
    );
    assert_eq!(spec["behavior"]["scaleDown"]["selectPolicy"], "Max");
    assert_eq!(
        spec["behavior"]["scaleUp"]["policies"][0],
        json!({"type": "Pods", "value": 4, "periodSeconds": 15})
    );
    assert_eq!(spec["behavior"]["scaleUp"]["stabilizationWindowSeconds"], 0);

    let slice = apply(
        &client,
        "endpointslices",
        Some("net"),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
          "metadata": {"name": "api-1", "namespace": "net"}, "addressType": "IPv4",
          "endpoints": [{"addresses": ["10.0.0.7"]}], "ports": [{"port": 8080}]}),
    )
    .await;
    assert_eq!(
        slice["ports"][0],
        json!({"name": "", "port": 8080, "protocol": "TCP"})
    );
    assert_eq!(slice["metadata"]["generation"], 1);

    let np = apply(
        &client,
        "networkpolicies",
        Some("net"),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
          "metadata": {"name": "api", "namespace": "net"},
          "spec": {"ingress": [{"ports": [{"port": 8080}]}],
            "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}}),
    )
    .await;
    assert_eq!(np["spec"]["ingress"][0]["ports"][0]["protocol"], "TCP");
    assert_eq!(np["spec"]["egress"][0]["ports"][0]["protocol"], "UDP");
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(
        np["spec"]["podSelector"],
        json!({}),
        "podSelector is always encoded"
    );

    let only_ingress = apply(
        &client,
        "networkpolicies",
        Some("net"),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
          "metadata": {"name": "deny-all", "namespace": "net"}, "spec": {"podSelector": {}}}),
    )
    .await;
    assert_eq!(only_ingress["spec"]["policyTypes"], json!(["Ingress"]));

    let svc = apply(
        &client,
        "apiservices",
        None,
        json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
          "metadata": {"name": "v1beta1.metrics.k8s.io"},
          "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
            "versionPriority": 100, "service": {"name": "metrics-server", "namespace": "net"}}}),
    )
    .await;
    assert_eq!(svc["spec"]["group"], "metrics.k8s.io");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_template_keeps_service_account_in_step_with_service_account_name() {
    let (_sim, client) = setup("sa").await;
    let deploy = |name: &str, spec: Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": {"name": name, "namespace": "sa"},
          "spec": {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
              "spec": spec}}})
    };
    let container = json!([{"name": "app", "image": "nginx:1.27"}]);
    let named = apply(
        &client,
        "deployments",
        Some("sa"),
        deploy(
            "named",
            json!({"serviceAccountName": "api", "containers": container}),
        ),
    )
    .await;
    let pod = &named["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "api");
    assert_eq!(pod["serviceAccount"], "api");
    let deprecated = apply(
        &client,
        "deployments",
        Some("sa"),
        deploy(
            "deprecated",
            json!({"serviceAccount": "old", "containers": container}),
        ),
    )
    .await;
    let pod = &deprecated["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "old");
    assert_eq!(pod["serviceAccount"], "old");
    let none = apply(
        &client,
        "deployments",
        Some("sa"),
        deploy("none", json!({"containers": container})),
    )
    .await;
    let pod = &none["spec"]["template"]["spec"];
    assert!(pod.get("serviceAccount").is_none() && pod.get("serviceAccountName").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_with_labels_of_its_own_keeps_just_those() {
    let (_sim, client) = setup("jobs").await;
    let job = |name: &str, labels: Option<Value>| {
        let mut j = json!({"apiVersion": "batch/v1", "kind": "Job",
          "metadata": {"name": name, "namespace": "jobs"},
          "spec": {"template": {"metadata": {"labels": {"app": "migrate"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "busybox:1.36"}]}}}});
        if let Some(labels) = labels {
            j["metadata"]["labels"] = labels;
        }
        j
    };
    // The same labels as the template's, given by the chart: not a copy.
    let own = apply(
        &client,
        "jobs",
        Some("jobs"),
        job("own", Some(json!({"app": "migrate"}))),
    )
    .await;
    assert_eq!(own["metadata"]["labels"], json!({"app": "migrate"}));
    let template = &own["spec"]["template"]["metadata"]["labels"];
    assert_eq!(
        template["job-name"], "own",
        "the template is labelled: {template}"
    );
    assert_eq!(template["batch.kubernetes.io/job-name"], "own");
    let selector = &own["spec"]["selector"]["matchLabels"];
    assert!(
        selector["batch.kubernetes.io/controller-uid"].is_string(),
        "{selector}"
    );

    // No labels: the template's, generated ones included.
    let copied = apply(&client, "jobs", Some("jobs"), job("copied", None)).await;
    let labels = &copied["metadata"]["labels"];
    assert_eq!(labels["app"], "migrate");
    assert_eq!(labels["job-name"], "copied");
    assert_eq!(
        labels["controller-uid"], copied["metadata"]["uid"],
        "{labels}"
    );
}
