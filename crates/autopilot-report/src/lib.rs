//! Reports: session rows and failure counts turned into tables, Markdown, CSV, SVG charts and
//! one self-contained HTML page.
//!
//! The seam is [`ReportInput`], plain rows: [`load_report_input`] reads them from runs (trace
//! files, run directories, legacy logs imported in memory) with the classifier's labels, so the
//! same report comes from new runs and from imported legacy logs alike; [`build_report`] does
//! every computation and grouping into a [`Report`]; rendering only reads that; and
//! [`write_report`] writes its files. It depends on `autopilot-trace` and
//! `autopilot-classifier` among the workspace crates: no async runtime, no network, no
//! processes.

mod build;
mod charts;
mod load;
mod model;
mod render;
mod stats;
mod table;

pub use build::{REPORT_MARKER, build_report, write_report};
pub use charts::{BarSeries, ParetoPanel, grouped_bars, pareto_panels};
pub use load::{LEGACY_GROUP, ReportTaxonomy, load_report_input, report_session};
pub use model::{
    AttemptRow, CategoryRow, CostRow, Dimension, ModelRow, NotLiveRow, OutcomeRow, RateRow, Report,
    ReportFailure, ReportInput, ReportSession, StageRow,
};
pub use stats::{Proportion, mean};
pub use table::{spreadsheet_safe, write_csv_row};

#[cfg(test)]
mod tests;
