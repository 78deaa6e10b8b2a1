use async_trait::async_trait;

use super::SqliteStore;
use crate::store::DialerConfigStore;

#[async_trait]
impl DialerConfigStore for SqliteStore {}
