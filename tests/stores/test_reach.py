"""Where data sources may be (`stores.reach`, pure): the allow-list of host names, domains and
networks, checked against the addresses a name resolves to, and the instance metadata service
refused whatever the list says, unless a network of it lies within."""

from __future__ import annotations

import pytest

from stores.reach import AllowedHosts, HostRefusal, NotAllowed


def refusal(allowed: AllowedHosts, host: str, *, resolve_names: bool = True) -> HostRefusal | None:
    try:
        allowed.check(host, resolve_names=resolve_names)
    except NotAllowed as refused:
        return refused.refusal
    return None


@pytest.mark.parametrize("entries", [[], ["*"], ["", " "]])
def test_an_empty_list_or_a_star_allows_any_host_but_the_metadata_service(entries: list[str]) -> None:
    allowed = AllowedHosts.parse(entries)

    assert refusal(allowed, "127.0.0.1") is None
    assert refusal(allowed, "10.1.2.3") is None
    assert refusal(allowed, "localhost") is None
    assert refusal(allowed, "169.254.169.254") == HostRefusal.METADATA
    assert refusal(allowed, "::ffff:169.254.169.254") == HostRefusal.METADATA  # IPv4 written as IPv6
    assert refusal(allowed, "fd00:ec2::254") == HostRefusal.METADATA
    assert refusal(allowed, "fe80::1") == HostRefusal.METADATA


def test_a_name_is_not_resolved_when_saved_with_any_host_allowed_but_is_when_asked() -> None:
    allowed = AllowedHosts.parse([])

    assert refusal(allowed, "no-such-host.invalid", resolve_names=False) is None
    assert refusal(allowed, "no-such-host.invalid") == HostRefusal.UNRESOLVED


def test_a_listed_name_or_domain_is_trusted_by_name() -> None:
    allowed = AllowedHosts.parse(["prometheus.internal", ".example.com", "*.corp.test"])

    for host in ("prometheus.internal", "PROMETHEUS.internal.", "example.com", "a.b.example.com", "x.corp.test"):
        assert refusal(allowed, host) is None, host
    assert refusal(allowed, "evil-example.com") == HostRefusal.UNRESOLVED  # not under the domain: resolved
    assert refusal(allowed, "127.0.0.1") == HostRefusal.NOT_LISTED


def test_an_address_or_every_address_a_name_resolves_to_must_be_in_a_listed_network() -> None:
    allowed = AllowedHosts.parse(["10.0.0.0/8", "127.0.0.1", "::1"])

    assert refusal(allowed, "10.20.30.40") is None
    assert refusal(allowed, "127.0.0.1") is None
    assert refusal(allowed, "localhost") is None  # 127.0.0.1 (and ::1)
    assert refusal(allowed, "192.168.1.1") == HostRefusal.NOT_LISTED
    assert refusal(allowed, "no-such-host.invalid", resolve_names=False) == HostRefusal.UNRESOLVED


def test_the_metadata_service_is_allowed_only_by_a_network_within_it() -> None:
    assert refusal(AllowedHosts.parse(["0.0.0.0/0"]), "169.254.169.254") == HostRefusal.METADATA
    assert refusal(AllowedHosts.parse(["169.254.170.2/32"]), "169.254.170.2") is None


def test_a_refusal_names_the_host_and_the_addresses_it_resolved_to() -> None:
    with pytest.raises(NotAllowed) as refused:
        AllowedHosts.parse(["10.0.0.0/8"]).check("127.0.0.1")

    assert (refused.value.host, refused.value.addresses) == ("127.0.0.1", ["127.0.0.1"])


@pytest.mark.parametrize("entry", ["http://prometheus.example", "prometheus.example:9090", "10.0.0.0/33", "a b"])
def test_an_entry_that_is_no_host_domain_or_network_is_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="not a host name"):
        AllowedHosts.parse([entry])
