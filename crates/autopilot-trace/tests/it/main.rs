//! Integration tests of the trace crate: the layer, the reader, redaction, the schema.

mod layer;
mod reader;
mod redaction;
mod schema;
mod support;
