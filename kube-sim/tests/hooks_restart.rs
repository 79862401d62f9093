//! What the crash tests of wavesync use: a [`Fault::Hook`] runs while a
//! request is in flight (and the request is still served), per-object
//! request counters tell dry runs from writes, and [`Sim::restart`] brings
//! the server back on the same port, with or without its objects.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{configmaps, create_namespace, dynobj, setup};
use futures::StreamExt;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube_sim::faults::{Call, Hook};
use kube_sim::{Fault, FaultRule, Storage};
use serde_json::json;

/// What a hook saw of a request: verb, namespace, dry run, and whether the
/// object still existed at that moment.
type Seen = (String, Option<String>, bool, bool);

fn cm(name: &str) -> kube::api::DynamicObject {
    dynobj(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_sees_the_request_before_it_is_served_and_the_request_is_still_served() {
    let (sim, client) = setup("hk").await;
    let api = configmaps(&client, "hk");
    api.create(&PostParams::default(), &cm("a"))
        .await
        .expect("create");
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let probe = configmaps(&client, "hk");
    let log = seen.clone();
    let handle = tokio::runtime::Handle::current();
    sim.faults().add(
        FaultRule::new(Fault::Hook(Hook::new(move |c: &Call<'_>| {
            let exists = tokio::task::block_in_place(|| {
                handle.block_on(async { probe.get_opt("a").await.ok().flatten().is_some() })
            });
            log.lock().expect("hook log").push((
                c.verb.to_string(),
                c.namespace.map(String::from),
                c.dry_run,
                exists,
            ));
        })))
        .verb("delete")
        .resource("configmaps")
        .name("a"),
    );
    api.delete(
        "a",
        &DeleteParams {
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .expect("dry-run delete");
    api.delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(
        *seen.lock().expect("hook log"),
        vec![
            ("delete".to_string(), Some("hk".to_string()), true, true),
            ("delete".to_string(), Some("hk".to_string()), false, true),
        ],
        "the hook ran before the delete was performed"
    );
    assert!(
        api.get_opt("a").await.expect("get").is_none(),
        "then the delete was served"
    );
    let objects = sim.counters().objects();
    let deletes: Vec<bool> = objects
        .iter()
        .filter(|(k, _)| k.verb == "delete" && k.name == "a")
        .map(|(k, n)| {
            assert_eq!(*n, 1);
            k.dry_run
        })
        .collect();
    assert_eq!(deletes, vec![false, true], "dry runs counted apart");
    assert_eq!(
        sim.counters()
            .object("delete", "configmaps", Some("hk"), "a"),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn per_object_counters_tell_apply_patches_from_dry_runs() {
    let (sim, client) = setup("pc").await;
    let api = configmaps(&client, "pc");
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    let mut dry = PatchParams::apply("m");
    dry.dry_run = true;
    api.patch("c", &dry, &Patch::Apply(body.clone()))
        .await
        .expect("dry run");
    assert_eq!(
        sim.counters()
            .object("patch", "configmaps", Some("pc"), "c"),
        0,
        "a dry run is not a write"
    );
    api.patch("c", &PatchParams::apply("m"), &Patch::Apply(body))
        .await
        .expect("apply");
    api.get("c").await.expect("get");
    assert_eq!(
        sim.counters()
            .object("patch", "configmaps", Some("pc"), "c"),
        1
    );
    assert_eq!(
        sim.counters().object("get", "configmaps", Some("pc"), "c"),
        1
    );
    assert_eq!(
        sim.counters()
            .object("patch", "configmaps", Some("pc"), "d"),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_keeps_the_port_ca_and_token_and_the_store_only_when_asked() {
    let (mut sim, client) = setup("rs").await;
    let api = configmaps(&client, "rs");
    api.create(&PostParams::default(), &cm("kept"))
        .await
        .expect("create");
    let mut watch = api
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    // The ADDED event of the existing object.
    assert!(matches!(watch.next().await, Some(Ok(WatchEvent::Added(_)))));
    let url = sim.url().to_string();

    sim.restart(Storage::Kept, Duration::from_millis(200))
        .await
        .expect("restart");
    assert_eq!(sim.url(), url);
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match watch.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "an open watch ends when the server stops");
    // The client made before the restart works again, objects and all.
    let got = api.get("kept").await.expect("the old client reconnects");
    assert_eq!(got.metadata.name.as_deref(), Some("kept"));

    sim.restart(Storage::Lost, Duration::from_millis(100))
        .await
        .expect("restart");
    assert!(
        api.get_opt("kept").await.expect("get").is_none(),
        "the store is gone"
    );
    let nss: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    assert!(nss.get_opt("rs").await.expect("get").is_none());
    assert!(
        nss.get_opt("default").await.expect("get").is_some(),
        "the default namespaces come back"
    );
    create_namespace(&client, "rs").await;
    api.create(&PostParams::default(), &cm("new"))
        .await
        .expect("a fresh server takes writes");
}
