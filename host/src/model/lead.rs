//! [`Lead`]: one person to call, as flows see it (the WIT `lead` record).

use serde::{Deserialize, Serialize};

/// Ordered string pairs (`list<tuple<string, string>>` in WIT).
pub type Properties = Vec<(String, String)>;

/// One person to call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lead {
    pub id: String,
    pub phone: String,
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub attributes: Properties,
}
