"""Multi-document QA: the seeded synthetic generator, Lost in the Middle's NQ-Open files with BM25 or random
distractors, the train/test split, and the prompt parts (documents, question) with their named segments."""
