"""Personal API tokens: creation, hashing and lookup.

A token is `nvz_` followed by 43 URL-safe random characters (256 bits). The database holds only
its SHA-256, so a leaked database does not leak working tokens; a plain hash (no salt, no slow
KDF) suffices because the token is random, not a password someone chose.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from .models import ApiToken

__all__ = ["TOKEN_PREFIX", "create_token", "hash_token", "user_for_token"]

TOKEN_PREFIX = "nvz_"
# Writing last_used on every request would turn each API read into a write; a minute is
# precise enough to tell a token in use from a forgotten one.
LAST_USED_GRANULARITY = timedelta(minutes=1)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns the row and the token, which is never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user, name=name, token_hash=hash_token(token), prefix=token[:10]
    )
    return row, token


def user_for_token(token: str) -> AbstractBaseUser | None:
    """The active user a token belongs to, or None; records when the token was last used."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = ApiToken.objects.select_related("user").filter(token_hash=hash_token(token)).first()
    if row is None or not row.user.is_active:
        return None
    now = timezone.now()
    if row.last_used is None or now - row.last_used > LAST_USED_GRANULARITY:
        ApiToken.objects.filter(pk=row.pk).update(last_used=now)
    return row.user
