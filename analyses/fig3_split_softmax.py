"""Figure 3: EM against the number of top-k contextual heads under split softmax, for each tau.

Reads a sweep run folder of ``focus-interp compensate``; writes ``fig3_split_softmax.png`` and ``.csv`` into
``--out``. Lines: top-k heads at every tau, random heads (dashed) at their tau, and the three baselines (no
intervention on the long prompt, gold document alone, distractors alone) as horizontal lines.
Run: python analyses/fig3_split_softmax.py RUN [--out figures] [--gold-position all]
"""

from focus_interp.paper.figures import run_script, sweep_figure_main

if __name__ == "__main__":
    run_script(lambda: sweep_figure_main(__doc__, "tau", "fig3_split_softmax", "Split softmax"))
