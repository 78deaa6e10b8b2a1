use async_trait::async_trait;

use super::PgStore;
use crate::store::LeadStore;

#[async_trait]
impl LeadStore for PgStore {}
