//! Integration tests of autopilot-llm: one binary, one module per area.

mod backoff;
mod faults;
mod hostile;
mod probe;
mod protocol;
mod replay;
mod support;
mod tls;
