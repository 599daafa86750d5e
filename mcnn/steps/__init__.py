"""Pipeline steps: each module is one `python -m mcnn <step>` sub-command (see mcnn.cli)."""
