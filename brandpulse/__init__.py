"""brandpulse: social-media listening and proactive outreach.

This package is the shared kernel and the application wiring: domain types,
settings, storage, the pipeline that connects the stages, and the CLI. The
stage packages (``listener``, ``rules``, ``outreach``) depend on this kernel
and never on each other.
"""

__version__ = "0.1.0"
