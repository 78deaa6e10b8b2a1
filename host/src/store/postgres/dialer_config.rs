use async_trait::async_trait;

use super::PgStore;
use crate::store::DialerConfigStore;

#[async_trait]
impl DialerConfigStore for PgStore {}
