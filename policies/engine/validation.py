"""Names and values checked as the API server checks them (k8s.io/apimachinery validation).

Each function takes a value and returns None when it is valid, or a message saying why not,
worded to follow a located path (`metadata.name: 'a/b' is not a valid name: ...`). The loader
calls them where it reads the value, so that nothing the API server would refuse reaches a
database column (whose sizes these limits also fix: 253 for names, 63 for labels).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import lru_cache, wraps

__all__ = [
    "DNS1123_LABEL_MAX",
    "DNS1123_SUBDOMAIN_MAX",
    "INT32_MAX",
    "LABEL_VALUE_MAX",
    "cidr",
    "dns1123_label",
    "dns1123_subdomain",
    "int32",
    "ip_address",
    "kind_name",
    "label_key",
    "label_value",
    "port_name",
    "storable_name",
]

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63
QUALIFIED_NAME_MAX = 63
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
PORT_NAME_MAX = 15
_SHOWN = 40  # characters of a bad value quoted in a message: a megabyte name is not echoed

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


_MEMO_LONGEST = 320  # a prefixed label key: 253 + '/' + 63; anything longer is refused anyway


def _memoised(maxsize: int) -> Callable[[Callable[..., str | None]], Callable[..., str | None]]:
    """A check remembered for the strings that keep coming back (label keys and values,
    namespace names): each distinct one is checked once. Bounded in number and in length, since
    a web process reads uploads for as long as it lives: a hostile megabyte name is checked
    every time rather than kept."""

    def decorate(check: Callable[..., str | None]) -> Callable[..., str | None]:
        remembered = lru_cache(maxsize=maxsize)(check)

        @wraps(check)
        def memoised(value: str, *args: int) -> str | None:
            if len(value) > _MEMO_LONGEST:
                return check(value, *args)
            return remembered(value, *args)

        return memoised

    return decorate


def _show(value: str) -> str:
    if len(value) > _SHOWN:
        return repr(value[:_SHOWN]) + f"… ({len(value)} characters)"
    return repr(value)


def _too_long(value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"{_show(value)} is too long: must be no more than {limit} characters"
    return None


@_memoised(1024)  # namespace names: the same few on every object
def dns1123_label(value: str) -> str | None:
    """A namespace name (RFC 1123 label): at most 63 lowercase letters, digits and '-'."""
    if problem := _too_long(value, DNS1123_LABEL_MAX):
        return problem
    if not _DNS1123_LABEL.fullmatch(value):
        return (
            f"{_show(value)} is not a valid RFC 1123 label: lowercase letters, digits and '-',"
            " starting and ending with a letter or digit (e.g. 'my-name')"
        )
    return None


def dns1123_subdomain(value: str) -> str | None:
    """An object name (RFC 1123 subdomain): at most 253 characters, dot-separated labels."""
    if problem := _too_long(value, DNS1123_SUBDOMAIN_MAX):
        return problem
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        return (
            f"{_show(value)} is not a valid name: lowercase letters, digits, '-' and '.',"
            " starting and ending with a letter or digit (an RFC 1123 subdomain, e.g."
            " 'example.com')"
        )
    return None


def kind_name(value: str) -> str | None:
    """A kind, as custom resources name them: letters and digits, at most 63 (the API server
    requires the lower-cased kind to be an RFC 1035 label)."""
    if problem := _too_long(value, DNS1123_LABEL_MAX):
        return problem
    if "-" in value or not _DNS1035_LABEL.fullmatch(value.lower()):
        return f"{_show(value)} is not a valid kind: letters and digits, starting with a letter"
    return None


# Label keys and values repeat across a cluster (`app`, `kubernetes.io/metadata.name`, the same
# app names in every environment).
@_memoised(4096)
def label_key(value: str) -> str | None:
    """A label key: an optional DNS subdomain prefix and '/', then a name of at most 63
    characters (letters, digits, '-', '_', '.'; starting and ending with a letter or digit)."""
    prefix, slash, name = value.rpartition("/")
    if slash:
        if not prefix:
            return f"{_show(value)} is not a valid label key: the prefix before '/' is empty"
        if problem := dns1123_subdomain(prefix):
            return f"the prefix of label key {_show(value)}: {problem}"
    if not name:
        return f"{_show(value)} is not a valid label key: the name part is empty"
    if len(name) > QUALIFIED_NAME_MAX:
        return (
            f"label key {_show(value)} is too long: the name part must be no more than"
            f" {QUALIFIED_NAME_MAX} characters"
        )
    if not _QUALIFIED_NAME.fullmatch(name):
        return (
            f"{_show(value)} is not a valid label key: letters, digits, '-', '_' and '.',"
            " starting and ending with a letter or digit, with an optional DNS prefix and '/'"
        )
    return None


@_memoised(4096)
def label_value(value: str) -> str | None:
    """A label value: empty, or at most 63 letters, digits, '-', '_' and '.', starting and
    ending with a letter or digit."""
    if not value:
        return None
    if problem := _too_long(value, LABEL_VALUE_MAX):
        return f"label value {problem}"
    if not _QUALIFIED_NAME.fullmatch(value):
        return (
            f"{_show(value)} is not a valid label value: empty, or letters, digits, '-', '_'"
            " and '.', starting and ending with a letter or digit"
        )
    return None


def int32(value: int, minimum: int = INT32_MIN) -> str | None:
    """A 32-bit signed integer field (replicas, counts), at least `minimum`."""
    if not minimum <= value <= INT32_MAX:
        return f"{value} is out of range: must be between {minimum} and {INT32_MAX}"
    return None


@_memoised(1024)  # container port names: `http`, `metrics` on every workload
def port_name(value: str) -> str | None:
    """A named port (IANA_SVC_NAME): 1-15 lowercase letters, digits and '-', at least one
    letter, no '--', not starting or ending with '-'."""
    if (
        len(value) > PORT_NAME_MAX
        or not _PORT_NAME.fullmatch(value)
        or "--" in value
        or not re.search("[a-z]", value)
    ):
        return (
            f"{_show(value)} is not a valid port name (1-15 lowercase letters, digits and '-',"
            " at least one letter)"
        )
    return None


def ip_address(value: str) -> str | None:
    """An IPv4 or IPv6 address, without a zone (`%eth0`)."""
    if "%" in value:
        return f"{_show(value)} is not a valid IP address: zones ('%...') are not allowed"
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"{_show(value)} is not a valid IP address"
    return None


def cidr(value: str) -> str | None:
    """A CIDR such as `10.0.0.0/8` or `fd00::/8` (host bits may be set, as the API server
    allows); no zone, and the prefix length is required."""
    text = value.strip()
    if "%" in text:
        return f"{_show(value)} is not a valid CIDR: zones ('%...') are not allowed"
    _, slash, prefix = text.partition("/")
    if not slash or not prefix.isascii() or not prefix.isdigit():
        return f"{_show(value)} is not a valid CIDR: expected an address and a prefix length"
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return f"{_show(value)} is not a valid CIDR"
    return None


@_memoised(1024)  # likewise for the namespace of every object
def storable_name(value: str, limit: int = DNS1123_SUBDOMAIN_MAX) -> str | None:
    """What any name must be to be stored and addressed (in a URL, as `namespace/name`):
    not empty, at most `limit` characters, no '/', no whitespace or control character.

    Names the API server would refuse but that pass this (`allow_all`, `Prod`) are analysed
    with a warning, as the reference analyzers analyse them: a reviewer's manifests may come
    from anywhere, and the answer for them is still well defined.
    """
    if problem := _too_long(value, limit):
        return problem
    if not value:
        return "must not be empty"
    # One pass in C over the whole name: the only character that is whitespace yet printable
    # is the ASCII space (checked over every code point), so this is "no whitespace and no
    # control character" without a Python-level loop per character.
    if "/" in value or " " in value or not value.isprintable():
        return f"{_show(value)} cannot name an object: no '/', spaces or control characters"
    return None
