"""Sentiment analyzers, registered by name (see ``registry``)."""
