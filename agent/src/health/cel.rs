//! Custom health rules from `wavesync.yaml`: CEL expressions per kind.
//!
//! Rules are compiled once when the repo format is loaded (a bad expression
//! is a configuration error, reported before anything is applied) and
//! evaluated by [`super::assess`] with `self` bound to the live object, as in
//! Flux's `healthCheckExprs` and Kubernetes CRD validation rules.
//!
//! A field the expression reads but the object does not have yet (no status
//! written) makes the rule Progressing, never Failed: Kubernetes omits null
//! and empty fields, so "missing" means "not yet".

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use cel::objects::Key;
use cel::{Context, Env, ExecutionError, Program, Value as CelValue};
use serde_json::Value;

use super::{Health, HealthError, RuleField};

/// A custom rule from wavesync.yaml, compiled once.
pub struct CompiledRule {
    /// `group/version` to match, `group/*` for any version, or `None` for any.
    api_version: Option<String>,
    /// The kind to match, exactly.
    kind: String,
    /// True means Ready.
    ready: Expr,
    /// True means Failed; evaluated before `ready`.
    failed: Option<Expr>,
}

/// One compiled expression and its source, for messages.
struct Expr {
    source: String,
    program: Program,
}

/// What an expression said about one object.
enum Verdict {
    /// It evaluated to `true`.
    Yes,
    /// It evaluated to `false`.
    No,
    /// It read a field the object does not have (yet).
    Missing(String),
}

impl fmt::Debug for CompiledRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledRule")
            .field("api_version", &self.api_version)
            .field("kind", &self.kind)
            .field("ready", &self.ready.source)
            .field("failed", &self.failed.as_ref().map(|e| &e.source))
            .finish()
    }
}

impl CompiledRule {
    /// Compiles the rule for objects of `kind` (and `api_version`, if given:
    /// `group/version`, or `group/*` for any version of the group).
    ///
    /// # Errors
    ///
    /// [`HealthError::EmptyKind`] if `kind` is empty;
    /// [`HealthError::Compile`] if an expression does not parse;
    /// [`HealthError::Undeclared`] if it names a variable or function that
    /// does not exist (only `self` is bound). All are configuration errors.
    pub fn compile(
        api_version: Option<&str>,
        kind: &str,
        ready: &str,
        failed: Option<&str>,
    ) -> Result<CompiledRule, HealthError> {
        if kind.trim().is_empty() {
            return Err(HealthError::EmptyKind);
        }
        let api_version = api_version.map(str::trim).filter(|v| !v.is_empty());
        let target = match api_version {
            Some(v) => format!("{v} {kind}"),
            None => kind.to_owned(),
        };
        Ok(CompiledRule {
            ready: Expr::compile(&target, RuleField::Ready, ready)?,
            failed: failed
                .map(|f| Expr::compile(&target, RuleField::Failed, f))
                .transpose()?,
            api_version: api_version.map(str::to_owned),
            kind: kind.to_owned(),
        })
    }

    /// Whether this rule is the one for objects of this `apiVersion` and `kind`.
    pub fn applies_to(&self, api_version: &str, kind: &str) -> bool {
        if self.kind != kind {
            return false;
        }
        match self.api_version.as_deref() {
            None => true,
            Some(want) => match want.strip_suffix("/*") {
                Some(group) => api_version
                    .rsplit_once('/')
                    .is_some_and(|(g, _)| g == group),
                None => want == api_version,
            },
        }
    }

    /// Readiness of `obj` by this rule: `failed` first, then `ready`.
    pub(crate) fn assess(&self, obj: &Value) -> Health {
        let this = to_cel(obj);
        if let Some(failed) = &self.failed {
            match failed.eval(&this) {
                Ok(Verdict::Yes) => {
                    return Health::Failed(format!("rule {} matched", failed.source));
                }
                Ok(Verdict::No | Verdict::Missing(_)) => {}
                Err(why) => return Health::Failed(why),
            }
        }
        match self.ready.eval(&this) {
            Ok(Verdict::Yes) => Health::Ready,
            Ok(Verdict::No) => Health::Progressing(format!("waiting for {} ready rule", self.kind)),
            Ok(Verdict::Missing(what)) => {
                Health::Progressing(format!("waiting for {} ready rule ({what})", self.kind))
            }
            Err(why) => Health::Failed(why),
        }
    }
}

