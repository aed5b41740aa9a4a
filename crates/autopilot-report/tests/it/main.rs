//! Integration tests of the report crate.

mod report;
