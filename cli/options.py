"""The settings one command runs with: read once from the environment, then the command's own
options applied on top. The tree is handed to the flows and the warehouse explicitly; nothing
goes back through os.environ."""

from __future__ import annotations

import argparse
from pathlib import Path

from warehouse.settings import Settings, get_settings


def command_settings(args: argparse.Namespace) -> Settings:
    """The settings tree for this command, with `--db` applied when the command has one."""
    settings = get_settings()
    if getattr(args, "db", None):
        settings.warehouse.db_path = Path(args.db)
    return settings
