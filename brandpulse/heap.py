"""Start-up objects kept out of the garbage collector's way in the long-running service.

Python's cyclic garbage collector, every so often (a full, generation-2
collection: when the objects that survived younger collections reach a
quarter of the long-lived ones), walks every container object it tracks.
When ``brandpulse run`` starts polling, the process holds some 100,000 of
them (109,000 in bench/pipeline_throughput.py's process, pipeline built) that
live as long as it does: modules, SQLAlchemy's tables and cached
statements, Jinja2 templates, pydantic models, the settings, the compiled
rules. Walking them is most of what a full collection costs, and the GIL is
held meanwhile, so every thread waits. bench/gc_pauses.py (20,000 posts through
the alerting pipeline, each poll's mentions built as they are fetched; a
2-core VM other jobs were using) measured full collections of 144-214 ms, one
or two per run, 10-14 µs per post, and 4-6 ms (0.4-0.6 µs per post) with the
start-up objects frozen; all collections together 21-23 µs per post, against
8-10 frozen.

:func:`startup_objects_frozen` runs one collection, then freezes
(``gc.freeze``) every object still alive: collections skip them from then on.
Everything created later (the mentions of each poll, their rows, alerts and
drafts) is tracked and collected exactly as before, so nothing the pipeline
does changes; only start-up objects that become garbage while frozen (few:
they were alive at start and are meant to stay) wait until the block ends,
when everything is unfrozen.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def startup_objects_frozen() -> Iterator[int]:
    """Within the block, the objects alive at its start are left out of
    garbage collections; yields how many were frozen. Blocks do not nest:
    leaving one unfreezes everything."""
    gc.collect()
    gc.freeze()
    try:
        yield gc.get_freeze_count()
    finally:
        gc.unfreeze()
