//! The Lease through kube-rs, like client-go's `LeaseLock`: it keeps the Lease it last read or
//! wrote, and writes only over that version (its resourceVersion), so of two candidates that
//! read the same Lease at most one write succeeds.

use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};

use crate::error::{Error, Result};
use crate::record::Record;

pub(crate) struct LeaseLock {
    api: Api<Lease>,
    namespace: String,
    name: String,
    /// The Lease as last read or written; updates are conditional on its resourceVersion.
    current: Option<Lease>,
}

impl LeaseLock {
    pub fn new(client: Client, namespace: &str, name: &str) -> LeaseLock {
        LeaseLock {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            name: name.to_string(),
            current: None,
        }
    }

    fn error(&self, source: kube::Error) -> Error {
        Error::Api {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            source,
        }
    }

    /// Read the Lease; `None` if it does not exist.
    pub async fn get(&mut self) -> Result<Option<Record>> {
        let lease = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.error(e))?;
        let record = lease.as_ref().map(|l| Record::from_spec(l.spec.as_ref()));
        self.current = lease;
        Ok(record)
    }

    /// Create the Lease with `record`. `false`: another candidate created it first.
    pub async fn create(&mut self, record: &Record) -> Result<bool> {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(record.to_spec(None)),
        };
        self.settle(self.api.create(&PostParams::default(), &lease).await)
    }

    /// Write `record` over the Lease as last read. `false`: it changed (or went) since.
    pub async fn update(&mut self, record: &Record) -> Result<bool> {
        let Some(mut lease) = self.current.clone() else {
            // Nothing read to write over: report a lost race so the caller reads again.
            return Ok(false);
        };
        lease.spec = Some(record.to_spec(lease.spec.as_ref()));
        let written = self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await;
        self.settle(written)
    }

    /// Keep what was written; a conflict (409: created or changed by someone else) or a
    /// vanished Lease (404) is a lost race, not an error.
    fn settle(&mut self, written: kube::Result<Lease>) -> Result<bool> {
        match written {
            Ok(lease) => {
                self.current = Some(lease);
                Ok(true)
            }
            Err(kube::Error::Api(status)) if matches!(status.code, 404 | 409) => {
                self.current = None;
                Ok(false)
            }
            Err(e) => Err(self.error(e)),
        }
    }
}
