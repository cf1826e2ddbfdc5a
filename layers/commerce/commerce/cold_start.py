"""A function's cold start without the cyclic garbage collector.

Loading a handler (about 700 modules: botocore, Powertools, pydantic, the domain, the store)
allocates several hundred thousand objects that live as long as the container. Python's
collector runs by allocation count, so it passes over that growing heap more than a hundred
times during the import and frees nothing: about 15 % of a function's import and init
(``tests/bench/cold_start.py``).

Each handler module imports this module first (its own import section, ``pyproject.toml``):
that holds the collector. The handler's last line calls :func:`init_done`, which moves
everything the imports and the init made into the permanent generation (``gc.freeze``), so no
later collection scans it again, and lets the collector run for what requests allocate.
Reference counting frees objects as always; only a reference cycle among the objects made
before ``init_done`` would be kept, and module-level objects live for the whole container
anyway. Only the first ``init_done`` after the hold ends it: a process that loads handlers again
later (the tests do) neither holds the collector nor freezes what it has made since.
"""

from __future__ import annotations

import gc

#: A caller that had already turned the collector off (a profiler, a test) keeps it off.
_COLLECTING_BEFORE = gc.isenabled()
_held = True
gc.disable()


def init_done() -> None:
    """Call at the end of a handler module, once its imports and module-level init are done."""
    global _held
    if not _held:
        return
    _held = False
    gc.freeze()
    if _COLLECTING_BEFORE:
        gc.enable()
