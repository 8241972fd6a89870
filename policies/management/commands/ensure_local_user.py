"""`manage.py ensure_local_user`: the account `make run` logs you in with.

First run: creates the user (name and password from NETVIZ_USER / NETVIZ_PASSWORD, else
"netviz" and a random password), writes both to `.local-credentials` (mode 600, gitignored)
and loads the demo cluster. Later runs print the same credentials again from that file.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from policies import revisions
from policies.errors import InputErrors

DEFAULT_USERNAME = "netviz"


def read_credentials(path: Path) -> tuple[str, str] | None:
    """The (user, password) saved by an earlier run, or None."""
    try:
        data = json.loads(path.read_text())
        return str(data["username"]), str(data["password"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_credentials(path: Path, username: str, password: str) -> None:
    """Save the credentials readable by their owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"username": username, "password": password}, handle)
        handle.write("\n")
    os.chmod(path, 0o600)  # O_CREAT's mode does not apply to a file that already existed


class Command(BaseCommand):
    help = "Create the local user on first run, print its credentials, load the demo cluster."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--credentials-file",
            type=Path,
            default=None,
            help="where to keep the credentials (default: .local-credentials in the project)",
        )
        parser.add_argument("--no-demo", action="store_true", help="do not load the demo")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["credentials_file"] or Path(settings.BASE_DIR) / ".local-credentials"
        saved = read_credentials(path)
        env_user = os.environ.get("NETVIZ_USER", "").strip()
        env_password = os.environ.get("NETVIZ_PASSWORD", "")
        username = env_user or (saved[0] if saved else DEFAULT_USERNAME)
        if env_password:
            password = env_password
        elif saved and saved[0] == username:
            password = saved[1]
        else:
            password = secrets.token_urlsafe(12)

        User = get_user_model()
        with transaction.atomic():
            user = User.objects.filter(username=username).first()
            created = user is None
            reset = False
            if created:
                # The local user administers its own instance, so it may use /admin/ too.
                user = User.objects.create_superuser(username=username, password=password)
            elif env_password or not user.check_password(password):
                # The password on file (or in the environment) is the one printed: make it true.
                user.set_password(password)
                user.save(update_fields=["password"])
                reset = True
        write_credentials(path, username, password)

        if not options["no_demo"] and not user.clusters.exists():
            try:
                cluster = revisions.load_demo(user)
            except InputErrors as exc:
                self.stderr.write(f"The demo cluster could not be loaded:\n{exc}")
            else:
                self.stdout.write(f"Loaded the demo cluster {cluster.name!r}.")

        verb = "Created" if created else "Local"
        note = " (password reset to this one)" if reset else ""
        self.stdout.write(
            self.style.SUCCESS(f"{verb} user: {username}  password: {password}{note}")
            + f"\n(saved in {path})"
        )
        if not user.is_active:
            raise CommandError(f"the user {username!r} exists but is not active")
