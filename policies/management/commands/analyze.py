"""`manage.py analyze PATH...`: headless analysis, the same code as the `netviz` script.

Needs no database: it never touches a model, and `requires_system_checks` is off so a
missing or unmigrated database cannot stop it.
"""

from __future__ import annotations

import argparse
import sys

from django.core.management.base import BaseCommand

from policies.engine.cli import add_analyze_arguments, reader_gone, run_analyze


class Command(BaseCommand):
    help = "Allowed connectivity of a set of Kubernetes manifests (no database needed)."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_analyze_arguments(parser)

    def handle(self, *args: object, **options: object) -> None:
        keys = ("paths", "format", "output", "focus_workload", "focus_workload_peer")
        keys += ("focus_direction", "focus_conn", "explain", "quiet", "kustomize")
        namespace = argparse.Namespace(**{k: options[k] for k in keys})
        # `manage.py analyze -` reads the manifest stream from standard input, as netviz does.
        try:
            code = run_analyze(namespace, self.stdout, self.stderr, sys.stdin.buffer)
        except BrokenPipeError:  # `manage.py ... | head`: the reader has all it wanted
            sys.exit(reader_gone())
        if code:
            sys.exit(code)
