"""Answer metrics: SQuAD-normalised best-subspan exact match for multi-document QA, and the long-context tasks'
metrics (substring EM, RULER recall, ROUGE, NDCG, accuracies). No model, no files."""
