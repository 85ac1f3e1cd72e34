"""Downloads (PDF, HTML, ... of a problem set) rendered in a child process.

typst keeps its caches for the life of the process and the allocator keeps freed
arenas, so a worker that typeset a class's PDFs itself stayed gigabytes larger for
good. A child made per download gives all of it back when it exits. Children come
from a forkserver, a clean process that never ran a Numba thread pool (a gunicorn
worker has one, and forking it would copy its locks in whatever state they were), with
the export modules imported once, so a child starts in milliseconds.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from worksheets import exports

_context = None
_context_lock = threading.Lock()


def _forkserver():
    global _context
    with _context_lock:
        if _context is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["worksheets.exports"])
            _context = ctx
    return _context


def _render(data: dict, formats: list[str], keys: str):
    # ExportError takes its path as a keyword, which pickling an exception loses.
    try:
        return "ok", exports.render_download(data, formats, keys)
    except exports.ExportError as exc:
        return "error", (exc.message, exc.path)


def render_download(data: dict, formats: list[str], keys: str = "combined",
                    niceness: int = 0) -> tuple[str, str, bytes]:
    """exports.render_download(data, formats, keys), run in a fresh child process
    `niceness` lower in priority than this one (typesetting is batch work: the requests
    served beside it come first); raises ExportError as it does, and MemoryError when
    the child died (the kernel's OOM killer ends a child that outgrows the container,
    never the worker)."""
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=_forkserver(),
                                 initializer=os.nice, initargs=(niceness,)) as pool:
            status, result = pool.submit(_render, data, formats, keys).result()
    except BrokenProcessPool:
        raise MemoryError("the export's child process died") from None
    if status == "error":
        message, path = result
        raise exports.ExportError(message, path=path)
    return result
