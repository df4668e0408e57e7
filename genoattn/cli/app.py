"""The ``genoattn`` typer app: registers one thin function per command, turns errors into one line.

Each command module builds a typed config from its options and calls the library; user mistakes
surface as :class:`GenoattnError`, printed as ``error: <file>: <problem>`` with exit code 2.
"""

from __future__ import annotations

import os
import sys

import typer

from genoattn.errors import GenoattnError

app = typer.Typer(
    name="genoattn",
    help="Attention models that learn allele interactions (epistasis) from genotypes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    # every --help shows the defaults, on lines up to 100 columns wide
    context_settings={"show_default": True, "max_content_width": 100, "terminal_width": 100},
)


@app.callback()
def _root() -> None:
    """Attention models that learn allele interactions (epistasis) from genotypes and sequences."""


def _register() -> None:
    # Imported here so that `genoattn --help` stays fast and each command owns its module.
    from genoattn.cli import bench, export, fit, merge, report, scan, simulate

    app.command("simulate", no_args_is_help=True)(simulate.simulate)
    app.command("fit", no_args_is_help=True)(fit.fit)
    app.command("predict", no_args_is_help=True)(fit.predict)
    app.command("export", no_args_is_help=True)(export.export)
    app.command("scan", no_args_is_help=True)(scan.scan)
    app.command("merge", no_args_is_help=True)(merge.merge)
    app.command("bench", no_args_is_help=True)(bench.bench)
    app.command("report", no_args_is_help=True)(report.report)


_register()


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code (0 ok, 2 user or usage error, 1 abort).

    Typer handles usage errors itself (standalone mode, exit code 2); a :class:`GenoattnError`
    raised by a command becomes ``error: <file>: <problem>`` on stderr and exit code 2.
    """
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as e:
        code = e.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except GenoattnError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def main() -> None:
    """Console-script entry point.

    Once the command has returned (every file it writes is closed by then) and the output is
    flushed, the process ends with ``os._exit``: the interpreter's teardown of torch's modules
    costs 0.6-0.8 s of every command and does nothing for a process that is about to end. A
    process with child processes or non-daemon threads still alive (Dask, DDP) exits normally,
    so that they are waited for.
    """
    code = run()
    import logging
    import multiprocessing
    import threading

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if multiprocessing.active_children() or any(not t.daemon for t in others):
        sys.exit(code)
    os._exit(code)
