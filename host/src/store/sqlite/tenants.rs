use async_trait::async_trait;

use super::SqliteStore;
use crate::store::TenantStore;

#[async_trait]
impl TenantStore for SqliteStore {}
