//! Integration tests of the session engine and the replay comparison: sessions against a
//! scripted OpenAI server, the shipped examples and the host-check fixtures against the target
//! facts, replays compared with their recordings.

mod examples;
mod host_fixtures;
mod model_eval;
mod replay;
mod session;
mod support;
