//! The text classifier kernel behind `model_type = 'text_classifier'`: hashed n-gram rows
//! ([`super::text_hashing`]) and L2-regularised logistic regression on them, fitted by the same
//! L-BFGS as `logistic_reg` ([`crate::propensity::logistic::fit_design`] over a
//! [`CsrMatrix`]).
//!
//! Memory: the training rows are held as CSR (8 bytes per stored n-gram, a few hundred per
//! review) and the optimiser keeps about 25 vectors of `num_features` f64 (≈ 50 MB at the
//! default 2¹⁸ buckets).

use std::ops::ControlFlow;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::text_hashing::{HashScratch, TextHashing};
use crate::propensity::csr::CsrMatrix;
use crate::propensity::logistic::{self, LogisticParams, sigmoid};

/// One value per hash bucket. Held dense in memory; stored as the entries that differ from
/// `fill` (most buckets of a text model never saw an n-gram, so their weight stays 0).
#[derive(Debug, Clone, PartialEq)]
pub struct HashedVector {
    /// The value of every bucket not listed in the file.
    pub fill: f32,
    /// One value per bucket.
    pub values: Vec<f32>,
}

#[derive(Serialize, Deserialize)]
struct StoredVector {
    len: usize,
    fill: f32,
    index: Vec<u32>,
    value: Vec<f32>,
}

impl Serialize for HashedVector {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (index, value): (Vec<u32>, Vec<f32>) = self
            .values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != self.fill)
            .map(|(i, v)| (i as u32, *v))
            .unzip();
        StoredVector {
            len: self.values.len(),
            fill: self.fill,
            index,
            value,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for HashedVector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let st = StoredVector::deserialize(d)?;
        if st.index.len() != st.value.len() {
            return Err(D::Error::custom(
                "hashed vector: index and value differ in length",
            ));
        }
        if st.len > MAX_FEATURES {
            return Err(D::Error::custom(format!(
                "hashed vector: {} buckets is more than {MAX_FEATURES}",
                st.len
            )));
        }
        let mut values = vec![st.fill; st.len];
        for (&i, &v) in st.index.iter().zip(&st.value) {
            match values.get_mut(i as usize) {
                Some(slot) => *slot = v,
                None => {
                    return Err(D::Error::custom(format!(
                        "hashed vector: bucket {i} is out of range (len {})",
                        st.len
                    )));
                }
            }
        }
        Ok(Self {
            fill: st.fill,
            values,
        })
    }
}

/// Most hash buckets a model may have (the optimiser's memory grows with it).
pub const MAX_FEATURES: usize = 1 << 21;

/// Fitting options.
#[derive(Debug, Clone, PartialEq)]
pub struct TextFitParams {
    /// The featurizer.
    pub hashing: TextHashing,
    /// The logistic regression's options.
    pub logistic: LogisticParams,
}

/// A fitted text classifier: `P(positive) = σ(intercept + Σ weights[b] · x[b])` over the
/// hashed, weighed row `x` of a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextClassifier {
    /// How texts are featurized.
    pub hashing: TextHashing,
    /// Inverse document frequency per bucket (absent when `hashing.idf` is false).
    pub idf: Option<HashedVector>,
    /// Coefficient per bucket.
    pub weights: HashedVector,
    /// The intercept (log-odds of a text with no n-grams).
    pub intercept: f64,
    /// L-BFGS iterations used.
    pub iterations: usize,
    /// Whether the optimiser converged.
    pub converged: bool,
    /// Stored n-grams (non-zeros) of the training rows.
    pub training_nnz: u64,
}

/// Runs `f` over `texts` split into up to `threads` chunks, in order.
fn in_chunks<T: Send>(texts: &[&str], threads: usize, f: impl Fn(&[&str]) -> T + Sync) -> Vec<T> {
    let threads = threads.clamp(1, texts.len().max(1));
    if threads == 1 {
        return vec![f(texts)];
    }
    let chunk = texts.len().div_ceil(threads);
    std::thread::scope(|sc| {
        let handles: Vec<_> = texts
            .chunks(chunk)
            .map(|c| {
                let f = &f;
                sc.spawn(move || f(c))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| f(&[])))
            .collect()
    })
}

/// Document frequency of every bucket over `texts`.
fn document_frequencies(hashing: &TextHashing, texts: &[&str], threads: usize) -> Vec<u32> {
    let parts = in_chunks(texts, threads, |texts| {
        let mut df = vec![0u32; hashing.num_features];
        let mut s = HashScratch::default();
        for t in texts {
            hashing.count(t, &mut s);
            for &b in TextHashing::distinct_buckets(&mut s) {
                df[b as usize] += 1;
            }
        }
        df
    });
    let mut df = vec![0u32; hashing.num_features];
    for part in parts {
        for (a, b) in df.iter_mut().zip(part) {
            *a += b;
        }
    }
    df
}

