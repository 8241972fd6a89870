"""`manage.py create_api_token USER [--name N]`: print a new API token, once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from policies.tokens import create_token


class Command(BaseCommand):
    help = "Create a personal API token for USER and print it (it is stored only as a hash)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="user name of the token's owner")
        parser.add_argument("--name", default="cli", help="a name to tell the token apart")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["user"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        _, token = create_token(user, options["name"])
        # Only the token on stdout, so that `TOKEN=$(manage.py create_api_token me)` works.
        self.stdout.write(token)
        self.stderr.write(f"Created token {options['name']!r} for {username}; it is shown once.")
