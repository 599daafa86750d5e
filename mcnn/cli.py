"""`python -m mcnn <step> ...`: one sub-command per module in `mcnn.steps`.

A step module `mcnn/steps/<name>.py` defines `add_arguments(parser)` and `main(args)`; its
sub-command is `<name>` with underscores written as dashes (`motion_segment` -> `motion-segment`).
Modules are imported only when their step runs, so a step's heavy imports never slow another.
Bad input ends the step with one line, `error: <path>: <problem>` (DataError, OSError) or
`error: config key ...` (ConfigError), and exit status 1; `--debug` (anywhere) shows the traceback.
Called from Python with an explicit `argv`, `main` raises those errors instead.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

import mcnn.steps
from mcnn.config import ConfigError
from mcnn.core.io import DataError


def _step_modules() -> dict[str, str]:
    return {
        info.name.replace("_", "-"): f"mcnn.steps.{info.name}"
        for info in pkgutil.iter_modules(mcnn.steps.__path__)
        if not info.name.startswith("_")
    }


def main(argv: list[str] | None = None) -> None:
    from_command_line = argv is None
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv or not from_command_line
    argv = [arg for arg in argv if arg != "--debug"]
    steps = _step_modules()
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in steps:
        known = "\n  ".join(sorted(steps))
        msg = f"usage: python -m mcnn [--debug] <step> [options]\n\nsteps:\n  {known}\n"
        if argv and argv[0] not in ("-h", "--help"):
            sys.exit(f"mcnn: unknown step {argv[0]!r}\n\n{msg}")
        print(msg)
        return
    module = importlib.import_module(steps[argv[0]])
    parser = argparse.ArgumentParser(prog=f"mcnn {argv[0]}", description=module.__doc__)
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        module.main(args)
    except (DataError, ConfigError) as error:
        if debug:
            raise
        sys.exit(f"error: {error}")
    except OSError as error:  # a missing or unreadable file named on the command line
        if debug or error.filename is None:
            raise
        sys.exit(f"error: {error.filename}: {error.strerror}")
