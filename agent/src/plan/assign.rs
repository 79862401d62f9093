//! Wave assignment: checks the wave and component names, then moves objects
//! annotated `wavesync.io/wave: <wave>` to that wave.
//!
//! A moved object joins the component **named after its target wave**,
//! created at the end of that wave's components when the wave has none of
//! that name (a wave declared with a single `path` has exactly that
//! component). Keeping the object's own component name was rejected: names
//! rarely match across waves, and one rule is easier to predict. An object
//! annotated with the wave it is already in stays in its component.

use super::labels::{valid_label_value, wave_annotation};
use super::{PlanError, WaveInput};
use std::collections::{HashMap, HashSet};

/// Checks names: the WaveSet's, and per wave its own and its components'
/// (unique, and usable as label values).
///
/// # Errors
/// [`PlanError::DuplicateWave`], [`PlanError::DuplicateComponent`], [`PlanError::InvalidName`].
pub(crate) fn check_names(waveset: &str, input: &[WaveInput]) -> Result<(), PlanError> {
    let name_ok = |what, name: &str| match !name.is_empty() && valid_label_value(name) {
        true => Ok(()),
        false => Err(PlanError::InvalidName {
            what,
            name: name.to_owned(),
        }),
    };
    name_ok("WaveSet", waveset)?;
    let mut waves = HashSet::new();
    for wave in input {
        name_ok("wave", &wave.name)?;
        if !waves.insert(wave.name.as_str()) {
            return Err(PlanError::DuplicateWave {
                wave: wave.name.clone(),
            });
        }
        let mut components = HashSet::new();
        for (component, _) in &wave.components {
            name_ok("component", component)?;
            if !components.insert(component.as_str()) {
                let component = component.clone();
                return Err(PlanError::DuplicateComponent {
                    wave: wave.name.clone(),
                    component,
                });
            }
        }
    }
    Ok(())
}

/// Moves annotated objects to their wave; the shape of the input (waves and
/// components, in order) is kept, with components added where needed.
///
/// # Errors
/// [`PlanError::UnknownWave`] naming the object and its file;
/// [`PlanError::InvalidField`] for an annotation that is not a string.
pub(crate) fn by_annotation(input: Vec<WaveInput>) -> Result<Vec<WaveInput>, PlanError> {
    let index: HashMap<String, usize> = input
        .iter()
        .enumerate()
        .map(|(i, w)| (w.name.clone(), i))
        .collect();
    let known = input
        .iter()
        .map(|w| w.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut out: Vec<WaveInput> = input
        .iter()
        .map(|w| WaveInput {
            name: w.name.clone(),
            components: w
                .components
                .iter()
                .map(|(c, _)| (c.clone(), Vec::new()))
                .collect(),
        })
        .collect();
    for (w, wave) in input.into_iter().enumerate() {
        for (c, (_, objects)) in wave.components.into_iter().enumerate() {
            for object in objects {
                let target = match wave_annotation(&object)? {
                    None => w,
                    Some(name) => *index.get(name).ok_or_else(|| PlanError::UnknownWave {
                        object: object.reference().to_string(),
                        origin: Box::new(object.origin.clone()),
                        wave: name.to_owned(),
                        known: known.clone(),
                    })?,
                };
                if target == w {
                    out[w].components[c].1.push(object);
                } else {
                    component_named_after(&mut out[target]).push(object);
                }
            }
        }
    }
    Ok(out)
}

/// The wave's component named after the wave, created if missing.
fn component_named_after(wave: &mut WaveInput) -> &mut Vec<crate::model::Object> {
    let i = match wave.components.iter().position(|(c, _)| *c == wave.name) {
        Some(i) => i,
        None => {
            wave.components.push((wave.name.clone(), Vec::new()));
            wave.components.len() - 1
        }
    };
    &mut wave.components[i].1
}
