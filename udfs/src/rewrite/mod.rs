//! Optimizer rules the extension adds to a session (see [`crate::register_all`]): plan
//! rewrites that make common shop-analytics SQL faster without changing any result.

pub mod fixed_interval;

use std::sync::Arc;

use datafusion::optimizer::OptimizerRule;

/// Every optimizer rule of the extension.
pub fn all_optimizer_rules() -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    vec![Arc::new(fixed_interval::FixedIntervalArithmetic)]
}
