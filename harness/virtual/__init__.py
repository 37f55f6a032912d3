"""Virtual time: the clock, in-process pipes, the universe, replay and explore."""
