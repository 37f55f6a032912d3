"""The Orders (OMS) domain: records, rules, and the service that runs them through the timing model."""
