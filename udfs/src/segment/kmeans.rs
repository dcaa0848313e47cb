//! TEMP STUB
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KMeansInit {
    KMeansPlusPlus,
    Random,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KMeansDistance {
    Euclidean,
    Cosine,
}
#[derive(Debug, Clone)]
pub struct KMeansParams {
    pub k: usize,
    pub init: KMeansInit,
    pub max_iterations: usize,
    pub tolerance: f64,
    pub n_init: usize,
    pub seed: u64,
    pub distance: KMeansDistance,
    pub threads: usize,
}
#[derive(Debug, Clone, Copy)]
pub struct FitProgress {
    pub run: usize,
    pub iteration: usize,
    pub inertia: f64,
}
#[derive(Debug, Clone)]
pub struct KMeansFit {
    pub centroids: Vec<f64>,
    pub dims: usize,
    pub k: usize,
    pub inertia: f64,
    pub iterations: usize,
    pub converged: bool,
    pub cluster_sizes: Vec<u64>,
    pub best_run: usize,
}
#[derive(Debug, Clone, PartialEq)]
pub enum KMeansError {
    NoRows,
    TooFewRows { rows: usize, k: usize },
    Cancelled,
}
pub fn fit(
    _columns: &[&[f64]],
    _params: &KMeansParams,
    _observer: &mut dyn FnMut(FitProgress) -> std::ops::ControlFlow<()>,
) -> Result<KMeansFit, KMeansError> {
    Err(KMeansError::NoRows)
}
pub fn assign(
    _columns: &[&[f64]],
    _centroids: &[f64],
    _k: usize,
    _distance: KMeansDistance,
    _labels: &mut [u32],
    _distances: &mut [f64],
) {
}
