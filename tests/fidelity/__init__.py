"""Fidelity to the published VTEX Orders API: the project's own copy of the facts, and the tests that check them."""
