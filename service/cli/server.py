"""`gradsheet serve`: the REST service under gunicorn; `gradsheet warmup`: fill Numba's
on-disk cache (Docker runs it at build time)."""

from __future__ import annotations

import os
import sys


def register(subparsers) -> None:
    serve = subparsers.add_parser(
        "serve", help="run the REST API under gunicorn",
        description="Run the REST API under gunicorn with gradsheet's config "
                    "(service/gunicorn_conf.py). Listens on 127.0.0.1:8000 by default.")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=None,
                       help="worker processes (default: the number of cores)")
    serve.add_argument("--threads", type=int, default=None,
                       help="threads per worker (default: 4)")
    serve.set_defaults(handler=serve_command)

    warm = subparsers.add_parser(
        "warmup", help="compile the kernels into Numba's cache (NUMBA_CACHE_DIR) and exit")
    warm.set_defaults(handler=warmup_command)


def gunicorn_argv(args) -> list[str]:
    argv = [sys.executable, "-m", "gunicorn", "--config", "python:service.gunicorn_conf",
            "--bind", f"{args.host}:{args.port}"]
    if args.workers is not None:
        argv += ["--workers", str(args.workers)]
    if args.threads is not None:
        argv += ["--threads", str(args.threads)]
    return argv


def serve_command(args) -> int:
    if args.workers is not None and args.workers < 1:
        raise ValueError("--workers: must be at least 1")
    if args.threads is not None and args.threads < 1:
        raise ValueError("--threads: must be at least 1")
    if args.workers is not None:
        # gunicorn_conf sizes Numba's threads per worker from this.
        os.environ["GRADSHEET_WORKERS"] = str(args.workers)
    argv = gunicorn_argv(args)
    sys.stdout.flush()
    sys.stderr.flush()
    # exec: gunicorn's master becomes this process, so signals reach it directly.
    os.execv(sys.executable, argv)
    return 0  # not reached


def warmup_command(args) -> int:
    from service.warmup import warm_up
    seconds = warm_up()
    print(f"kernels compiled and cached in {seconds:.1f} s")
    return 0
