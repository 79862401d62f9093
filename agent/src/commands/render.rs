//! `wavesync render`: the rendered objects per wave, as YAML, without a cluster.

use crate::cli::RenderArgs;
use crate::plan::{self, Builtin};
use crate::reconcile::prepare::render_all;

/// Prints every wave's objects in apply order, with its digest.
pub fn run(args: RenderArgs) -> anyhow::Result<()> {
    let ws = crate::config::load(&args.dir, args.cluster_name.as_deref())?;
    let helm = crate::render::Helm::new(args.helm.settings());
    let inputs = render_all(&args.dir, &ws, &helm)?;
    let plan = plan::plan(&ws.name, ws.namespace.as_deref(), inputs, &Builtin)?;
    for wave in &plan.waves {
        println!(
            "# wave {} (digest {})",
            wave.name,
            &wave.digest[..16.min(wave.digest.len())]
        );
        for c in &wave.components {
            for o in &c.objects {
                println!("---\n# source: {} (component {})", o.origin, c.name);
                print!("{}", serde_saphyr::to_string(&masked(&o.json))?);
            }
        }
    }
    Ok(())
}

/// A Secret with its values replaced by their size: `render` output ends up
/// in terminals, CI logs and pull requests, and the values are not what a
/// reviewer checks (the digest still covers them).
fn masked(object: &serde_json::Value) -> std::borrow::Cow<'_, serde_json::Value> {
    use serde_json::Value;
    let is_secret = object["kind"] == "Secret" && object["apiVersion"] == "v1";
    if !is_secret {
        return std::borrow::Cow::Borrowed(object);
    }
    let mut o = object.clone();
    for field in ["data", "stringData"] {
        if let Some(map) = o.get_mut(field).and_then(Value::as_object_mut) {
            for v in map.values_mut() {
                let len = v.as_str().map_or(0, str::len);
                *v = Value::String(format!("<{len} characters, masked>"));
            }
        }
    }
    std::borrow::Cow::Owned(o)
}
