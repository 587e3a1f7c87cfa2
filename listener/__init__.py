"""Listening: sources that fetch brand mentions, the poller that stores them
with their cursor, and the scheduler that runs each source on its interval."""
