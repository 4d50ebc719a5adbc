"""genrelay's benchmark programs: one per question (see README "Performance"), each printing a table
and, as its last line, one JSON object of figures; `python -m bench.run_all` runs them all."""
