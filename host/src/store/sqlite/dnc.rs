use async_trait::async_trait;

use super::SqliteStore;
use crate::store::DncStore;

#[async_trait]
impl DncStore for SqliteStore {}
