"""/settings/tokens/: create a personal API token (shown once), list and revoke them."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from policies.models import ApiToken
from policies.tokens import hash_token

pytestmark = pytest.mark.django_db

URL = "/settings/tokens/"


@pytest.fixture
def browser(client_for, owner):
    return client_for(owner)


def test_a_new_token_is_shown_once_and_stored_as_a_hash(browser, owner):
    response = browser.post(URL, {"name": "ci"})
    [token] = re.findall(r'<pre class="code token">(nvz_[^<]+)</pre>', response.content.decode())
    row = ApiToken.objects.get(user=owner)
    assert (row.name, row.token_hash) == ("ci", hash_token(token))
    # the list shows its name and prefix, never the token again
    later = browser.get(URL)
    assertContains(later, "ci")
    assertContains(later, f"{row.prefix}…")
    assertNotContains(later, token)


def test_the_new_token_works_with_the_api(browser):
    response = browser.post(URL, {"name": "ci"})
    [token] = re.findall(r"(nvz_[A-Za-z0-9_-]{40,})", response.content.decode())[:1]
    api = Client(headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/clusters/").status_code == 200


def test_a_token_needs_a_name(browser):
    response = browser.post(URL, {"name": ""})
    assertContains(response, "This field is required.")
    assert not ApiToken.objects.exists()


def test_revoking_a_token(browser, owner):
    browser.post(URL, {"name": "ci"})
    row = ApiToken.objects.get(user=owner)
    response = browser.post(f"{URL}{row.pk}/delete/")
    assertRedirects(response, URL)
    assert not ApiToken.objects.exists()


def test_nobody_sees_or_revokes_anothers_tokens(client_for, owner, make_user):
    client_for(owner).post(URL, {"name": "olivias"})
    row = ApiToken.objects.get()
    mallory = client_for(make_user("mallory"))
    assertNotContains(mallory.get(URL), "olivias")
    assert mallory.post(f"{URL}{row.pk}/delete/").status_code == 404
    assert ApiToken.objects.filter(pk=row.pk).exists()
