"""The integrations under test."""
