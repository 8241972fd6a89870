"""Who may see and change a cluster.

The owner and the users a cluster is shared with may see it; the owner and editors may change
it; only the owner may share it. Everyone else is told the cluster does not exist (404), so
cluster ids reveal nothing.
"""

from __future__ import annotations

from enum import IntEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from .models import Cluster, ClusterShare

__all__ = ["Access", "access_for", "get_cluster", "visible_clusters"]


class Access(IntEnum):
    """What a user may do with a cluster, each level including the ones below."""

    NONE = 0
    VIEW = 1
    EDIT = 2
    OWN = 3


def visible_clusters(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Cluster]:
    """The clusters a user owns or that are shared with them."""
    if not user.is_authenticated:
        return Cluster.objects.none()
    return Cluster.objects.filter(Q(owner=user) | Q(shares__user=user)).distinct()


def access_for(user: AbstractBaseUser | AnonymousUser, cluster: Cluster) -> Access:
    """The user's access level to one cluster."""
    if not user.is_authenticated:
        return Access.NONE
    if cluster.owner_id == user.pk:
        return Access.OWN
    role = cluster.shares.filter(user=user).values_list("role", flat=True).first()
    if role == ClusterShare.Role.EDITOR:
        return Access.EDIT
    if role == ClusterShare.Role.VIEWER:
        return Access.VIEW
    return Access.NONE


def get_cluster(
    user: AbstractBaseUser | AnonymousUser, pk: int, need: Access = Access.VIEW
) -> tuple[Cluster, Access]:
    """Load a cluster the user may access at level `need`.

    Raises Http404 when the user may not see it at all, PermissionDenied (403) when they may
    see it but not do what they asked.
    """
    cluster = Cluster.objects.select_related("owner").filter(pk=pk).first()
    access = Access.NONE if cluster is None else access_for(user, cluster)
    if cluster is None or access == Access.NONE:
        raise Http404("No such cluster")
    if access < need:
        raise PermissionDenied("Your access to this cluster does not allow this")
    return cluster, access
