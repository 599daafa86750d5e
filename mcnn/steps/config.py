"""Show the effective configuration of a run, each value with its source (default or file).

The same layering as `snakemake`: the files given with --configfile, merged in order (later
keys win), else the demo's configs/demo.yaml; then the schema's defaults. A run writes the same
text to <results_dir>/config.effective.yaml.
"""

from __future__ import annotations

import argparse
import sys

from mcnn import config as mcnn_config
from mcnn.core.io import atomic_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--configfile",
        action="append",
        default=[],
        metavar="FILE",
        help="config file, as given to snakemake (repeat for several; none = the demo's "
        f"{mcnn_config.DEMO_CONFIG})",
    )
    parser.add_argument("--output", help="write the text here instead of printing it")


def main(args: argparse.Namespace) -> None:
    files = args.configfile or [mcnn_config.DEMO_CONFIG]
    layers = [(path, mcnn_config.read(path)) for path in files]
    config = mcnn_config.layered(layers)
    left_out = mcnn_config.fit_variants(config, layers)
    if left_out:
        print(left_out, file=sys.stderr)
    text = mcnn_config.effective_yaml(config, layers)
    if args.output:
        with atomic_path(args.output) as tmp:
            tmp.write_text(text)
    else:
        sys.stdout.write(text)
