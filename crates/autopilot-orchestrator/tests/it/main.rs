//! Integration tests of the orchestrator's pure parts: app files, model headers, datasets,
//! extraction, specs, prechecks, repair context, prompts, policies and the shipped examples.

mod app;
mod dataset;
mod examples;
mod extract;
mod header;
mod policy;
mod precheck;
mod prompts;
mod repair;
mod replay;
mod robustness;
mod session;
mod spec;
mod support;
mod tflite;
