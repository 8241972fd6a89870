"""`manage.py load_demo USER`: load the demo shop's manifests as USER's cluster "demo-shop"."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from policies import queries, revisions
from policies.errors import InputErrors


class Command(BaseCommand):
    help = "Load the demo cluster (policies/demo/*.yaml) for USER as a cluster named demo-shop."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="user name of the owner")
        parser.add_argument("--name", default=revisions.DEMO_CLUSTER_NAME, help="cluster name")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["user"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        try:
            cluster = revisions.load_demo(user, options["name"])
        except InputErrors as exc:
            raise CommandError(f"the demo manifests cannot be loaded:\n{exc}") from exc
        revision = cluster.head
        counts = queries.revision_counts(revision)
        self.stdout.write(
            f"Loaded {cluster.name} (cluster {cluster.pk}, revision {revision.number}) for "
            f"{username}: {counts['namespaces']} namespaces, {counts['workloads']} workloads, "
            f"{counts['policies']} policies."
        )
