"""Channels that post to a network, one small class per network."""
