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
                print!(
                    "{}",
                    serde_saphyr::to_string(&crate::secrets::masked(&o.json))?
                );
            }
        }
    }
    Ok(())
}
