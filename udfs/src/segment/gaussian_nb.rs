//! TEMP STUB
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct GaussianNb {
    pub classes: usize,
    pub dims: usize,
    pub priors: Vec<f64>,
    pub means: Vec<f64>,
    pub variances: Vec<f64>,
    pub var_smoothing: f64,
}
impl GaussianNb {
    pub fn fit(
        _columns: &[&[f64]],
        _labels: &[u32],
        _classes: usize,
        _var_smoothing: f64,
    ) -> Result<Self, String> {
        Err(String::new())
    }
    pub fn predict_proba(&self, _columns: &[&[f64]], _out: &mut [f64]) {}
    pub fn predict(&self, _columns: &[&[f64]], _out: &mut [u32]) {}
}
