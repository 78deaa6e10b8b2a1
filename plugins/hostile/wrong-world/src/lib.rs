//! Hostile component: a valid WebAssembly component that implements its own
//! world `dialplane:wrong/thing` (exporting `run: func()`) instead of
//! `call-flow` or `dialer-adapter`. Uploading it as either kind must be
//! refused, naming the missing export (`dialplane:plugin/flow@0.1.0` or
//! `dialplane:plugin/dialer@0.1.0`).
wit_bindgen::generate!({
    inline: r#"
        package dialplane:wrong;

        world thing {
            export run: func();
        }
    "#,
});

struct Thing;

impl Guest for Thing {
    fn run() {}
}

export!(Thing);
