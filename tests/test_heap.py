"""brandpulse.heap: start-up objects frozen out of the garbage collector's walks while the service runs."""

from __future__ import annotations

import gc
import weakref

import pytest

from brandpulse.heap import startup_objects_frozen


class Node:
    """A container that refers to itself: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_objects_made_within_the_block_are_collected_as_before():
    with startup_objects_frozen() as frozen:
        assert frozen > 0 and gc.get_freeze_count() > 0
        node = Node()
        ref = weakref.ref(node)
        del node
        gc.collect()
        assert ref() is None
    assert gc.get_freeze_count() == 0


def test_start_up_garbage_waits_for_the_end_of_the_block():
    node = Node()
    ref = weakref.ref(node)
    with startup_objects_frozen():
        del node
        gc.collect()
        assert ref() is not None  # frozen: not walked
    gc.collect()
    assert ref() is None


def test_everything_is_unfrozen_when_the_block_raises():
    with pytest.raises(RuntimeError, match="stop"):
        with startup_objects_frozen():
            raise RuntimeError("stop")
    assert gc.get_freeze_count() == 0
