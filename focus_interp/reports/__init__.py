"""Reports: plots and tables of head scores and sweeps, and the helpers the ``analyses/`` scripts call to
read a run folder and regenerate a figure or table of the paper."""
