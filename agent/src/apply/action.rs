//! What an apply did to an object — created, configured or unchanged — read
//! from the server's answer alone, so that counting it costs no request.
//!
//! A no-op server-side apply leaves both the resourceVersion and the time of
//! the manager's managedFields entry as they were; a create sets the
//! creationTimestamp. Both are second-precision, so `since` is compared
//! truncated to the second: an object changed within the same second as an
//! earlier apply counts as configured, never as unchanged.

use super::FIELD_MANAGER;
use crate::model::ApplyAction;
use serde_json::Value;

fn time_at(v: &Value) -> Option<i64> {
    v.as_str()?
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

/// The action `live` (the apply's response) shows, for an apply sent at `since`.
pub fn classify(live: &Value, since: jiff::Timestamp) -> ApplyAction {
    let since = since.as_second();
    if time_at(&live["metadata"]["creationTimestamp"]).is_some_and(|t| t >= since) {
        return ApplyAction::Created;
    }
    let ours = live["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| {
            m["manager"] == FIELD_MANAGER
                && m["operation"] == "Apply"
                && m.get("subresource").is_none()
        });
    match ours.and_then(|m| time_at(&m["time"])) {
        Some(t) if t < since => ApplyAction::Unchanged,
        _ => ApplyAction::Configured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(created: &str, applied: &str) -> Value {
        json!({"metadata": {"creationTimestamp": created, "managedFields": [
            {"manager": "kubectl", "operation": "Update", "time": "2026-12-02T10:00:09Z"},
            {"manager": "wavesync", "operation": "Apply", "time": applied},
        ]}})
    }

    #[test]
    fn created_configured_and_unchanged_are_told_apart() {
        let since: jiff::Timestamp = "2026-12-02T10:00:10.400Z".parse().expect("time");
        assert_eq!(
            classify(&live("2026-12-02T10:00:10Z", "2026-12-02T10:00:10Z"), since),
            ApplyAction::Created
        );
        assert_eq!(
            classify(&live("2026-12-01T00:00:00Z", "2026-12-02T10:00:10Z"), since),
            ApplyAction::Configured
        );
        assert_eq!(
            classify(&live("2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z"), since),
            ApplyAction::Unchanged
        );
        assert_eq!(
            classify(&json!({"metadata": {}}), since),
            ApplyAction::Configured
        );
    }
}
