//! Datasets for open-provence-rs: everything between a recipe's `data_args` and a tokenized
//! [`Batch`]: Hub/local/cache sources, schema checks, upstream-identical sampling and mixing, and
//! the collator.

mod batch;
mod row;

pub use batch::Batch;
pub use row::Row;
