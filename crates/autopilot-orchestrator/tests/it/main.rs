//! Integration tests of the orchestrator's pure parts: app files, model headers, datasets,
//! extraction, specs, prechecks, repair context, prompts, policies, the shipped examples and the
//! host-check fixtures.

mod app;
mod dataset;
mod examples;
mod extract;
mod header;
mod host_fixtures;
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
