//! Integration tests of the host run: one binary, a module per area.
mod build;
mod fixtures;
mod installed;
mod motion;
mod oracle;
mod pure;
mod support;
