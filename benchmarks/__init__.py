"""``make bench``: a national-size quarter on one machine, stage by stage, with baselines.

- :mod:`.generate`  N dossiers of one quarter as the portal exports them (cached by N and seed);
- :mod:`.stages`    the quarter's stages as the assets run them, one per child process;
- :mod:`.baselines` the same dossier KPIs as one bare DuckDB query and as plain pandas;
- :mod:`.runner`    times each in its own process (wall, peak RSS), the table and the targets.
"""
