//! The policy store port: the installation policies an operator sets.

use super::StoreError;
use crate::ids::InstallationId;
use crate::policy::InstallationPolicy;
use std::future::Future;

pub trait PolicyStore: Send + Sync {
    fn policies(
        &self,
        installation: InstallationId,
    ) -> impl Future<Output = Result<Vec<InstallationPolicy>, StoreError>> + Send;

    fn put_policy(
        &self,
        policy: &InstallationPolicy,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
