//! Appends a custom section to a component: the code is unchanged (custom
//! sections are never executed), but the bytes, and so the sha256, differ.
//! Benchmarks and tests use it to make a "new version" of a built-in
//! adapter that must be compiled afresh, as a real upgrade would be.

/// `component` with a custom section `name` holding `payload` at the end.
pub fn append_custom_section(component: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(name.len() + payload.len() + 5);
    leb128(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut out = Vec::with_capacity(component.len() + body.len() + 6);
    out.extend_from_slice(component);
    out.push(0); // custom section id
    leb128(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

fn leb128(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variant_is_still_a_valid_dialer_with_another_sha() {
        let host = crate::runtime::PluginHost::new(crate::runtime::Limits::default()).unwrap();
        let v2 = append_custom_section(crate::builtin::SIM_DIALER, "dialplane-build", &[7; 300]);
        let meta = |version| crate::runtime::PluginMeta {
            kind: crate::runtime::PluginKind::Dialer,
            name: "sim-dialer".into(),
            version,
        };
        let a = host.prepare(meta(1), crate::builtin::SIM_DIALER).unwrap();
        let b = host.prepare(meta(2), &v2).unwrap();
        assert_ne!(a.sha256, b.sha256);
        assert_eq!(a.info, b.info, "same imports and exports");
    }
}
