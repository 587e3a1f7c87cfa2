"""Speaking: templates, the outbox, channels that post, and digests."""
