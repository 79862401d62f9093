//! Lists and watches through the real `kube` client: set-based label selectors, field
//! selectors on metadata.name / metadata.namespace, paging with limit + continue, raw watches
//! and `kube::runtime::watcher` seeing ADDED/MODIFIED/DELETED in order, watches from a
//! resourceVersion, the initial-events BOOKMARK of streaming lists, 410 Gone after compaction,
//! and discovery of the built-in types and of a newly established CRD.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{api_error, configmaps, crd_json, dynobj, install_crd, setup};
use futures::{Stream, StreamExt, TryStreamExt};
use kube::api::{
    DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use kube::discovery::{Discovery, Scope};
use kube::runtime::watcher;
use kube::{Api, Client};
use serde_json::json;

fn labelled(name: &str, labels: &[(&str, &str)]) -> DynamicObject {
    let labels: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    dynobj(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}}),
    )
}

async fn names(api: &Api<DynamicObject>, lp: &ListParams) -> Vec<String> {
    api.list(lp)
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect()
}

/// The next item of a stream, failing the test after 5 s.
async fn next<S: Stream + Unpin>(stream: &mut S) -> S::Item {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an event within 5 s")
        .expect("the stream continues")
}

/// "TYPE name" for a raw watch event.
fn describe(e: &WatchEvent<DynamicObject>) -> String {
    let name = |o: &DynamicObject| o.metadata.name.clone().unwrap_or_default();
    match e {
        WatchEvent::Added(o) => format!("ADDED {}", name(o)),
        WatchEvent::Modified(o) => format!("MODIFIED {}", name(o)),
        WatchEvent::Deleted(o) => format!("DELETED {}", name(o)),
        WatchEvent::Bookmark(_) => "BOOKMARK".into(),
        WatchEvent::Error(s) => format!("ERROR {}", s.code),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn set_based_label_selectors() {
    let (_sim, client) = setup("lw-labels").await;
    let api = configmaps(&client, "lw-labels");
    let pp = PostParams::default();
    for o in [
        labelled("prod-web", &[("env", "prod"), ("tier", "web")]),
        labelled("prod-db", &[("env", "prod"), ("tier", "db")]),
        labelled("staging-web", &[("env", "staging"), ("tier", "web")]),
        labelled("dev", &[("env", "dev")]),
        labelled("none", &[]),
    ] {
        api.create(&pp, &o).await.expect("create");
    }
    let q = |s: &str| ListParams::default().labels(s);
    assert_eq!(
        names(&api, &q("env in (prod,staging)")).await,
        ["prod-db", "prod-web", "staging-web"]
    );
    assert_eq!(
        names(&api, &q("env notin (prod,staging)")).await,
        ["dev", "none"]
    );
    assert_eq!(
        names(&api, &q("tier")).await,
        ["prod-db", "prod-web", "staging-web"]
    );
    assert_eq!(names(&api, &q("!tier")).await, ["dev", "none"]);
    assert_eq!(names(&api, &q("env=prod,tier!=db")).await, ["prod-web"]);
    assert_eq!(
        names(&api, &q("env in (prod),tier in (web,db),!missing")).await,
        ["prod-db", "prod-web"]
    );
    assert!(names(&api, &q("env=qa")).await.is_empty());

    let status = api_error(api.list(&q("env in prod")).await);
    assert_eq!(status.code, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn field_selectors_on_name_and_namespace() {
    let (_sim, client) = setup("lw-fields-a").await;
    common::create_namespace(&client, "lw-fields-b").await;
    let pp = PostParams::default();
    for ns in ["lw-fields-a", "lw-fields-b"] {
        for name in ["same", "other"] {
            configmaps(&client, ns)
                .create(&pp, &labelled(name, &[]))
                .await
                .expect("create");
        }
    }
    let all: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
    );
    let listed = |lp: ListParams| {
        let all = all.clone();
        async move {
            let mut v: Vec<String> = all
                .list(&lp)
                .await
                .expect("list")
                .items
                .into_iter()
                .map(|o| {
                    format!(
                        "{}/{}",
                        o.metadata.namespace.unwrap_or_default(),
                        o.metadata.name.unwrap_or_default()
                    )
                })
                .collect();
            v.sort();
            v
        }
    };
    assert_eq!(
        listed(ListParams::default().fields("metadata.name=same")).await,
        ["lw-fields-a/same", "lw-fields-b/same"]
    );
    assert_eq!(
        listed(ListParams::default().fields("metadata.namespace=lw-fields-b")).await,
        ["lw-fields-b/other", "lw-fields-b/same"]
    );
    assert_eq!(
        listed(ListParams::default().fields("metadata.namespace=lw-fields-a,metadata.name!=same"))
            .await,
        ["lw-fields-a/other"]
    );
    let ns_a = configmaps(&client, "lw-fields-a");
    assert_eq!(
        names(&ns_a, &ListParams::default().fields("metadata.name=other")).await,
        ["other"]
    );
    let status = api_error(ns_a.list(&ListParams::default().fields("data.x=1")).await);
    assert_eq!(status.code, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn limit_and_continue_page_through_everything_once() {
    let (_sim, client) = setup("lw-paging").await;
    let api = configmaps(&client, "lw-paging");
    let pp = PostParams::default();
    let total = 57;
    futures::stream::iter(0..total)
        .map(|i| {
            let api = api.clone();
            let pp = pp.clone();
            async move {
                api.create(
                    &pp,
                    &labelled(
                        &format!("cm-{i:03}"),
                        &[("n", if i % 2 == 0 { "even" } else { "odd" })],
                    ),
                )
                .await
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await
        .expect("creates");

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut lp = ListParams::default().limit(10);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await.expect("page");
        pages += 1;
        assert!(page.items.len() <= 10);
        if pages == 1 {
            assert_eq!(page.metadata.remaining_item_count, Some(total - 10));
        }
        seen.extend(page.items.into_iter().filter_map(|o| o.metadata.name));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(t) => token = Some(t),
            None => break,
        }
        assert!(pages < 100, "paging does not end");
    }
    assert_eq!(pages, 6);
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), total as usize);
    assert_eq!(
        unique.len(),
        total as usize,
        "every object is seen exactly once"
    );

    // Paging with a selector pages over the matching objects only.
    let mut odd = Vec::new();
    let mut lp = ListParams::default().labels("n=odd").limit(7);
    loop {
        let page = api.list(&lp).await.expect("page");
        odd.extend(page.items.into_iter().filter_map(|o| o.metadata.name));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(t) => {
                lp = ListParams::default()
                    .labels("n=odd")
                    .limit(7)
                    .continue_token(&t)
            }
            None => break,
        }
    }
    let expected: Vec<String> = (0..total)
        .filter(|i| i % 2 == 1)
        .map(|i| format!("cm-{i:03}"))
        .collect();
    assert_eq!(odd, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_watch_sees_changes_in_order_and_from_a_resource_version() {
    let (_sim, client) = setup("lw-watch").await;
    let api = configmaps(&client, "lw-watch");
    let pp = PostParams::default();
    api.create(&pp, &labelled("before", &[]))
        .await
        .expect("create");
    let rv0 = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");

    let mut stream = api
        .watch(&WatchParams::default(), &rv0)
        .await
        .expect("watch")
        .boxed();
    let created = api.create(&pp, &labelled("w", &[])).await.expect("create");
    let rv_created = created.metadata.resource_version.clone().expect("rv");
    api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await
    .expect("patch");
    api.delete("w", &Default::default()).await.expect("delete");

    let mut got = Vec::new();
    let mut last_rv = 0u64;
    for _ in 0..3 {
        let e = next(&mut stream).await.expect("event");
        if let WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) = &e {
            let rv: u64 = o
                .metadata
                .resource_version
                .as_deref()
                .unwrap_or_default()
                .parse()
                .expect("numeric rv");
            assert!(rv > last_rv, "resourceVersions increase");
            last_rv = rv;
        }
        got.push(describe(&e));
    }
    assert_eq!(
        got,
        ["ADDED w", "MODIFIED w", "DELETED w"],
        "the object created before rv0 is not replayed"
    );

    // A watch from the creation's resourceVersion replays only what came after it.
    let mut later = api
        .watch(&WatchParams::default(), &rv_created)
        .await
        .expect("watch")
        .boxed();
    let replay: Vec<String> = [next(&mut later).await, next(&mut later).await]
        .into_iter()
        .map(|e| describe(&e.expect("event")))
        .collect();
    assert_eq!(replay, ["MODIFIED w", "DELETED w"]);

    // A label-selected watch sees an object leave the selection as DELETED.
    let rv1 = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut selected = api
        .watch(&WatchParams::default().labels("team=a"), &rv1)
        .await
        .expect("watch")
        .boxed();
    api.create(&pp, &labelled("sel", &[("team", "a")]))
        .await
        .expect("create");
    api.patch(
        "sel",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"team": "b"}}})),
    )
    .await
    .expect("relabel");
    api.create(&pp, &labelled("sel-2", &[("team", "a")]))
        .await
        .expect("create");
    let seen: Vec<String> = [
        next(&mut selected).await,
        next(&mut selected).await,
        next(&mut selected).await,
    ]
    .into_iter()
    .map(|e| describe(&e.expect("event")))
    .collect();
    assert_eq!(seen, ["ADDED sel", "DELETED sel", "ADDED sel-2"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn runtime_watcher_lists_then_follows_changes() {
    let (_sim, client) = setup("lw-watcher").await;
    let api = configmaps(&client, "lw-watcher");
    let pp = PostParams::default();
    api.create(&pp, &labelled("existing", &[]))
        .await
        .expect("create");

    for config in [
        watcher::Config::default(),
        watcher::Config::default().streaming_lists(),
    ] {
        let mut stream = watcher(api.clone(), config).boxed();
        let mut init = Vec::new();
        loop {
            match next(&mut stream).await.expect("watcher event") {
                watcher::Event::Init => init.push("Init".to_string()),
                watcher::Event::InitApply(o) => {
                    init.push(format!("InitApply {}", o.metadata.name.unwrap_or_default()))
                }
                watcher::Event::InitDone => break,
                other => panic!("unexpected event before InitDone: {other:?}"),
            }
        }
        let existing: Vec<String> = api
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .into_iter()
            .map(|o| format!("InitApply {}", o.metadata.name.unwrap_or_default()))
            .collect();
        let mut expected = vec!["Init".to_string()];
        expected.extend(existing);
        assert_eq!(init, expected);

        let name = format!("new-{}", init.len());
        api.create(&pp, &labelled(&name, &[]))
            .await
            .expect("create");
        api.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "v"}})),
        )
        .await
        .expect("patch");
        api.delete(&name, &Default::default())
            .await
            .expect("delete");
        let mut events = Vec::new();
        while events.len() < 3 {
            match next(&mut stream).await.expect("watcher event") {
                watcher::Event::Apply(o) => events.push(format!(
                    "Apply {} {:?}",
                    o.metadata.name.unwrap_or_default(),
                    o.data.get("data")
                )),
                watcher::Event::Delete(o) => {
                    events.push(format!("Delete {}", o.metadata.name.unwrap_or_default()))
                }
                other => panic!("unexpected event {other:?}"),
            }
        }
        assert_eq!(
            events,
            [
                format!("Apply {name} None"),
                format!("Apply {name} Some(Object {{\"k\": String(\"v\")}})"),
                format!("Delete {name}")
            ]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn streaming_list_ends_initial_events_with_a_bookmark() {
    let (_sim, client) = setup("lw-bookmark").await;
    let api = configmaps(&client, "lw-bookmark");
    let pp = PostParams::default();
    for n in ["a", "b"] {
        api.create(&pp, &labelled(n, &[])).await.expect("create");
    }
    let mut stream = api
        .watch(&WatchParams::streaming_lists(), "0")
        .await
        .expect("watch")
        .boxed();
    let first: Vec<String> = [next(&mut stream).await, next(&mut stream).await]
        .into_iter()
        .map(|e| describe(&e.expect("event")))
        .collect();
    assert_eq!(first, ["ADDED a", "ADDED b"]);
    match next(&mut stream).await.expect("event") {
        WatchEvent::Bookmark(b) => {
            assert_eq!(
                b.metadata
                    .annotations
                    .get("k8s.io/initial-events-end")
                    .map(String::as_str),
                Some("true")
            );
            let list_rv: u64 = api
                .list(&ListParams::default())
                .await
                .expect("list")
                .metadata
                .resource_version
                .expect("rv")
                .parse()
                .expect("rv");
            let bm_rv: u64 = b.metadata.resource_version.parse().expect("bookmark rv");
            assert!(bm_rv <= list_rv && bm_rv > 0);
        }
        other => panic!(
            "expected the initial-events-end BOOKMARK, got {}",
            describe(&other)
        ),
    }
    api.create(&pp, &labelled("c", &[])).await.expect("create");
    assert_eq!(
        describe(&next(&mut stream).await.expect("event")),
        "ADDED c"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn compaction_makes_old_resource_versions_gone() {
    let (sim, client) = setup("lw-compact").await;
    let api = configmaps(&client, "lw-compact");
    let pp = PostParams::default();
    for i in 0..5 {
        api.create(&pp, &labelled(&format!("c{i}"), &[]))
            .await
            .expect("create");
    }
    let old = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let first_page = api
        .list(&ListParams::default().limit(2))
        .await
        .expect("page");
    let token = first_page.metadata.continue_.expect("continue token");
    api.create(&pp, &labelled("after", &[]))
        .await
        .expect("create");
    sim.compact();

    let mut stream = api
        .watch(&WatchParams::default(), &old)
        .await
        .expect("watch")
        .boxed();
    match next(&mut stream).await.expect("event") {
        WatchEvent::Error(status) => {
            assert_eq!(status.code, 410);
            assert_eq!(status.reason, "Expired");
            assert!(
                status.message.starts_with("too old resource version"),
                "{}",
                status.message
            );
        }
        other => panic!("expected a 410 ERROR event, got {}", describe(&other)),
    }

    let status = api_error(
        api.list(&ListParams::default().limit(2).continue_token(&token))
            .await,
    );
    assert_eq!(status.code, 410);
    assert_eq!(status.reason, "Expired");

    // A fresh list and a watch from its resourceVersion work again.
    let now = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut stream = api
        .watch(&WatchParams::default(), &now)
        .await
        .expect("watch")
        .boxed();
    api.create(&pp, &labelled("fresh", &[]))
        .await
        .expect("create");
    assert_eq!(
        describe(&next(&mut stream).await.expect("event")),
        "ADDED fresh"
    );
}

async fn discover(client: &Client) -> Discovery {
    Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery")
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_sees_builtin_types_and_new_crds() {
    let (_sim, client) = setup("lw-discovery").await;
    let discovery = discover(&client).await;
    let expect =
        |group: &str, version: &str, kind: &str, plural: &str, scope: Scope, status: bool| {
            let (ar, caps) = discovery
                .resolve_gvk(&GroupVersionKind::gvk(group, version, kind))
                .unwrap_or_else(|| panic!("discovery serves {group}/{version} {kind}"));
            assert_eq!(ar.plural, plural);
            assert_eq!(caps.scope, scope, "{kind} scope");
            let has_status = caps.subresources.iter().any(|(s, _)| s.plural == "status");
            assert_eq!(has_status, status, "{kind} status subresource");
        };
    expect(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        Scope::Namespaced,
        false,
    );
    expect("", "v1", "Namespace", "namespaces", Scope::Cluster, true);
    expect("", "v1", "Secret", "secrets", Scope::Namespaced, false);
    expect("", "v1", "Service", "services", Scope::Namespaced, true);
    expect(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        Scope::Namespaced,
        true,
    );
    expect(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        Scope::Namespaced,
        true,
    );
    expect(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        Scope::Namespaced,
        true,
    );
    expect(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        Scope::Namespaced,
        true,
    );
    expect("batch", "v1", "Job", "jobs", Scope::Namespaced, true);
    expect(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        Scope::Namespaced,
        true,
    );
    expect(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        Scope::Cluster,
        true,
    );
    expect(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        Scope::Namespaced,
        false,
    );
    expect(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        Scope::Cluster,
        false,
    );
    expect(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        Scope::Namespaced,
        true,
    );
    assert!(
        discovery
            .resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"))
            .is_none()
    );

    install_crd(
        &client,
        crd_json("example.com", "Widget", "widgets", "Namespaced", json!({})),
    )
    .await;
    let mut cluster_crd = crd_json("example.com", "Gadget", "gadgets", "Cluster", json!({}));
    cluster_crd["spec"]["versions"][0]
        .as_object_mut()
        .expect("version")
        .remove("subresources");
    install_crd(&client, cluster_crd).await;

    let discovery = discover(&client).await;
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"))
        .expect("Widget is discovered");
    assert_eq!(ar.plural, "widgets");
    assert_eq!(caps.scope, Scope::Namespaced);
    assert!(caps.subresources.iter().any(|(s, _)| s.plural == "status"));
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Gadget"))
        .expect("Gadget is discovered");
    assert_eq!(ar.plural, "gadgets");
    assert_eq!(caps.scope, Scope::Cluster);
    assert!(caps.subresources.is_empty());
    let group = discovery.get("example.com").expect("group example.com");
    assert_eq!(group.preferred_version_or_latest(), "v1");
}

#[tokio::test(flavor = "multi_thread")]
async fn finalized_deletion_is_seen_as_modified_then_deleted() {
    let (_sim, client) = setup("lw-finalize").await;
    let api = configmaps(&client, "lw-finalize");
    let rv = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut stream = api
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    let body = dynobj(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "f", "finalizers": ["example.com/hold"]}}),
    );
    let created = api
        .create(&PostParams::default(), &body)
        .await
        .expect("create");
    api.delete("f", &Default::default()).await.expect("delete");
    api.patch(
        "f",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release");

    let mut events = Vec::new();
    for _ in 0..3 {
        let e = next(&mut stream).await.expect("event");
        let marked = match &e {
            WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => {
                o.metadata.deletion_timestamp.is_some()
            }
            _ => false,
        };
        events.push(format!("{} marked={marked}", describe(&e)));
    }
    assert_eq!(
        events,
        [
            "ADDED f marked=false",
            "MODIFIED f marked=true",
            "DELETED f marked=true"
        ]
    );

    // kube::runtime's wait helper sees the deletion too.
    let uid = created.metadata.uid.expect("uid");
    let gone = kube::runtime::wait::await_condition(
        api.clone(),
        "f",
        kube::runtime::wait::conditions::is_deleted(&uid),
    );
    let last = tokio::time::timeout(Duration::from_secs(5), gone)
        .await
        .expect("in time")
        .expect("watch");
    assert!(last.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_only_get_list_and_watch_carry_managed_fields_and_no_data() {
    let (_sim, client) = setup("lw-meta").await;
    let api = configmaps(&client, "lw-meta");
    let mut cm = labelled("meta-a", &[("app", "x")]);
    cm.data = json!({"data": {"secretish": "value-not-in-metadata"}});
    api.patch(
        "meta-a",
        &PatchParams::apply("tester"),
        &Patch::Apply(serde_json::to_value(&cm).expect("json")),
    )
    .await
    .expect("apply");

    let one = api.get_metadata("meta-a").await.expect("get metadata");
    assert_eq!(
        one.types.as_ref().map(|t| t.kind.as_str()),
        Some("PartialObjectMetadata")
    );
    let managers: Vec<_> = one
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert_eq!(managers, ["tester"]);
    let raw = serde_json::to_string(&one).expect("json");
    assert!(!raw.contains("value-not-in-metadata"), "{raw}");

    let listed = api
        .list_metadata(&ListParams::default().labels("app=x"))
        .await
        .expect("list metadata");
    assert_eq!(listed.items.len(), 1);
    assert!(
        !serde_json::to_string(&listed)
            .expect("json")
            .contains("value-not-in-metadata")
    );

    let meta_api: Api<kube::api::PartialObjectMeta<k8s_openapi::api::core::v1::ConfigMap>> =
        Api::namespaced(client.clone(), "lw-meta");
    let mut stream = watcher::watcher(meta_api, watcher::Config::default().labels("app=x")).boxed();
    let mut seen = Vec::new();
    while !seen.iter().any(|s: &String| s == "InitDone") {
        match next(&mut stream).await.expect("watch event") {
            watcher::Event::InitApply(o) => {
                seen.push(format!("Init {}", o.metadata.name.unwrap_or_default()))
            }
            watcher::Event::InitDone => seen.push("InitDone".into()),
            other => seen.push(format!("{other:?}")),
        }
    }
    assert!(seen.contains(&"Init meta-a".to_string()), "{seen:?}");
    api.delete("meta-a", &Default::default())
        .await
        .expect("delete");
    match next(&mut stream).await.expect("watch event") {
        watcher::Event::Delete(o) => assert_eq!(o.metadata.name.as_deref(), Some("meta-a")),
        other => panic!("expected a delete, got {other:?}"),
    }
}
