"""``python -m brandpulse`` is the ``brandpulse`` command."""

from brandpulse.cli import main

main()
