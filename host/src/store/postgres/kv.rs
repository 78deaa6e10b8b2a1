use async_trait::async_trait;

use super::PgStore;
use crate::store::KvStore;

#[async_trait]
impl KvStore for PgStore {}
