//! Integration tests of the toolchain crate, one module per area.

mod arduino_cli;
mod compile_avr;
mod corpus;
mod environment;
mod library;
mod process;
mod python;
mod redteam;
mod simulate;
mod support;
mod targets;
mod tinyml;
