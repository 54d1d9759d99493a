"""Run folders: ``samples.jsonl`` appended one finished record at a time so a rerun resumes, ``meta.json`` pinning
the model, data and settings a folder holds, and a lock that keeps a second process out."""
