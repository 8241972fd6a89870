"""Interval, port and address sets."""

from __future__ import annotations

import pytest

from policies.engine.intervals import IntervalSet, PortSet, cidr_interval, format_ip_range


def test_interval_set_algebra() -> None:
    a = IntervalSet.of([(1, 5), (10, 20)])
    b = IntervalSet.of([(4, 12)])
    assert (a | b).intervals == ((1, 20),)
    assert (a & b).intervals == ((4, 5), (10, 12))
    assert (a - b).intervals == ((1, 3), (13, 20))
    assert IntervalSet.of([(1, 2), (3, 4)]).intervals == ((1, 4),)  # adjacent ranges merge


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tcp-80", "TCP 80"),
        ("TCP 80,8080-8090", "TCP 80,8080-8090"),
        ("udp-53", "UDP 53"),
        ("sctp", "SCTP 1-65535"),
        ("All Connections", "All Connections"),
    ],
)
def test_port_set_parse(text: str, expected: str) -> None:
    assert str(PortSet.parse(text)) == expected


def test_port_set_parse_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="name a protocol"):
        PortSet.parse("80")
    with pytest.raises(ValueError, match="1-65535"):
        PortSet.parse("tcp-0")


def test_port_set_conns_contract() -> None:
    ports = PortSet.parse("TCP 80,8080-8090") | PortSet.parse("udp-53")
    assert ports.to_conns() == {"TCP": "80,8080-8090", "UDP": "53"}
    assert PortSet.all().to_conns() == "All Connections"


def test_addresses_of_both_families_share_one_line() -> None:
    lo4, hi4 = cidr_interval("10.0.0.0/8")
    lo6, hi6 = cidr_interval("2001:db8::/32")
    assert hi4 < lo6
    assert format_ip_range(lo4, hi4) == "10.0.0.0-10.255.255.255"
    assert format_ip_range(lo6, hi6) == "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
