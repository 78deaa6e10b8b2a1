use async_trait::async_trait;

use super::PgStore;
use crate::store::TenantStore;

#[async_trait]
impl TenantStore for PgStore {}
