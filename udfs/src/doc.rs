//! Documentation sections for ecomsql's functions, one per family, so the shell's `\h` can group
//! them. Add a section here when a new family lands.

use datafusion::logical_expr::DocSection;

/// Feature extraction: sessions, funnels, retention, RFM, splits.
pub const DOC_SECTION_FEATURES: DocSection = DocSection {
    include: true,
    label: "ecomsql features",
    description: Some(
        "Feature extraction over shop logs: sessions, funnels, retention, RFM, splits",
    ),
};

/// Models: training, segments, prediction and evaluation.
pub const DOC_SECTION_MODELS: DocSection = DocSection {
    include: true,
    label: "ecomsql models",
    description: Some(
        "Model-backed functions: customer segments (k-means), classifiers, prediction, evaluation",
    ),
};

/// Sentiment of review text: scores, labels and explanations.
pub const DOC_SECTION_SENTIMENT: DocSection = DocSection {
    include: true,
    label: "ecomsql sentiment",
    description: Some("Sentiment of review text in English and Chinese: score, label, explanation"),
};
