//! Failure classification and reports.

pub mod report;
