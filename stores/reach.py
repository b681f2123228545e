"""Which hosts a data source may be at: the server's allow-list of host names and networks,
checked against the addresses a host name resolves to.

A data source's URL is typed by whoever owns it, and the server asks it: without a limit, any
user can make Make or Break ask the services of its own network (server-side request forgery),
and read what they answer in "Test connection". The list says where sources may be; the
instance metadata service (169.254.169.254 and the rest of the link-local networks, and EC2's
IPv6 fd00:ec2::254), which hands out the server's own AWS credentials, is refused unless a
network of the list lies within it.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Where a cloud's instance metadata is: never a source's address unless listed by a network within.
METADATA_NETWORKS: tuple[Network, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)
# A host name of the list: "prometheus.internal", or ".example.com" / "*.example.com" for a
# domain and every name under it.
_HOST_NAME = re.compile(r"(\*?\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")


class HostRefusal(StrEnum):
    NOT_LISTED = "not_listed"  # neither its name nor every address it resolves to is in the list
    METADATA = "metadata"  # an address of the instance metadata's networks
    UNRESOLVED = "unresolved"  # its name resolves to no address (it may to another one later)


class NotAllowed(Exception):
    """A host a data source may not be at, why (`refusal`), and the addresses it resolved to."""

    def __init__(self, host: str, refusal: HostRefusal, addresses: Iterable[Address] = ()) -> None:
        self.host, self.refusal, self.addresses = host, refusal, sorted({str(a) for a in addresses})
        super().__init__(f"{host}: {refusal.value} {', '.join(self.addresses)}".strip())


@dataclass(frozen=True)
class AllowedHosts:
    """The list: any host (empty, or "*"), or these host names, domains and networks."""

    any_host: bool = True
    names: frozenset[str] = frozenset()
    domains: tuple[str, ...] = ()  # ".example.com": example.com and the names under it
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowedHosts:
        """The list as the setting gives it (host names, ".domains", CIDR networks or single
        addresses, "*"); raises `ValueError` naming an entry that is none of these."""
        names: set[str] = set()
        domains: list[str] = []
        networks: list[Network] = []
        listed = [entry.strip().lower().rstrip(".") for entry in entries if entry.strip()]
        for entry in listed:
            if entry == "*":
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if not _HOST_NAME.fullmatch(entry):
                raise ValueError(f"not a host name, .domain, network or *: {entry!r}")
            if entry.startswith(("*.", ".")):
                domains.append("." + entry.lstrip("*."))
            else:
                names.add(entry)
        return cls(not listed or "*" in listed, frozenset(names), tuple(domains), tuple(networks))

    def check(self, host: str, *, resolve_names: bool = True) -> None:
        """Raise `NotAllowed` unless a source may be at `host` (a URL's host name or address):
        listed by name (trusted as such, whatever it resolves to), or an address (given, or each
        one its name resolves to) in a listed network, or any address but the metadata's when
        any host is allowed. Without `resolve_names` (a source being saved, with any host
        allowed), a name is not resolved: it is when the source is asked."""
        host = host.strip().lower().rstrip(".").strip("[]")
        if host in self.names or any(host == domain[1:] or host.endswith(domain) for domain in self.domains):
            return
        literal = _address(host)
        if literal is not None:
            addresses = [literal]
        elif self.any_host and not resolve_names:
            return
        else:
            addresses = resolved(host)
            if not addresses:
                raise NotAllowed(host, HostRefusal.UNRESOLVED)
        for address in addresses:
            if any(address in network for network in METADATA_NETWORKS) and not self._lists_within_metadata(address):
                raise NotAllowed(host, HostRefusal.METADATA, addresses)
            if not self.any_host and not any(address in network for network in self.networks):
                raise NotAllowed(host, HostRefusal.NOT_LISTED, addresses)

    def _lists_within_metadata(self, address: Address) -> bool:
        return any(
            address in network
            and any(
                network.version == metadata.version and network.subnet_of(metadata)  # type: ignore[arg-type]
                for metadata in METADATA_NETWORKS
            )
            for network in self.networks
        )


def resolved(host: str) -> list[Address]:
    """The addresses `host` resolves to (none when it does not)."""
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # socket.gaierror is an OSError
        return []
    addresses = {_address(str(info[4][0]).split("%")[0]) for info in found}
    return [address for address in addresses if address is not None]


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # An IPv4 address written as IPv6 (::ffff:169.254.169.254) is that IPv4 address.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
