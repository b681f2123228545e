"""Failed logins per account, counted in the shared cache: after `MBREAK_LOGIN_ATTEMPTS`
failures an account refuses logins, even with the right password, until
`MBREAK_LOGIN_LOCKOUT_SECONDS` after the first of them.

Counted per username rather than per address (`mbreak.http.client_address`): an attacker
has many addresses, and an account one name. Should the cache be unreachable, logins are let
through (and that is logged) rather than everyone being locked out.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


def _key(username: str) -> str:
    return "login-failures:" + hashlib.sha256(username.strip().casefold().encode()).hexdigest()


def claim_attempt(username: str) -> bool:
    """Count a log-in attempt on `username`'s account before its password is checked; False
    when the account is locked out. A successful log-in then forgets the count
    (`forget_failures`); a failed one leaves it counted.

    Counted first, with one atomic increment: attempts made at once (an attacker's requests
    in several workers) cannot all pass a check made before any of them had failed.
    """
    key = _key(username)
    try:
        cache.add(key, 0, settings.MBREAK_LOGIN_LOCKOUT_SECONDS)
        attempts = int(cache.incr(key))
    except ValueError:
        return True  # expired between add and incr: the window starts again with the next failure
    except Exception:
        logger.exception("login throttle: cache unreachable, login allowed")
        return True
    return attempts <= settings.MBREAK_LOGIN_ATTEMPTS


def forget_failures(username: str) -> None:
    try:
        cache.delete(_key(username))
    except Exception:
        logger.exception("login throttle: cache unreachable")
