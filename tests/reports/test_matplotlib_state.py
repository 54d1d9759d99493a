"""The library never sets the matplotlib backend nor leaves a pyplot figure open, whatever it draws or trains."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from focus_interp import score_heads
from focus_interp.data import load_multidoc_qa
from focus_interp.demo import DemoSizes, run_demo
from focus_interp.directions.run import train_directions
from focus_interp.reports.plots import (
    plot_em_against_k,
    plot_em_bars,
    plot_head_grid,
    plot_losses,
    save_figure,
)

ROWS = load_multidoc_qa("synthetic", split="train", n=2, gold_positions=(1,), n_documents=3)
SWEEP = [
    {"intervention": "none", "heads": "", "k": None, "tau": None, "alpha": None, "em": 0.5},
    {"intervention": "split_softmax", "heads": "top", "k": 1, "tau": 0.3, "alpha": None, "em": 0.6},
    {"intervention": "split_softmax", "heads": "top", "k": 2, "tau": 0.3, "alpha": None, "em": 0.7},
]


def test_drawing_and_training_leave_the_backend_and_pyplot_as_they_were(tiny_loaded, tmp_path):
    previous = matplotlib.get_backend()
    matplotlib.use("svg")  # a backend the library would never pick itself
    open_figures = plt.get_fignums()
    try:
        loaded = tiny_loaded("llama", "sdpa")
        scores = score_heads(loaded, ROWS, max_new_tokens=2, progress=False)
        save_figure(scores.plot("R"), tmp_path / "scores.png")
        save_figure(plot_head_grid(np.zeros((3, 4)), "grid"), tmp_path / "grid.png")
        save_figure(plot_em_against_k(SWEEP, "tau", "sweep"), tmp_path / "sweep.png")
        save_figure(plot_em_bars(["a", "b"], [0.1, 0.2], ["black", "tab:blue"], "bars"), tmp_path / "bars.png")
        save_figure(plot_losses(np.zeros((2, 3)), "losses"), tmp_path / "losses.png")
        train_directions(loaded, ROWS, tmp_path / "directions", epochs=1, max_new_tokens=2, progress=False)
        run_demo(loaded, tmp_path / "demo", DemoSizes(2, 2, 3, (1, 3), 2, 2, 0.1, 0.5, 1, 1e-2), progress=False)
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == open_figures
        assert all((tmp_path / name).stat().st_size > 0 for name in ("scores.png", "grid.png", "sweep.png", "bars.png"))
    finally:
        matplotlib.use(previous)
