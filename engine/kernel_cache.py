"""Where Numba keeps the compiled kernels: one directory per version of everything
compiled into them, decided once, before any kernel is defined.

Numba's cache (`cache=True`) is invalidated only by a change to the file that defines
the cached function itself; its documentation lists changes to functions or globals of
other files as a limitation. Our kernels compile in the op cases of engine/vm/cases.py,
the ops of engine/ops.py and the exp and log of engine/vmath.py, the row addresses of
engine/vm/addresses.py, the emitter of engine/lowering.py and, in engine/spec_bulk.py's
item table, the column numbers `vm.C_*` of engine/vm/kernels.py: reordering those
columns under a warm cache once loaded a stale item table and segfaulted. So the cache
directory is named for a hash of every such source and of the numba and llvmlite
versions: a process whose sources match the cache's loads every
kernel without compiling, any other compiles into a directory of its own, and stale
machine code is never loaded.

The directory is `gradsheet-<hash>` under NUMBA_CACHE_DIR when that is set (Docker
sets it), else under engine/__pycache__, or, where that cannot be written (a read-only
site-packages, another user's install), under the user's cache directory
(platformdirs); a temporary directory of this process's own is the last resort, so
importing the engine never fails for want of a cache. It is handed to Numba as
`numba.config.CACHE_DIR`, the setting NUMBA_CACHE_DIR fills, which Numba reads when a
`cache=True` function is decorated. engine/__init__.py imports this module before
any module that defines a kernel.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import pathlib
import shutil
import tempfile

import llvmlite
import numba

_ENGINE = pathlib.Path(__file__).parent

# Every source whose functions or module-level values are compiled into a cached kernel.
SOURCES = ("ops.py", "vmath.py", "lowering.py", "spec_bulk.py", "vm/*.py", "conv/*.py")


def sources(engine_dir: pathlib.Path = _ENGINE) -> list[pathlib.Path]:
    """The files of SOURCES in the package at `engine_dir`, in a fixed order."""
    return sorted(path for pattern in SOURCES for path in engine_dir.glob(pattern))


def cache_key(engine_dir: pathlib.Path = _ENGINE) -> str:
    """A hash of the sources' names and contents and of the numba and llvmlite versions."""
    digest = hashlib.sha256(f"numba {numba.__version__} llvmlite {llvmlite.__version__}\n".encode())
    for path in sources(engine_dir):
        digest.update(path.relative_to(engine_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def cache_dir(key: str | None = None) -> pathlib.Path:
    """The preferred directory for the kernels of `key` (default: the sources as they
    are now): under NUMBA_CACHE_DIR when set, else beside the package."""
    base = os.environ.get("NUMBA_CACHE_DIR") or _ENGINE / "__pycache__"
    return pathlib.Path(base) / f"gradsheet-{key or cache_key()}"


def user_cache_dir(key: str | None = None) -> pathlib.Path:
    """Where the kernels of `key` go when the preferred directory cannot be written."""
    import platformdirs
    return platformdirs.user_cache_path("gradsheet") / "numba" / f"gradsheet-{key or cache_key()}"


def _writable(path: pathlib.Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            return True
    except OSError:
        return False


def _use_cache_dir() -> pathlib.Path:
    key = cache_key()
    for path in (cache_dir(key), user_cache_dir(key)):
        if _writable(path):
            break
    else:
        # Numba would fall back to a directory keyed by each file's own source alone,
        # which is the stale cache this module exists to avoid: compile into a
        # directory of this process's own instead.
        temporary = tempfile.mkdtemp(prefix="gradsheet-numba-")
        atexit.register(shutil.rmtree, temporary, ignore_errors=True)
        path = pathlib.Path(temporary) / f"gradsheet-{key}"
        path.mkdir()
    numba.config.CACHE_DIR = str(path)
    return path


CACHE_DIR = _use_cache_dir()

# Written by a warm-up (service/warmup.py) once every kernel it runs is in CACHE_DIR.
# The directory is named for the sources, so the mark is never stale; a process that
# finds it loads every kernel, one that does not will compile.
_WARM_MARK = "warm"


def is_warm(path: pathlib.Path = CACHE_DIR) -> bool:
    """Whether a warm-up has filled `path`: without it, a first kernel call compiles."""
    return (path / _WARM_MARK).is_file()


def mark_warm(path: pathlib.Path = CACHE_DIR) -> None:
    (path / _WARM_MARK).write_text("every kernel of service/warmup.py is cached here\n")
