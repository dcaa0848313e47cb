//! Plan rewrites the extension adds to a session (see [`crate::register_all`]): rules that make
//! common shop-analytics SQL faster without changing any result ([`fixed_interval`]), and rules
//! that make integer arithmetic fail on overflow instead of wrapping around
//! ([`constant_overflow`] for constants, before DataFusion folds them; [`checked_arithmetic`]
//! for everything evaluated at run time).

pub mod checked_arithmetic;
pub mod constant_overflow;
pub mod fixed_interval;

use std::sync::Arc;

use datafusion::optimizer::{AnalyzerRule, OptimizerRule};

pub use checked_arithmetic::physical_optimizer_rules;

/// Every logical optimizer rule of the extension.
pub fn all_optimizer_rules() -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    vec![Arc::new(fixed_interval::FixedIntervalArithmetic)]
}

/// Every analyzer rule of the extension (run after DataFusion's type coercion).
pub fn all_analyzer_rules() -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
    vec![Arc::new(constant_overflow::ConstantOverflowCheck)]
}
