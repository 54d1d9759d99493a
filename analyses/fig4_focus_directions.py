"""Figure 4: EM against the number of top-k contextual heads under focus directions, for each alpha.

Reads a sweep run folder of ``focus-interp evaluate`` (directions from any directions file); writes
``fig4_focus_directions.png`` and ``.csv`` into ``--out``. Lines: top-k heads at every alpha, and the three
baselines (no intervention on the long prompt, gold document alone, distractors alone) as horizontal lines.
Run: python analyses/fig4_focus_directions.py RUN [--out figures] [--gold-position all]
"""

from focus_interp.paper.figures import run_script, sweep_figure_main

if __name__ == "__main__":
    run_script(lambda: sweep_figure_main(__doc__, "alpha", "fig4_focus_directions", "Focus directions"))
