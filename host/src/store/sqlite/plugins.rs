use async_trait::async_trait;

use super::SqliteStore;
use crate::store::PluginStore;

#[async_trait]
impl PluginStore for SqliteStore {}
