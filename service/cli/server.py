"""`gradsheet serve`: the REST service under gunicorn; `gradsheet warmup`: fill Numba's
on-disk cache (Docker runs it at build time).

`serve` refuses to start without GRADSHEET_SECRET (anyone can forge tokens signed with
the public development secret) and without GRADSHEET_INSTRUCTOR_TOKENS (unless
--no-instructor turns the answer-key endpoints off), unless --dev or
GRADSHEET_ENV=development, which warns at start and signs with the development secret.
"""

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
    serve.add_argument("--dev", action="store_true",
                       help="development mode (also GRADSHEET_ENV=development): start "
                            "without GRADSHEET_SECRET, signing with the public development "
                            "secret, and without instructor tokens; never for students")
    serve.add_argument("--no-instructor", action="store_true",
                       help="serve without instructor access: answer keys, LMS exports and "
                            "trace answer 403, and GRADSHEET_INSTRUCTOR_TOKENS is ignored")
    serve.set_defaults(handler=serve_command)

    warm = subparsers.add_parser(
        "warmup", help="compile the kernels into their cache and exit (it says where: "
                       "under NUMBA_CACHE_DIR when set)")
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
    os.environ.update(service_environment(args, os.environ))
    if args.workers is not None:
        # gunicorn_conf sizes Numba's threads per worker from this.
        os.environ["GRADSHEET_WORKERS"] = str(args.workers)
    argv = gunicorn_argv(args)
    from service.jobs.consumer import start_beside_server
    start_beside_server()
    sys.stdout.flush()
    sys.stderr.flush()
    # exec: gunicorn's master becomes this process, so signals reach it directly.
    os.execv(sys.executable, argv)
    return 0  # not reached


def service_environment(args, environ) -> dict[str, str]:
    """The variables to set for the workers; ValueError when service mode lacks the
    secret or the instructor tokens, with what to set."""
    from service import auth
    from service.config import Settings
    from service.grading_limits import check_limits
    from worksheets.seeding import DEVELOPMENT_SECRET, SECRET_ENV

    dev = args.dev or environ.get("GRADSHEET_ENV", "").strip().lower() == "development"
    updates: dict[str, str] = {}
    secret = environ.get(SECRET_ENV, "")
    make_one = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
    if dev:
        if not secret:
            updates[SECRET_ENV] = DEVELOPMENT_SECRET
    elif not secret:
        raise ValueError(
            f"{SECRET_ENV} is not set. It signs every problem token and decides every "
            f"student's numbers, so set it to a long random string known only to the server "
            f"and the same on every replica (make one with {make_one}). To try gradsheet "
            f"locally, `make run` makes one for you; `gradsheet serve --dev` starts with the "
            f"public development secret.")
    elif secret == DEVELOPMENT_SECRET:
        raise ValueError(f"{SECRET_ENV} is the public development secret from gradsheet's "
                         f"source: anyone could forge tokens. Set a secret of your own (make "
                         f"one with {make_one}), or pass --dev.")
    elif len(secret) < 16:
        raise ValueError(f"{SECRET_ENV} has {len(secret)} characters; use at least 16 (make "
                         f"one with {make_one})")
    if args.no_instructor:
        updates[auth.TOKENS_ENV] = ""
    elif not auth.parse_tokens(environ.get(auth.TOKENS_ENV, "")) and not dev:
        raise ValueError(
            f"{auth.TOKENS_ENV} is not set. Instructors send one of these comma-separated "
            f"tokens as Authorization: Bearer <token> to get answer keys, LMS exports and "
            f"the trace of a leaked sheet (make one with {make_one}). Pass --no-instructor "
            f"to serve without those endpoints.")
    # every setting, checked as the workers will read it (ConfigError names a bad one)
    check_limits(Settings.from_mapping(
        {k: v for k, v in {**environ, **updates}.items() if k.startswith("GRADSHEET_")}))
    if dev:
        bar = "!" * 78
        tokens = "" if environ.get(auth.TOKENS_ENV) and not args.no_instructor else (
            f" With no {auth.TOKENS_ENV}, answer keys and trace answer 403.")
        print(f"{bar}\ngradsheet serve: DEVELOPMENT MODE. "
              + ("Problem tokens are signed with the PUBLIC development secret: anyone can "
                 "forge a token and read any student's answers. " if not secret else "")
              + f"Never serve students from this.{tokens}\n{bar}", file=sys.stderr)
    return updates


def warmup_command(args) -> int:
    from engine import kernel_cache
    from service.warmup import EXPECTED_SECONDS, KERNELS, fill_cache
    where = kernel_cache.CACHE_DIR
    if kernel_cache.is_warm():
        print(f"gradsheet warmup: kernels already compiled in {where}")
        return 0
    print(f"gradsheet warmup: compiling {len(KERNELS)} kernels into {where} (about "
          f"{EXPECTED_SECONDS} s, once) ... ", end="", flush=True)
    filled = fill_cache()
    print(f"done in {filled.seconds:.1f} s")
    return 0
