"""Run folders: ``samples.jsonl`` appended one finished record at a time so a rerun resumes, and ``meta.json``
that pins the settings a folder holds; the loops that process rows into them."""
