"""The file that marks a folder as a demo world made by mcnn, which may then be replaced whole.

Light on imports: the workflow checks `demo_world.root` with it when it parses the config.
"""

from __future__ import annotations

from pathlib import Path

MARKER = ".mcnn-demo-world"
MARKER_TEXT = (
    "A demo world made by `python -m mcnn demo-world`; making it again replaces this folder.\n"
)


def replace_problem(folder: Path) -> str | None:
    """Why `folder` must not be replaced by a new demo world, or None: absent, empty or marked."""
    if folder.exists() and not folder.is_dir():
        return "exists and is not a folder: set demo_world.root to another one"
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MARKER).is_file():
        return (
            f"exists and is not a demo world (no {MARKER} file in it): not replacing it; "
            "remove it yourself or set demo_world.root to another folder"
        )
    return None
