"""Driving runs: transports, the control-API client, the runner, the suite."""
