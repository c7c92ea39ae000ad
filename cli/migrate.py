"""`corpus migrate`: bring the warehouse file to the newest schema without running a flow
(every run also migrates the file it opens)."""

from __future__ import annotations

import argparse

from cli.options import command_settings
from cli.terminal import console


def command_migrate(args: argparse.Namespace) -> int:
    from warehouse.session import migrate_file

    applied = migrate_file(command_settings(args).warehouse)
    console.print(f"applied: {', '.join(applied)}" if applied else "the warehouse is up to date")
    return 0
