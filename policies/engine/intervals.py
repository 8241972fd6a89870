"""Interval sets over integers, and the port and address sets built on them.

Addresses of both families live on one integer line: IPv4 a.b.c.d is its 32-bit value, and
IPv6 x is 2**32 + x, so one sorted tuple of intervals holds a mix of the two and the set
algebra never has to ask which family it is looking at.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from .model import PROTOCOLS

__all__ = [
    "IPV4_ALL",
    "IPV6_ALL",
    "MAX_PORT",
    "MIN_PORT",
    "IntervalSet",
    "PortSet",
    "cidr_interval",
    "format_cidrs",
    "format_ip_range",
    "parse_ip_range",
]

MIN_PORT, MAX_PORT = 1, 65535
V6_BASE = 1 << 32
V4_END = V6_BASE - 1
V6_END = V6_BASE + (1 << 128) - 1


def _normalize(items: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(i for i in items if i[0] <= i[1]):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class IntervalSet:
    """A set of integers as sorted, disjoint, non-adjacent closed intervals."""

    intervals: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, items: Iterable[tuple[int, int]]) -> IntervalSet:
        return cls(_normalize(items))

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __or__(self, other: IntervalSet) -> IntervalSet:
        if not other.intervals:
            return self
        if not self.intervals:
            return other
        return IntervalSet(_normalize(self.intervals + other.intervals))

    def __and__(self, other: IntervalSet) -> IntervalSet:
        a, b = self.intervals, other.intervals
        i = j = 0
        out = []
        while i < len(a) and j < len(b):
            lo = max(a[i][0], b[j][0])
            hi = min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return IntervalSet(tuple(out))

    def __sub__(self, other: IntervalSet) -> IntervalSet:
        out = []
        b = other.intervals
        for lo, hi in self.intervals:
            cur = lo
            for blo, bhi in b:
                if bhi < cur:
                    continue
                if blo > hi:
                    break
                if blo > cur:
                    out.append((cur, blo - 1))
                cur = max(cur, bhi + 1)
                if cur > hi:
                    break
            if cur <= hi:
                out.append((cur, hi))
        return IntervalSet(tuple(out))

    def __contains__(self, value: int) -> bool:
        return any(lo <= value <= hi for lo, hi in self.intervals)

    def covers(self, other: IntervalSet) -> bool:
        return not (other - self)

    def size(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.intervals)

    def format_ports(self) -> str:
        return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.intervals)


ALL_PORTS = IntervalSet(((MIN_PORT, MAX_PORT),))
NO_INTERVALS = IntervalSet()


@dataclass(frozen=True, slots=True)
class PortSet:
    """Allowed ports per protocol: a tuple of (protocol, IntervalSet), protocols in PROTOCOLS order.

    Only resolved (numeric) ports live here; named ports are resolved against the destination
    before a PortSet is built.
    """

    by_protocol: tuple[tuple[str, IntervalSet], ...] = ()
    _hash: int = field(default=0, compare=False, repr=False)

    def __hash__(self) -> int:
        # Port sets key the evaluation's caches and group external addresses; computing a
        # nested tuple hash again on every lookup showed up in profiles, so keep it.
        h = self._hash
        if not h:
            h = hash(self.by_protocol) or 1
            object.__setattr__(self, "_hash", h)
        return h

    @classmethod
    def all(cls) -> PortSet:
        return _ALL

    @classmethod
    def none(cls) -> PortSet:
        return _NONE

    @classmethod
    def of(cls, mapping: dict[str, IntervalSet]) -> PortSet:
        return cls(tuple((p, mapping[p]) for p in PROTOCOLS if mapping.get(p)))

    @classmethod
    def parse(cls, text: str) -> PortSet:
        """Parses `tcp-80`, `TCP 80,8080-8090`, `udp` (every UDP port) or `All Connections`."""
        text = text.strip()
        if text.lower() in ("all connections", "all", "*"):
            return _ALL
        out: dict[str, list[tuple[int, int]]] = {}
        proto = None
        for chunk in text.replace(";", ",").split(","):
            chunk = chunk.strip()
            if not chunk:
                continue
            parts = chunk.replace("-", " ", 1).split() if chunk[0].isalpha() else [chunk]
            if parts[0].upper() in PROTOCOLS:
                proto = parts[0].upper()
                rest = chunk[len(parts[0]) :].strip(" -")
                if not rest:
                    out.setdefault(proto, []).append((MIN_PORT, MAX_PORT))
                    continue
                chunk = rest
            if proto is None:
                raise ValueError(f"{text!r}: name a protocol first, like tcp-80 or 'TCP 80'")
            lo, _, hi = chunk.partition("-")
            try:
                a, b = int(lo), int(hi or lo)
            except ValueError:
                raise ValueError(f"{text!r}: {chunk!r} is not a port or port range") from None
            if not (MIN_PORT <= a <= b <= MAX_PORT):
                raise ValueError(f"{text!r}: ports must be within 1-65535")
            out.setdefault(proto, []).append((a, b))
        return cls.of({p: IntervalSet.of(v) for p, v in out.items()})

    def get(self, protocol: str) -> IntervalSet:
        for p, s in self.by_protocol:
            if p == protocol:
                return s
        return NO_INTERVALS

    def __bool__(self) -> bool:
        return bool(self.by_protocol)

    def __or__(self, other: PortSet) -> PortSet:
        if not other.by_protocol or self is _ALL:
            return self
        if not self.by_protocol or other is _ALL:
            return other
        return PortSet.of({p: self.get(p) | other.get(p) for p in PROTOCOLS})

    def __and__(self, other: PortSet) -> PortSet:
        if self is _ALL:
            return other
        if other is _ALL:
            return self
        return PortSet.of({p: self.get(p) & other.get(p) for p in PROTOCOLS})

    def __sub__(self, other: PortSet) -> PortSet:
        return PortSet.of({p: self.get(p) - other.get(p) for p in PROTOCOLS})

    @property
    def is_all(self) -> bool:
        return self is _ALL or all(self.get(p) == ALL_PORTS for p in PROTOCOLS)

    def allows(self, protocol: str, port: int) -> bool:
        return port in self.get(protocol)

    def to_conns(self) -> str | dict[str, str]:
        """The JSON contract's `conns`: "All Connections" or {protocol: "80,8080-8090"}."""
        if self.is_all:
            return "All Connections"
        return {p: s.format_ports() for p, s in self.by_protocol}

    def __str__(self) -> str:
        if self.is_all:
            return "All Connections"
        if not self.by_protocol:
            return "No Connections"
        return ",".join(f"{p} {s.format_ports()}" for p, s in self.by_protocol)


