use async_trait::async_trait;

use super::SqliteStore;
use crate::store::LeadStore;

#[async_trait]
impl LeadStore for SqliteStore {}
