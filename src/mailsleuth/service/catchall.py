"""Whether a domain accepts every address (catch-all), as a stored domain fact.

The answer lives in the store's domain state (shared by every process and organisation, expiring
with the cache TTL), so a domain search says it from the stored check rather than from whatever
this process happened to learn. A check the shared verifier already made (during a find, a
verification or a crawl) is stored when first asked for; `check` runs one when none is known.
"""

from __future__ import annotations

from mailsleuth import store
from mailsleuth.service.context import Context
from mailsleuth.store import DomainState


async def known(rt: Context, domain: str) -> DomainState | None:
    """The stored catch-all check of `domain`, storing the verifier's own when only it knows; None
    when nobody has checked yet (or the check expired)."""
    state = await store.get_domain_state(rt.db, domain)
    if state is not None and state.catch_all is not None:
        return state
    learned = rt.verifier.cached_catch_all(domain)
    if learned is None:
        return None
    return await store.save_domain_state(
        rt.db, domain, mx_hosts=state.mx_hosts if state else [], catch_all=learned,
        route_status=state.route_status if state else None, ttl_seconds=int(rt.settings.cache_ttl),
    )


async def check(rt: Context, domain: str) -> DomainState:
    """The stored check, or a new one: one RCPT for an address nobody has at the domain's mail
    server, stored with its MX hosts. `catch_all` stays None when no server answered clearly
    (greylisted, blocked, unreachable) or the domain takes no mail."""
    stored = await known(rt, domain)
    if stored is not None:
        return stored
    probe = await rt.verifier.check_catch_all(domain)
    return await store.save_domain_state(
        rt.db, domain, mx_hosts=[mx.host for mx in probe.route.hosts], catch_all=probe.catch_all,
        route_status=probe.route.status.value, ttl_seconds=int(rt.settings.cache_ttl),
    )
