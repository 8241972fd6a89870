"""`manage.py diff OLD_PATH NEW_PATH`: the connectivity change between two manifest sets."""

from __future__ import annotations

import argparse
import sys

from django.core.management.base import BaseCommand

from policies.engine.cli import add_diff_arguments, reader_gone, run_diff


class Command(BaseCommand):
    help = "Connectivity change between two sets of manifests (no database needed)."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_diff_arguments(parser)

    def handle(self, *args: object, **options: object) -> None:
        namespace = argparse.Namespace(
            old=options["old"],
            new=options["new"],
            format=options["format"],
            output=options["output"],
        )
        try:
            code = run_diff(namespace, self.stdout, self.stderr)
        except BrokenPipeError:  # `manage.py ... | head`: the reader has all it wanted
            sys.exit(reader_gone())
        if code:
            sys.exit(code)
