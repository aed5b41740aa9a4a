//! Integration tests of the classifier crate: legacy parity, the importer, the GCC parser, the
//! taxonomy and the default classification, on the published corpus and on small fixtures.

mod cascade;
mod default;
mod docs;
mod import;
mod legacy;
mod robustness;
mod sample;
mod support;
mod taxonomy;
