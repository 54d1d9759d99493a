"""Evaluation: typed configurations and where their heads come from (rankings, random controls), and the
multi-document QA sweeps and long-context runs that measure each configuration into a run folder."""
