"""The settings one command runs with: read once from the environment, then the command's own
options applied on top. The tree is handed to the flows and the warehouse explicitly; nothing
goes back through os.environ."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from warehouse.settings import BadSettings, Settings, get_settings, unused_variables

# Exit status when a CORPUSFLOW_* variable (or .env entry) has a value no setting takes: the
# status of a bad command line, which it is in effect.
EXIT_BAD_SETTINGS = 2

# Warnings and the settings' errors go to stderr, one line each whatever the terminal's width,
# and their values print as given (no markup: '["seeds"]' is not a style).
stderr = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)


def command_settings(args: argparse.Namespace) -> Settings:
    """The settings tree for this command, with `--db` applied when the command has one. Warns
    about each CORPUSFLOW_* variable no setting reads (a misspelt name would leave the setting
    at its default unnoticed); raises BadSettings for values no setting takes."""
    for line in unused_variables():
        stderr.print(f"warning: {line}", style="yellow")
    settings = get_settings()
    if getattr(args, "db", None):
        settings.warehouse.db_path = Path(args.db)
    return settings


def report_bad_settings(bad: BadSettings) -> int:
    """One line per bad setting, in place of pydantic's traceback; the command's exit status."""
    for line in bad.problems:
        stderr.print(line, style="red")
    return EXIT_BAD_SETTINGS