/// The feature rows of `texts` as CSR.
fn feature_rows(
    hashing: &TextHashing,
    idf: Option<&[f32]>,
    texts: &[&str],
    threads: usize,
) -> CsrMatrix {
    let parts = in_chunks(texts, threads, |texts| {
        let mut m = CsrMatrix::new(hashing.num_features);
        let mut s = HashScratch::default();
        for t in texts {
            hashing.featurize(t, idf, &mut s);
            m.push_row(s.row.iter().copied());
        }
        m
    });
    let mut out = CsrMatrix::new(hashing.num_features);
    for m in parts {
        let base = out.indices.len();
        out.indices.extend_from_slice(&m.indices);
        out.values.extend_from_slice(&m.values);
        out.indptr.extend(m.indptr[1..].iter().map(|p| p + base));
    }
    out
}

/// Fits a classifier on `texts` with binary `labels` and optional per-row `weights`.
/// `observer(iteration, loss)` is called after each L-BFGS iteration; `Break` cancels.
pub fn fit(
    texts: &[&str],
    labels: &[bool],
    weights: Option<&[f64]>,
    params: &TextFitParams,
    observer: &mut dyn FnMut(usize, f64) -> ControlFlow<()>,
) -> Result<TextClassifier, String> {
    let hashing = &params.hashing;
    if hashing.num_features == 0 || hashing.num_features > MAX_FEATURES {
        return Err(format!(
            "num_features must be between 1 and {MAX_FEATURES}, got {}",
            hashing.num_features
        ));
    }
    if texts.len() != labels.len() {
        return Err("texts and labels differ in length".into());
    }
    let threads = params.logistic.threads;
    let n = texts.len() as f64;
    let idf = if hashing.idf {
        let df = document_frequencies(hashing, texts, threads);
        Some(HashedVector {
            // Smoothed as scikit-learn; an n-gram never seen in training gets the largest value.
            fill: ((1.0 + n).ln() + 1.0) as f32,
            values: df
                .iter()
                .map(|&d| ((1.0 + n) / (1.0 + f64::from(d))).ln() as f32 + 1.0)
                .collect(),
        })
    } else {
        None
    };
    let rows = feature_rows(
        hashing,
        idf.as_ref().map(|v| v.values.as_slice()),
        texts,
        threads,
    );
    let model = logistic::fit_design(&rows, labels, weights, &params.logistic, observer)?;
    Ok(TextClassifier {
        hashing: hashing.clone(),
        idf,
        weights: HashedVector {
            fill: 0.0,
            values: model.coefficients.iter().map(|&w| w as f32).collect(),
        },
        intercept: model.intercept,
        iterations: model.iterations,
        converged: model.converged,
        training_nnz: rows.nnz() as u64,
    })
}

impl TextClassifier {
    /// Whether the stored vectors match the featurizer (a damaged file would index out of
    /// range).
    pub fn is_consistent(&self) -> bool {
        let n = self.hashing.num_features;
        self.weights.values.len() == n
            && self.idf.as_ref().is_none_or(|v| v.values.len() == n)
            && self.idf.is_some() == self.hashing.idf
    }

    /// The weighed feature row of `text`, left in `s.row`.
    pub fn featurize(&self, text: &str, s: &mut HashScratch) {
        self.hashing
            .featurize(text, self.idf.as_ref().map(|v| v.values.as_slice()), s);
    }

    /// The log-odds of the positive class for `text`.
    pub fn logit(&self, text: &str, s: &mut HashScratch) -> f64 {
        self.featurize(text, s);
        self.intercept
            + s.row
                .iter()
                .map(|&(b, v)| f64::from(self.weights.values[b as usize]) * f64::from(v))
                .sum::<f64>()
    }

    /// P(positive class) for `text`.
    pub fn predict_proba(&self, text: &str, s: &mut HashScratch) -> f64 {
        sigmoid(self.logit(text, s))
    }

    /// What moved the log-odds of `text`: one (n-grams, contribution) per bucket of its row with
    /// a non-zero weight, in bucket order. The n-grams of a bucket (usually one; more when they
    /// collide) are joined with " | ". `intercept + Σ contributions = logit(text)`.
    pub fn attributions(&self, text: &str, s: &mut HashScratch) -> Vec<(String, f64)> {
        self.featurize(text, s);
        let grams = self.hashing.ngrams(text);
        s.row
            .iter()
            .filter(|(b, _)| self.weights.values[*b as usize] != 0.0)
            .map(|&(b, v)| {
                let mut names: Vec<&str> = grams
                    .iter()
                    .filter(|(g, _)| *g == b)
                    .map(|(_, n)| n.as_str())
                    .collect();
                names.sort_unstable();
                names.dedup();
                let contribution = f64::from(self.weights.values[b as usize]) * f64::from(v);
                (names.join(" | "), contribution)
            })
            .collect()
    }