impl Expr {
    /// Parses `source` and checks it against an empty object, which catches
    /// misspelt variables and functions (`slef.status`, `exist(…)`) before
    /// anything is applied.
    fn compile(target: &str, field: RuleField, source: &str) -> Result<Expr, HealthError> {
        let program = Program::compile(source).map_err(|e| HealthError::Compile {
            target: target.to_owned(),
            field,
            expr: source.to_owned(),
            source: e,
        })?;
        let expr = Expr {
            source: source.to_owned(),
            program,
        };
        let empty = CelValue::from(HashMap::<String, CelValue>::new());
        match expr.run(&empty) {
            Err(ExecutionError::UndeclaredReference(name)) => Err(HealthError::Undeclared {
                target: target.to_owned(),
                field,
                expr: source.to_owned(),
                name: name.to_string(),
            }),
            _ => Ok(expr),
        }
    }

    /// Executes the program with `self` bound to `this`.
    fn run(&self, this: &CelValue) -> Result<CelValue, ExecutionError> {
        let mut context = Context::with_env(Arc::clone(env()));
        // Infallible: binding an already converted value.
        let Ok(()) = context.add_variable("self", this.clone());
        self.program.execute(&context)
    }

    /// Evaluates to a verdict, or to the reason this rule cannot judge the
    /// object (a type error or a non-boolean result: the rule is wrong, and
    /// saying so at once beats waiting for the wave timeout).
    fn eval(&self, this: &CelValue) -> Result<Verdict, String> {
        match self.run(this) {
            Ok(CelValue::Bool(true)) => Ok(Verdict::Yes),
            Ok(CelValue::Bool(false)) => Ok(Verdict::No),
            Ok(other) => Err(format!(
                "rule {} gave {}, not a boolean",
                self.source,
                type_name(&other)
            )),
            // A key the rule spells out is named; one computed from the
            // object (`self.data[self.x]`) may be a value, and is not.
            Err(ExecutionError::NoSuchKey(key)) if self.source.contains(key.as_str()) => {
                Ok(Verdict::Missing(format!("no field {key} yet")))
            }
            Err(ExecutionError::NoSuchKey(_)) => Ok(Verdict::Missing(
                "a field the rule reads is missing".to_owned(),
            )),
            Err(ExecutionError::IndexOutOfBounds(_)) => Ok(Verdict::Missing(
                "list shorter than the rule expects".to_owned(),
            )),
            Err(e) => Err(format!(
                "rule {} cannot be evaluated: {}",
                self.source,
                describe(&e)
            )),
        }
    }
}

/// What went wrong, with the types of the values involved but never the
/// values: the CEL crate's own messages print them (`String("…") can not be
/// compared to Int(5)`), and a rule's message reaches the record, `status`,
/// Events and notifications — with a Secret's `data` in it, for a rule on
/// Secrets.
fn describe(e: &ExecutionError) -> String {
    match e {
        ExecutionError::ValuesNotComparable(a, b) => {
            format!("{} cannot be compared to {}", type_name(a), type_name(b))
        }
        ExecutionError::UnsupportedBinaryOperator(op, a, b) => format!(
            "operator '{op}' does not apply to {} and {}",
            type_name(a),
            type_name(b)
        ),
        ExecutionError::UnsupportedIndex(index, target) => {
            format!("{} cannot index {}", type_name(index), type_name(target))
        }
        ExecutionError::UnsupportedTargetType { target } => {
            format!("invalid argument type: {}", type_name(target))
        }
        ExecutionError::NotSupportedAsMethod { method, target } => {
            format!(
                "method '{method}' is not supported on {}",
                type_name(target)
            )
        }
        ExecutionError::UnsupportedKeyType(k) => format!("{} cannot be a map key", type_name(k)),
        // The function's message quotes its arguments (`int('…')`).
        ExecutionError::FunctionError { function, .. } => {
            format!("function '{function}' failed on the object's values")
        }
        ExecutionError::DivisionByZero(_) | ExecutionError::RemainderByZero(_) => {
            "division by zero".to_owned()
        }
        ExecutionError::Overflow(op, _, _) => format!("overflow in operator '{op}'"),
        ExecutionError::DuplicateKey(_) => "a map literal repeats a key".to_owned(),
        // These name types, counts and identifiers only.
        ExecutionError::InvalidArgumentCount { .. }
        | ExecutionError::UnexpectedType { .. }
        | ExecutionError::NoSuchOverload(_)
        | ExecutionError::UndeclaredReference(_)
        | ExecutionError::MissingArgumentOrTarget => e.to_string(),
        // Anything else (deprecated or future variants) by its name alone.
        other => {
            let debug = format!("{other:?}");
            let name = debug
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or_default();
            format!("CEL error {name}")
        }
    }
}

