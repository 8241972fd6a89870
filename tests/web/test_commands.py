"""Management commands: ensure_local_user, load_demo, create_api_token."""

from __future__ import annotations

import json
import stat
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from policies.models import ApiToken, Cluster
from policies.tokens import hash_token

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def credentials(tmp_path, monkeypatch):
    monkeypatch.delenv("NETVIZ_USER", raising=False)
    monkeypatch.delenv("NETVIZ_PASSWORD", raising=False)
    return tmp_path / ".local-credentials"


def test_first_run_creates_the_user_saves_and_prints_the_credentials(credentials):
    out, _ = run("ensure_local_user", "--credentials-file", str(credentials))
    saved = json.loads(credentials.read_text())
    assert saved["username"] == "netviz"
    assert len(saved["password"]) >= 12
    assert f"user: netviz  password: {saved['password']}" in out
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    user = get_user_model().objects.get(username="netviz")
    assert user.check_password(saved["password"])
    # ... and loads the demo cluster for it
    assert Cluster.objects.get(owner=user).name == "demo-shop"


def test_a_second_run_prints_the_same_credentials_and_loads_nothing_more(credentials):
    first, _ = run("ensure_local_user", "--credentials-file", str(credentials))
    second, _ = run("ensure_local_user", "--credentials-file", str(credentials))
    password = json.loads(credentials.read_text())["password"]
    assert f"password: {password}" in first
    assert f"password: {password}" in second
    assert Cluster.objects.count() == 1
    assert get_user_model().objects.count() == 1


def test_name_and_password_may_come_from_the_environment(credentials, monkeypatch):
    monkeypatch.setenv("NETVIZ_USER", "dev")
    monkeypatch.setenv("NETVIZ_PASSWORD", "s3cret-enough")
    out, _ = run("ensure_local_user", "--credentials-file", str(credentials), "--no-demo")
    assert "user: dev  password: s3cret-enough" in out
    assert get_user_model().objects.get(username="dev").check_password("s3cret-enough")
    assert not Cluster.objects.exists()


def test_a_lost_credentials_file_gets_a_fresh_password_that_works(credentials):
    run("ensure_local_user", "--credentials-file", str(credentials), "--no-demo")
    credentials.unlink()
    out, _ = run("ensure_local_user", "--credentials-file", str(credentials), "--no-demo")
    password = json.loads(credentials.read_text())["password"]
    assert "password reset" in out
    assert get_user_model().objects.get(username="netviz").check_password(password)


def test_load_demo_loads_the_demo_shop(make_user):
    make_user("alice")
    out, _ = run("load_demo", "alice")
    cluster = Cluster.objects.get(owner__username="alice", name="demo-shop")
    head = cluster.head
    assert (head.namespaces.count(), head.workloads.count(), head.policies.count()) == (5, 14, 19)
    assert "5 namespaces, 14 workloads, 19 policies" in out
    # the demo's one deliberate mistake shows up as its one warning
    [warning] = head.warnings
    assert "htpp" in warning["message"]


def test_load_demo_needs_an_existing_user():
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        run("load_demo", "ghost")


def test_create_api_token_prints_a_working_token_once(make_user):
    make_user("ci-bot")
    out, err = run("create_api_token", "ci-bot", "--name", "pipeline")
    token = out.strip()
    row = ApiToken.objects.get(user__username="ci-bot")
    assert (row.name, row.token_hash) == ("pipeline", hash_token(token))
    assert "shown once" in err


def test_create_api_token_needs_an_existing_user():
    with pytest.raises(CommandError):
        run("create_api_token", "ghost")
