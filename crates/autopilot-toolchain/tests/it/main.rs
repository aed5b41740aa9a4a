//! Integration tests of the toolchain crate, one module per area.

mod arduino_cli;
mod compile_avr;
mod corpus;
mod diagnostics;
mod environment;
mod library;
mod process;
mod redteam;
mod simulate;
mod size;
mod support;
mod targets;
mod tinyml;
