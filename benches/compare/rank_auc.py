"""ROC AUC by ranks, shared by the sentiment comparison scripts (no numpy or scikit-learn
needed, so the scripts run in a bare virtualenv)."""


def auc(scores, labels):
    """ROC AUC by the rank-sum statistic (ties get the mean rank)."""
    pairs = sorted(zip(scores, labels))
    ranks, i = [0.0] * len(pairs), 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(1 for _, l in pairs if l)
    neg = len(pairs) - pos
    rank_sum = sum(r for r, (_, l) in zip(ranks, pairs) if l)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)
