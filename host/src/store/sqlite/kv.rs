use async_trait::async_trait;

use super::SqliteStore;
use crate::store::KvStore;

#[async_trait]
impl KvStore for SqliteStore {}
