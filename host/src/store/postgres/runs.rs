use async_trait::async_trait;

use super::PgStore;
use crate::store::RunStore;

#[async_trait]
impl RunStore for PgStore {}
