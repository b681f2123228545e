import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme


class AuthenticatedHttpRequest(HttpRequest):
    """A request that LoginRequiredMiddleware let through: `user` is a real account."""

    user: User


def redirect_back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """Redirect to the form's `next` field when it is a page of this site, else to `fallback`."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect(fallback)


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(request: HttpRequest) -> str:
    """The address of the client that sent `request`, as our own proxies saw it.

    Each proxy appends to X-Forwarded-For the address it got the request from, after
    whatever the client sent there. Walking back from the address that connected to us,
    past our own proxies (`MBREAK_TRUSTED_PROXIES`), the first other address is the
    client's; what lies left of it is the client's to write, and is never read. With no
    trusted proxy, the header is ignored: anyone can send it.
    """
    trusted = _networks(tuple(settings.MBREAK_TRUSTED_PROXIES))
    address = str(request.META.get("REMOTE_ADDR", ""))
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    while _is_within(address, trusted) and forwarded:
        hop = forwarded.pop().strip()
        if not _is_address(hop):  # not written by a proxy of ours: the last proxy's peer is all we know
            break
        address = hop
    return address


def address_is_within(address: str, entries: Iterable[str]) -> bool:
    """Whether `address` is one of `entries`, addresses or networks as a setting names them
    (`MBREAK_METRICS_ALLOWED_ADDRESSES`)."""
    return _is_within(address, _networks(tuple(entries)))


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_within(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    if not _is_address(address):
        return False
    parsed = ipaddress.ip_address(address)
    return any(parsed in network for network in networks)
