"""Deciding: analyzers score mentions, the rule engine turns scores and
conditions from the config into alert, draft and tag decisions."""
