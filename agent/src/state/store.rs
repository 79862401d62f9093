//! Reads and writes the record ConfigMap (`wavesync-state-<waveset>`) with
//! resourceVersion checks, so two agents never overwrite each other's record.

use super::record::{DecodeError, INVENTORY_KEY, RECORD_KEY, Record, SYNC_REQUEST_ANNOTATION};
use crate::apply::ssa::Backoff;
use crate::error::{Categorized, Category, category_of_kube};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use std::collections::BTreeMap;

/// Errors reading or writing the record.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The API call failed.
    #[error("state ConfigMap {name}: {source}")]
    Api {
        /// ConfigMap name.
        name: String,
        /// The client error.
        #[source]
        source: crate::error::ApiFailure,
    },
    /// Someone else wrote the record since it was read.
    #[error("state ConfigMap {name} was changed by another writer; reload and retry")]
    Conflict {
        /// ConfigMap name.
        name: String,
    },
    /// Not written: this agent lost the lease, another one acts now.
    #[error("state ConfigMap {name} not written: this agent lost the lease")]
    NotLeader {
        /// ConfigMap name.
        name: String,
    },
    /// The stored record is not readable.
    #[error(
        "state ConfigMap {name} holds an unreadable record ({source}); `wavesync reset` clears it"
    )]
    Corrupt {
        /// ConfigMap name.
        name: String,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// The record could not be encoded; nothing was written.
    #[error("state ConfigMap {name} not written: encoding the record failed ({source})")]
    Encode {
        /// ConfigMap name.
        name: String,
        /// Why.
        #[source]
        source: crate::state::record::EncodeError,
    },
}

impl Categorized for StateError {
    fn category(&self) -> Category {
        match self {
            StateError::Api { source, .. } => source.category,
            StateError::Conflict { .. } | StateError::NotLeader { .. } => Category::Transient,
            StateError::Corrupt { .. } | StateError::Encode { .. } => Category::Config,
        }
    }
}

/// The record ConfigMap's name is this and the WaveSet's.
const NAME_PREFIX: &str = "wavesync-state-";

/// The record a ConfigMap named `name` holds.
fn from_configmap(name: &str, cm: ConfigMap) -> Result<Loaded, StateError> {
    let corrupt = |source| StateError::Corrupt {
        name: name.to_string(),
        source,
    };
    let json = cm
        .data
        .as_ref()
        .and_then(|d| d.get(RECORD_KEY))
        .cloned()
        .ok_or_else(|| corrupt(DecodeError::Missing))?;
    let inventory = cm
        .binary_data
        .as_ref()
        .and_then(|d| d.get(INVENTORY_KEY))
        .map(|b| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(&b.0)
        });
    let mut record = Record::decode(&json, inventory.as_deref()).map_err(corrupt)?;
    record.sync_request = cm
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SYNC_REQUEST_ANNOTATION))
        .cloned();
    Ok(Loaded {
        record,
        resource_version: cm.metadata.resource_version.unwrap_or_default(),
    })
}

/// A record as read, with the resourceVersion to write against.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The record.
    pub record: Record,
    /// Its ConfigMap's resourceVersion.
    pub resource_version: String,
}

/// The record's ConfigMap for one WaveSet.
#[derive(Clone)]
pub struct StateStore {
    api: Api<ConfigMap>,
    name: String,
    waveset: String,
}

impl StateStore {
    /// The store of `waveset` in `namespace` (the agent's namespace).
    pub fn new(client: kube::Client, namespace: &str, waveset: &str) -> Self {
        StateStore {
            api: Api::namespaced(client, namespace),
            name: format!("{NAME_PREFIX}{waveset}"),
            waveset: waveset.to_string(),
        }
    }

