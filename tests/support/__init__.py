"""What several test modules share (no test module imports another): running a child process and reading its lines,
and the waits and readings on a simulator's state that the race tests make."""
