"""Sharing a cluster from its page: the owner adds, changes and removes viewers and editors."""

from __future__ import annotations

import pytest
from pytest_django.asserts import assertContains, assertRedirects

from policies.models import ClusterShare

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def browser(client_for, owner):
    return client_for(owner)


@pytest.fixture
def share_url(shop_cluster):
    return f"/clusters/{shop_cluster.pk}/shares/"


def test_sharing_with_a_user_gives_them_a_role(browser, shop_cluster, share_url, make_user):
    vera = make_user("vera")
    response = browser.post(share_url, {"username": "vera", "role": "viewer"}, follow=True)
    assertRedirects(response, f"/clusters/{shop_cluster.pk}/")
    assertContains(response, "vera now has viewer access to shop.")
    assert ClusterShare.objects.get(cluster=shop_cluster).user == vera


def test_sharing_again_changes_the_role(browser, shop_cluster, share_url, make_user):
    make_user("vera")
    browser.post(share_url, {"username": "vera", "role": "viewer"})
    browser.post(share_url, {"username": "vera", "role": "editor"})
    assert ClusterShare.objects.get(cluster=shop_cluster).role == "editor"


def test_htmx_swaps_only_the_share_panel(browser, share_url, make_user):
    make_user("vera")
    response = browser.post(share_url, {"username": "vera", "role": "editor"}, headers=HTMX)
    page = response.content.decode()
    assert page.lstrip().startswith('<section class="card" id="share-panel"')
    assert "<html" not in page
    assert "vera now has editor access to shop." in page
    assert '<span class="tag">editor</span>' in page


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("nobody", "There is no user named &#x27;nobody&#x27;."),  # a typo must not fail silently
        ("olivia", "The owner already has full access."),
    ],
)
def test_bad_share_requests_show_an_error(browser, shop_cluster, share_url, username, message):
    response = browser.post(share_url, {"username": username, "role": "viewer"}, headers=HTMX)
    assertContains(response, message)
    assert not ClusterShare.objects.exists()


def test_removing_a_share_takes_access_away(browser, client_for, shop_cluster, make_user):
    vera = make_user("vera")
    share = ClusterShare.objects.create(cluster=shop_cluster, user=vera, role="viewer")
    assert client_for(vera).get(f"/clusters/{shop_cluster.pk}/").status_code == 200
    response = browser.post(f"/clusters/{shop_cluster.pk}/shares/{share.pk}/delete/", headers=HTMX)
    assertContains(response, "vera no longer has access to shop.")
    assert client_for(vera).get(f"/clusters/{shop_cluster.pk}/").status_code == 404


def test_sharing_needs_post(browser, share_url):
    assert browser.get(share_url).status_code == 405