_ALL = PortSet(tuple((p, ALL_PORTS) for p in PROTOCOLS))
_NONE = PortSet(())

IPV4_ALL = IntervalSet(((0, V4_END),))
IPV6_ALL = IntervalSet(((V6_BASE, V6_END),))


@lru_cache(maxsize=4096)
def cidr_interval(cidr: str) -> tuple[int, int]:
    """The closed interval of a CIDR on the shared address line; raises ValueError.

    Kept per text (bounded): a cluster names the same few blocks in thousands of policies,
    and ipaddress parses in Python.
    """
    net = ipaddress.ip_network(cidr.strip(), strict=False)
    lo, hi = int(net.network_address), int(net.broadcast_address)
    if net.version == 6:
        return lo + V6_BASE, hi + V6_BASE
    return lo, hi


def _ip_text(value: int) -> str:
    if value >= V6_BASE:
        return str(ipaddress.IPv6Address(value - V6_BASE))
    return str(ipaddress.IPv4Address(value))


def format_ip_range(lo: int, hi: int) -> str:
    """`first-last`, split at the family boundary if a range spans both."""
    if lo <= V4_END < hi:
        return f"{format_ip_range(lo, V4_END)},{format_ip_range(V6_BASE, hi)}"
    return f"{_ip_text(lo)}-{_ip_text(hi)}"


def format_cidrs(addresses: IntervalSet) -> list[str]:
    """The fewest CIDRs that cover exactly these addresses, as people write them."""
    out: list[str] = []
    for lo, hi in addresses.intervals:
        for start, end, offset, make in (
            (lo, min(hi, V4_END), 0, ipaddress.IPv4Address),
            (max(lo, V6_BASE), hi, V6_BASE, ipaddress.IPv6Address),
        ):
            if start <= end:
                first, last = make(start - offset), make(end - offset)
                out += [str(n) for n in ipaddress.summarize_address_range(first, last)]
    return out


def parse_ip_range(text: str) -> IntervalSet:
    """Parses `a-b`, a CIDR or an address, or several joined with ','."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if "/" in part:
            out.append(cidr_interval(part))
            continue
        first, _, last = part.partition("-") if part.count("-") == 1 else (part, "", part)
        a, b = ipaddress.ip_address(first.strip()), ipaddress.ip_address((last or first).strip())
        off_a = V6_BASE if a.version == 6 else 0
        off_b = V6_BASE if b.version == 6 else 0
        out.append((int(a) + off_a, int(b) + off_b))
    return IntervalSet.of(out)