    /// Buckets with a non-zero weight.
    pub fn nonzero_weights(&self) -> usize {
        self.weights.values.iter().filter(|w| **w != 0.0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::binary::roc_auc;

    fn never(_: usize, _: f64) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    /// A toy review set: the label follows the words, with negation in play.
    fn reviews() -> (Vec<String>, Vec<bool>) {
        let good = [
            "great",
            "love it",
            "works well",
            "fast delivery",
            "很好",
            "好评",
        ];
        let bad = [
            "broken",
            "not good",
            "waste of money",
            "arrived late",
            "质量差",
            "差评",
        ];
        let items = ["phone", "case", "cable", "shoes", "手机", "耳机"];
        let (mut t, mut y) = (Vec::new(), Vec::new());
        for (i, item) in items.iter().enumerate() {
            for (j, (g, b)) in good.iter().zip(&bad).enumerate() {
                t.push(format!("the {item} is {g}, number {}", i * 7 + j));
                y.push(true);
                t.push(format!("the {item} is {b}, number {}", i * 5 + j));
                y.push(false);
            }
        }
        (t, y)
    }

    fn params(threads: usize) -> TextFitParams {
        TextFitParams {
            hashing: TextHashing::default(),
            logistic: LogisticParams {
                threads,
                ..LogisticParams::default()
            },
        }
    }

    #[test]
    fn learns_a_separable_review_set_in_both_languages() {
        let (t, y) = reviews();
        let texts: Vec<&str> = t.iter().map(String::as_str).collect();
        let m = fit(&texts, &y, None, &params(1), &mut never).unwrap();
        assert!(m.is_consistent());
        let mut s = HashScratch::default();
        let p: Vec<f64> = texts.iter().map(|t| m.predict_proba(t, &mut s)).collect();
        assert_eq!(roc_auc(&y, &p), Some(1.0));
        // Unseen texts built from the same words.
        assert!(m.predict_proba("this is great", &mut s) > 0.5);
        assert!(m.predict_proba("this is not good", &mut s) < 0.5);
        assert!(m.predict_proba("手机很好", &mut s) > 0.5);
        assert!(m.predict_proba("手机质量差", &mut s) < 0.5);
        // A text with no n-grams gets the intercept.
        assert_eq!(m.logit("", &mut s), m.intercept);
        // Attributions add up to the logit and name the n-grams.
        let text = "the phone is not good";
        let a = m.attributions(text, &mut s);
        let sum: f64 = a.iter().map(|(_, c)| c).sum();
        assert!((m.intercept + sum - m.logit(text, &mut s)).abs() < 1e-9);
        let not_good = a.iter().find(|(n, _)| n == "not good").expect("the bigram");
        assert!(not_good.1 < 0.0, "{a:?}");
        // Threads change nothing but rounding.
        let m2 = fit(&texts, &y, None, &params(2), &mut never).unwrap();
        assert!((m2.intercept - m.intercept).abs() < 1e-6);
        assert_eq!(m2.training_nnz, m.training_nnz);
    }

    #[test]
    fn stores_only_the_weights_it_learned_and_round_trips() {
        let (t, y) = reviews();
        let texts: Vec<&str> = t.iter().map(String::as_str).collect();
        let m = fit(&texts, &y, None, &params(1), &mut never).unwrap();
        let json = serde_json::to_string(&m).unwrap();
        // 2^18 buckets, a few hundred used: the file lists only those.
        assert!(m.nonzero_weights() < 2_000, "{}", m.nonzero_weights());
        assert!(json.len() < 100_000, "{} bytes", json.len());
        let back: TextClassifier = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        let bad = json.replace("\"len\":262144", "\"len\":3");
        assert!(serde_json::from_str::<TextClassifier>(&bad).is_err());
    }

    #[test]
    fn bad_input_is_an_error() {
        let p = params(1);
        assert!(
            fit(&["a", "b"], &[true, true], None, &p, &mut never)
                .unwrap_err()
                .contains("single class")
        );
        assert!(fit(&["a"], &[true, false], None, &p, &mut never).is_err());
        let huge = TextFitParams {
            hashing: TextHashing {
                num_features: MAX_FEATURES + 1,
                ..TextHashing::default()
            },
            ..p.clone()
        };
        assert!(
            fit(&["a", "b"], &[true, false], None, &huge, &mut never)
                .unwrap_err()
                .contains("num_features")
        );
        let (t, y) = reviews();
        let texts: Vec<&str> = t.iter().map(String::as_str).collect();
        let mut stop = |_: usize, _: f64| ControlFlow::Break(());
        assert_eq!(
            fit(&texts, &y, None, &p, &mut stop).unwrap_err(),
            "cancelled"
        );
    }
}
