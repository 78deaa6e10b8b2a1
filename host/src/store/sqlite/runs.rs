use async_trait::async_trait;

use super::SqliteStore;
use crate::store::RunStore;

#[async_trait]
impl RunStore for SqliteStore {}
