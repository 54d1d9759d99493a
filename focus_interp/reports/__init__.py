"""Plots and tables from plain numbers: heatmaps, curves and bars drawn on a given Axes (or a new Figure) and markdown
tables; no model, no run folder, and the matplotlib backend is never set."""
