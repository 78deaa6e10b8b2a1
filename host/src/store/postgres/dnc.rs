use async_trait::async_trait;

use super::PgStore;
use crate::store::DncStore;

#[async_trait]
impl DncStore for PgStore {}
