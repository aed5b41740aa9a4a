//! Reports over sessions and their classified failures: Markdown, CSV, SVG charts and one
//! self-contained HTML page. Inputs are plain rows ([`ReportInput`]), read from runs by
//! [`load_report_input`], so the same report comes from new runs and from imported legacy logs
//! alike.

mod build;
mod charts;
mod load;
mod model;
mod render;
mod stats;

pub use build::{REPORT_MARKER, build_report, write_report};
pub use charts::{BarSeries, ParetoPanel, grouped_bars, pareto_panels};
pub use load::{LEGACY_GROUP, ReportTaxonomy, load_report_input, report_session};
pub use model::{
    AttemptRow, CategoryRow, CostRow, Dimension, RateRow, Report, ReportFailure, ReportInput,
    ReportSession,
};
pub use stats::{Proportion, mean};

#[cfg(test)]
mod tests;
