"""The paper's figures and tables from run folders: read a run's files, title it, and write one figure or table;
what each ``analyses/`` script calls."""
