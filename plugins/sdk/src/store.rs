//! The tenant's private key-value store (`tenant-store` import). The host
//! binds it to the tenant of the running call; keys are at most 256 bytes,
//! values at most 64 KiB. [`increment`] and [`compare_and_swap`] are atomic
//! across every instance of the tenant: use them for counters and any
//! read-modify-write.

use crate::flow_bindings::dialplane::plugin::tenant_store;

/// The value under `key`, or `None`.
pub fn get(key: &str) -> Option<Vec<u8>> {
    tenant_store::get(key)
}

/// The value under `key` as UTF-8 text; `None` if missing or not UTF-8.
pub fn get_string(key: &str) -> Option<String> {
    get(key).and_then(|v| String::from_utf8(v).ok())
}

/// Stores `value` under `key`; fails with the host's message when a size
/// limit is exceeded or the store is unavailable.
pub fn set(key: &str, value: impl AsRef<[u8]>) -> Result<(), String> {
    tenant_store::set(key, value.as_ref())
}

/// Removes `key` (missing keys are fine).
pub fn delete(key: &str) {
    tenant_store::delete(key)
}

/// Reads the decimal counter under `key` (missing or unreadable = 0).
pub fn get_counter(key: &str) -> u64 {
    get_string(key)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Adds `delta` to the decimal counter under `key` and returns the new
/// value, atomically: concurrent instances of the tenant, on any worker,
/// never lose an increment (a missing key counts as 0).
pub fn increment(key: &str, delta: i64) -> Result<i64, String> {
    tenant_store::increment(key, delta)
}

/// Stores `value` under `key` only if the stored value is still `expected`
/// (`None`: only if absent); `Ok(false)` when another writer came first:
/// read again and retry.
pub fn compare_and_swap(
    key: &str,
    expected: Option<&[u8]>,
    value: impl AsRef<[u8]>,
) -> Result<bool, String> {
    tenant_store::compare_and_swap(key, expected, value.as_ref())
}
