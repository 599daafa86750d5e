"""Tables 1/2-style IoU table (CSV, Markdown, PNG) from tagged evaluate-voc results."""

from __future__ import annotations

import argparse

from mcnn.evaluation import tables


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", nargs="+", required=True, help="evaluate-voc result JSONs")
    parser.add_argument("--output-csv", required=True, help="table as CSV")
    parser.add_argument("--output-md", required=True, help="table as Markdown, with notes")
    parser.add_argument("--output-png", required=True, help="table as a picture")
    parser.add_argument("--output-bars", help="per-class bar chart (PNG)")
    parser.add_argument(
        "--protocol", choices=["subset", "all"], default="subset", help="VOC protocol to tabulate"
    )
    parser.add_argument("--note", default="", help="how the setting differs from the paper's")
    parser.add_argument(
        "--no-published",
        dest="published",
        action="store_false",
        help="leave out the paper's rows even where the classes match",
    )


def main(args: argparse.Namespace) -> None:
    tables.run(
        result_paths=args.results,
        output_csv=args.output_csv,
        output_md=args.output_md,
        output_png=args.output_png,
        output_bars=args.output_bars,
        protocol=args.protocol,
        note=args.note,
        published=args.published,
    )
