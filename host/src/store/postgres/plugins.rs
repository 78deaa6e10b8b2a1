use async_trait::async_trait;

use super::PgStore;
use crate::store::PluginStore;

#[async_trait]
impl PluginStore for PgStore {}