    /// The ConfigMap name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn api_err(&self, source: kube::Error) -> StateError {
        match &source {
            kube::Error::Api(s) if s.code == 409 => StateError::Conflict {
                name: self.name.clone(),
            },
            _ => StateError::Api {
                name: self.name.clone(),
                source: source.into(),
            },
        }
    }

    /// Reads the record; `None` when there is none yet.
    ///
    /// # Errors
    /// API failures and unreadable records.
    pub async fn load(&self) -> Result<Option<Loaded>, StateError> {
        let Some(cm) = crate::retry::transient("load the record", Backoff::default(), || {
            self.api.get_opt(&self.name)
        })
        .await
        .map_err(|e| self.api_err(e))?
        else {
            return Ok(None);
        };
        from_configmap(&self.name, cm).map(Some)
    }

    /// Every record in `namespace`, by WaveSet name; an unreadable one is
    /// listed with its error rather than hiding the others.
    ///
    /// # Errors
    /// When the ConfigMaps cannot be listed.
    pub async fn list(
        client: kube::Client,
        namespace: &str,
    ) -> Result<Vec<(String, Result<Record, StateError>)>, StateError> {
        let api: Api<ConfigMap> = Api::namespaced(client, namespace);
        let lp = kube::api::ListParams::default()
            .labels("app.kubernetes.io/managed-by=wavesync,wavesync.io/waveset");
        let list = api.list(&lp).await.map_err(|source| StateError::Api {
            name: format!("{NAME_PREFIX}* in {namespace}"),
            source: source.into(),
        })?;
        let mut out: Vec<(String, Result<Record, StateError>)> = list
            .items
            .into_iter()
            .filter_map(|cm| {
                let name = cm.metadata.name.clone()?;
                let waveset = name.strip_prefix(NAME_PREFIX)?.to_string();
                Some((waveset, from_configmap(&name, cm).map(|l| l.record)))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Writes the record: creates it when `resource_version` is `None`, else
    /// replaces it only if nobody wrote since. Returns the new resourceVersion.
    ///
    /// # Errors
    /// [`StateError::Conflict`] when another writer got there first.
    pub async fn save(
        &self,
        record: &Record,
        resource_version: Option<&str>,
    ) -> Result<String, StateError> {
        let encode = |source| StateError::Encode {
            name: self.name.clone(),
            source,
        };
        let inventory = record.inventory_gzip().map_err(encode)?;
        let json = record.to_json().map_err(encode)?;
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                resource_version: resource_version.map(String::from),
                labels: Some(BTreeMap::from([
                    (
                        "app.kubernetes.io/managed-by".to_string(),
                        "wavesync".to_string(),
                    ),
                    ("wavesync.io/waveset".to_string(), self.waveset.clone()),
                ])),
                // A replace drops what it does not send: keep the request.
                annotations: record
                    .sync_request
                    .as_ref()
                    .map(|r| BTreeMap::from([(SYNC_REQUEST_ANNOTATION.to_string(), r.clone())])),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(RECORD_KEY.to_string(), json)])),
            binary_data: Some(BTreeMap::from([(
                INVENTORY_KEY.to_string(),
                ByteString(inventory),
            )])),
            ..Default::default()
        };
        let pp = PostParams {
            field_manager: Some("wavesync".into()),
            ..Default::default()
        };
        let backoff = Backoff::default();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let res = match resource_version {
                None => self.api.create(&pp, &cm).await,
                Some(_) => self.api.replace(&self.name, &pp, &cm).await,
            };
            let e = match res {
                Ok(written) => return Ok(written.metadata.resource_version.unwrap_or_default()),
                Err(e) => e,
            };
            // A write whose answer was lost (a dropped connection, a 504)
            // may have been applied: its retry then meets our own write as a
            // conflict. Only if the stored record is not ours is it someone else's.
            if attempt > 1
                && matches!(&e, kube::Error::Api(s) if s.code == 409)
                && let Some(rv) = self.written_as(&cm).await
            {
                return Ok(rv);
            }
            if category_of_kube(&e) != Category::Transient || attempt >= backoff.attempts {
                return Err(self.api_err(e));
            }
            tracing::debug!(state = %self.name, attempt, error = %e, "transient failure writing the record; retrying");
            tokio::time::sleep(backoff.delay(attempt)).await;
        }
    }

    /// The resourceVersion of the stored ConfigMap when it holds exactly
    /// what `cm` carries.
    async fn written_as(&self, cm: &ConfigMap) -> Option<String> {
        let live = crate::retry::transient("read the record back", Backoff::default(), || {
            self.api.get_opt(&self.name)
        })
        .await
        .ok()??;
        (live.data == cm.data && live.binary_data == cm.binary_data)
            .then(|| live.metadata.resource_version.unwrap_or_default())
    }

    /// Deletes the record; true when there was one.
    ///
    /// # Errors
    /// API failures other than NotFound.
    pub async fn reset(&self) -> Result<bool, StateError> {
        match self.api.delete(&self.name, &DeleteParams::default()).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(self.api_err(e)),
        }
    }
}
