"""`python -m mcnn <step> ...` (or `mcnn <step> ...`): one sub-command per module in `mcnn.steps`.

A step module `mcnn/steps/<name>.py` defines `add_arguments(parser)` and `main(args)`; its
sub-command is `<name>` with underscores written as dashes (`motion_segment` -> `motion-segment`),
and the first line of its docstring is its line in `--help`. Modules are imported only when their
step runs, so a step's heavy imports never slow another (nor `--help`).

Errors end the step with one line and no traceback (`--debug`, anywhere, shows it):
- input on the command line (a bad option, JSON that does not parse, a file that cannot be
  opened): `mcnn <step>: error: ...` or `error: <path>: <problem>`, exit status 2;
- bad data or settings: `error: <path>: <problem>` (DataError) or `error: config key ...`
  (ConfigError), exit status 1.
Called from Python with an explicit `argv`, `main` raises those errors instead.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import logging
import pkgutil
import sys
from pathlib import Path

import mcnn.steps
from mcnn.config import ConfigError
from mcnn.core.io import DataError

#: The steps a user runs; every other step is run by the workflow's rules.
USER_STEPS = ("predict", "config", "results-doc")
#: Options whose value is JSON (the rules pass config sections this way).
JSON_OPTIONS = ("params", "label_params", "classes")
#: Exit status of an error in what was typed on the command line (argparse's).
USAGE_ERROR = 2


def _step_modules() -> dict[str, str]:
    return {
        info.name.replace("_", "-"): f"mcnn.steps.{info.name}"
        for info in pkgutil.iter_modules(mcnn.steps.__path__)
        if not info.name.startswith("_")
    }


def _summary(module: str) -> str:
    """First line of a step module's docstring, read without importing the module."""
    path = Path(mcnn.steps.__path__[0]) / f"{module.rsplit('.', 1)[1]}.py"
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return " ".join(doc.split("\n\n")[0].split())


def package_version() -> str:
    # Imported here: importlib.metadata (and the email package it loads) costs every step's
    # start-up ~20 ms, for `--version` alone.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mcnn")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def usage(steps: dict[str, str]) -> str:
    def block(names) -> list[str]:
        return [f"  {name:16s}{_summary(steps[name])}" for name in names]

    internal = sorted(set(steps) - set(USER_STEPS))
    return "\n".join(
        [
            "usage: mcnn [--debug] <step> [options]     (also: python -m mcnn ...)",
            "       mcnn <step> --help | mcnn --version",
            "",
            "M-CNN (Tokmakov, Alahari & Schmid, ECCV 2016): the workflow's steps.",
            "",
            "steps to run yourself:",
            *block(name for name in USER_STEPS if name in steps),
            "",
            "workflow steps (run by the Snakemake rules, one per rule):",
            *block(internal),
            "",
            "--debug shows the traceback of an error. The workflow itself: snakemake (README.md).",
        ]
    )


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (argparse prints the usage too), exit status 2."""

    def error(self, message: str):
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _check_json(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for dest in JSON_OPTIONS:
        value = getattr(args, dest, None)
        if isinstance(value, str):
            try:
                json.loads(value)
            except json.JSONDecodeError as error:
                option = "--" + dest.replace("_", "-")
                parser.error(f"argument {option}: not valid JSON ({error})")


def main(argv: list[str] | None = None) -> None:
    from_command_line = argv is None
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv or not from_command_line
    argv = [arg for arg in argv if arg != "--debug"]
    steps = _step_modules()
    if argv and argv[0] == "--version":
        print(f"mcnn {package_version()}")
        return
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(steps))
        return
    if argv[0] not in steps:
        sys.stderr.write(f"mcnn: error: unknown step {argv[0]!r} (see mcnn --help)\n")
        sys.exit(USAGE_ERROR)
    module = importlib.import_module(steps[argv[0]])
    parser = _Parser(prog=f"mcnn {argv[0]}", description=module.__doc__)
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    _check_json(parser, args)
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
        sys.stderr.write(f"error: {error.filename}: {error.strerror}\n")
        sys.exit(USAGE_ERROR)
