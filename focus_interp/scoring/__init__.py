"""Scores of every attention head while the model answers: contextual scores (attention on the gold document,
the distractors and the sink) and retrieval scores; computed in memory, persisted by the ``*_run`` modules."""