/// The CEL type name of a value, for messages.
fn type_name(v: &CelValue) -> &'static str {
    match v {
        CelValue::List(_) => "a list",
        CelValue::Map(_) => "a map",
        CelValue::Int(_) | CelValue::UInt(_) => "an integer",
        CelValue::Float(_) => "a double",
        CelValue::String(_) => "a string",
        CelValue::Bytes(_) => "bytes",
        CelValue::Null => "null",
        CelValue::Bool(_) => "a boolean",
        _ => "a non-boolean value",
    }
}

/// The standard CEL environment, built once (building it registers every
/// standard function, which is not free).
fn env() -> &'static Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| Arc::new(Env::stdlib()))
}

/// Converts JSON to a CEL value. Null map entries are dropped, so that a
/// null field reads as missing (Progressing) rather than as a type error;
/// integers become CEL `int` so that they compare with literals such as `3`.
fn to_cel(v: &Value) -> CelValue {
    match v {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => CelValue::Int(i),
            (None, Some(u)) => CelValue::UInt(u),
            (None, None) => CelValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => CelValue::String(Arc::new(s.clone())),
        Value::Array(items) => CelValue::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(map) => {
            let entries: HashMap<Key, CelValue> = map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v)))
                .collect();
            CelValue::from(entries)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Categorized, Category};

    const CNPG_READY: &str =
        "self.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')";

    #[test]
    fn rules_are_shareable_across_tasks() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<CompiledRule>();
    }

    #[test]
    fn a_syntax_error_is_a_config_error_naming_the_rule() {
        let Err(e) = CompiledRule::compile(
            Some("postgresql.cnpg.io/v1"),
            "Cluster",
            "self.status.",
            None,
        ) else {
            panic!("a syntax error must not compile");
        };
        assert!(
            matches!(
                e,
                HealthError::Compile {
                    field: RuleField::Ready,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.category(), Category::Config);
        assert!(
            e.to_string().contains("postgresql.cnpg.io/v1 Cluster"),
            "{e}"
        );
    }

    #[test]
    fn a_bad_failed_expression_is_reported_as_such() {
        let e = CompiledRule::compile(None, "Cluster", "true", Some("self.status.phase ==")).err();
        assert!(
            matches!(
                e,
                Some(HealthError::Compile {
                    field: RuleField::Failed,
                    ..
                })
            ),
            "{e:?}"
        );
    }

    #[test]
    fn a_misspelt_variable_is_caught_at_compile_time() {
        let e = CompiledRule::compile(None, "Cluster", "slef.status.ready", None).err();
        assert!(
            matches!(&e, Some(HealthError::Undeclared { name, .. }) if name == "slef"),
            "{e:?}"
        );
    }

    #[test]
    fn an_empty_kind_is_rejected() {
        let e = CompiledRule::compile(None, " ", CNPG_READY, None).err();
        assert!(matches!(e, Some(HealthError::EmptyKind)), "{e:?}");
    }

    #[test]
    fn applies_to_matches_kind_and_api_version() -> Result<(), HealthError> {
        let exact =
            CompiledRule::compile(Some("postgresql.cnpg.io/v1"), "Cluster", CNPG_READY, None)?;
        assert!(exact.applies_to("postgresql.cnpg.io/v1", "Cluster"));
        assert!(!exact.applies_to("postgresql.cnpg.io/v2", "Cluster"));
        assert!(!exact.applies_to("postgresql.cnpg.io/v1", "Backup"));
        assert!(!exact.applies_to("cluster.x-k8s.io/v1beta1", "Cluster"));

        let any_version =
            CompiledRule::compile(Some("postgresql.cnpg.io/*"), "Cluster", CNPG_READY, None)?;
        assert!(any_version.applies_to("postgresql.cnpg.io/v2", "Cluster"));
        assert!(!any_version.applies_to("v1", "Cluster"));

        let any_group = CompiledRule::compile(None, "Cluster", CNPG_READY, None)?;
        assert!(any_group.applies_to("cluster.x-k8s.io/v1beta1", "Cluster"));
        assert!(!any_group.applies_to("cluster.x-k8s.io/v1beta1", "cluster"));
        Ok(())
    }

    #[test]
    fn integers_compare_with_literals_and_nulls_read_as_missing() -> Result<(), HealthError> {
        let rule = CompiledRule::compile(None, "VMSingle", "self.status.replicas == 3", None)?;
        let three = serde_json::json!({"kind": "VMSingle", "status": {"replicas": 3}});
        assert_eq!(rule.assess(&three), Health::Ready);
        let null = serde_json::json!({"kind": "VMSingle", "status": null});
        assert!(
            matches!(rule.assess(&null), Health::Progressing(m) if m.contains("no field status"))
        );
        Ok(())
    }

    #[test]
    fn an_evaluation_error_names_types_but_never_the_values_of_the_object()
    -> Result<(), HealthError> {
        // Found by the fault suite's secrets area: the CEL crate's messages
        // quote values, so a wrong rule on Secrets put `data` into the wave's
        // message (record, status, Events, notifications).
        let planted = "cGw0aW5EYXRhLUxlYWtIdW50"; // base64 of a planted value
        let obj = serde_json::json!({"kind": "Secret", "data": {"password": planted}});
        for (rule, expected) in [
            (
                "self.data.password - 1 > 0",
                "operator 'sub' does not apply to a string and an integer",
            ),
            (
                "{self.data.password: 1, self.data.password: 2}.size() == 1",
                "a map literal repeats a key",
            ),
            (
                "self.data[self.data.password] == 1",
                "a field the rule reads is missing",
            ),
            ("int(self.data.password) > 0", "function 'int' failed"),
            ("self.data.password.size() / 0 > 1", "division by zero"),
        ] {
            let r = CompiledRule::compile(None, "Secret", rule, None)?;
            let why = match r.assess(&obj) {
                Health::Failed(why) | Health::Progressing(why) => why,
                Health::Ready => panic!("{rule}: not ready"),
            };
            assert!(!why.contains(planted), "{rule}: the value is in {why:?}");
            assert!(
                why.contains(expected),
                "{rule}: {why:?} does not say {expected:?}"
            );
        }
        // A missing field the rule names is still named.
        let r = CompiledRule::compile(None, "Secret", "self.data.token == 'x'", None)?;
        assert_eq!(
            r.assess(&obj),
            Health::Progressing("waiting for Secret ready rule (no field token yet)".to_owned())
        );
        Ok(())
    }

    #[test]
    fn a_non_boolean_result_fails_with_a_reason() -> Result<(), HealthError> {
        let rule = CompiledRule::compile(None, "VMSingle", "self.status.updateStatus", None)?;
        let obj =
            serde_json::json!({"kind": "VMSingle", "status": {"updateStatus": "operational"}});
        assert_eq!(
            rule.assess(&obj),
            Health::Failed("rule self.status.updateStatus gave a string, not a boolean".to_owned())
        );
        Ok(())
    }
}
