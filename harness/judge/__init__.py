"""Judging runs: the checkers, one verdict, gates, statistics (pure)."""
