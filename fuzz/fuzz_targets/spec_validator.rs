//! Fuzzes the spec validator: an LLM answer checked against the template of the color_uno
//! example.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use autopilot_steps::{App, ModelKind, SpecRules, spec_template, validate_spec};
use libfuzzer_sys::fuzz_target;

fn app() -> &'static (App, serde_json::Value) {
    static APP: OnceLock<(App, serde_json::Value)> = OnceLock::new();
    APP.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/color_uno/app.toml");
        let app = App::load(&path).expect("the color_uno example loads");
        let template = spec_template(&app);
        (app, template)
    })
}

fuzz_target!(|answer: &str| {
    let (app, template) = app();
    let allowed = ["Arduino_APDS9960".to_owned()];
    let rules = SpecRules {
        target: &app.target,
        classes: &app.classes,
        allowed_libraries: &allowed,
        model_kind: Some(ModelKind::Dense),
        ram_bytes: Some(2048),
    };
    let _ = validate_spec(answer, template, &rules);
});
