//! Integration tests of the pure steps: app files, model headers, datasets, extraction, specs,
//! prechecks, repair context, prompts and policies.

mod app;
mod dataset;
mod extract;
mod header;
mod policy;
mod precheck;
mod prompts;
mod repair;
mod robustness;
mod spec;
mod stage;
mod support;
mod tflite;
