"""A mailsleuth verification in Reacher's output shape, and Reacher's own rule for `is_reachable`.

The same translation serves single checks (a `VerifyResult.to_dict()`) and bulk rows (the bulk
verifier's result fields): the facts Reacher reports that a row does not carry (disposable, role,
free provider) come from the same engine functions the verifier uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mailsleuth.api.reacher.models import (
    CheckEmailOutput,
    CoreError,
    Debug,
    DebugSmtp,
    Duration,
    ErrorBlock,
    Misc,
    Mx,
    Reachable,
    Smtp,
    SmtpSettings,
    Syntax,
    VerifMethod,
)
from mailsleuth.config import Settings
from mailsleuth.engine import domains
from mailsleuth.engine.results import Verdict

BACKEND = "mailsleuth"
NO_MAIL = ("domain_not_found", "null_mx", "no_mail_server")  # settled by DNS: Reacher's "no MX records"
DNS_FAILED = ("dns_servfail", "dns_timeout")  # Reacher's MX lookup error
_TIMEOUTS = ("timeout", "no_mail_host_answered")


def syntax(address: str) -> Syntax:
    try:
        normalised, local, domain = domains.parse_address(address)
    except domains.InvalidAddress:
        return Syntax(address=None, domain="", is_valid_syntax=False, username="", normalized_email=None,
                      suggestion=None)
    return Syntax(address=normalised, domain=domain, is_valid_syntax=True, username=local,
                  normalized_email=normalised, suggestion=domains.suggest(normalised))


def _smtp(result: Mapping[str, Any]) -> Smtp | ErrorBlock:
    verdict, reason = result.get("verdict"), str(result.get("reason") or "")
    if verdict == Verdict.UNKNOWN:
        kind = "Timeout" if any(word in reason for word in _TIMEOUTS) else "AsyncSmtpError"
        code, text = result.get("smtp_code"), result.get("smtp_text")
        message = f"{code} {text}" if code and text else reason
        return ErrorBlock(error=CoreError(type=kind, message=message),
                          description="IpBlacklisted" if reason == "blocked" else None)
    catch_all = bool(result.get("catch_all"))
    return Smtp(
        can_connect_smtp=True,
        has_full_inbox=reason == "mailbox_full",
        is_catch_all=catch_all,
        is_deliverable=catch_all or (verdict in (Verdict.DELIVERABLE, Verdict.RISKY) and reason != "mailbox_full"),
        is_disabled=reason == "mailbox_disabled",
    )


def reachable(misc: Misc, smtp: Smtp | ErrorBlock) -> Reachable:
    """Reacher's `calculate_reachable`: risky before invalid, unknown when SMTP failed."""
    if isinstance(smtp, ErrorBlock):
        return "unknown"
    if misc.is_disposable or misc.is_role_account or smtp.is_catch_all or smtp.has_full_inbox:
        return "risky"
    if not smtp.is_deliverable or not smtp.can_connect_smtp or smtp.is_disabled:
        return "invalid"
    return "safe"


def debug(settings: Settings, started: datetime, ended: datetime, host: str | None) -> Debug:
    """What was used on the wire: the server's own identity and port (a caller cannot change them)."""
    elapsed = max(0.0, (ended - started).total_seconds())
    method = VerifMethod(type="Skipped")
    if host is not None:
        method = VerifMethod(type="Smtp", host=host + ".", verif_method=SmtpSettings(
            from_email=settings.envelope_from,
            hello_name=settings.helo_name,
            smtp_port=settings.smtp_port,
        ))
    return Debug(
        backend_name=BACKEND,
        server_name=BACKEND,
        start_time=started,
        end_time=ended,
        duration=Duration(secs=int(elapsed), nanos=round((elapsed % 1) * 1e9)),
        smtp=DebugSmtp(verif_method=method),
    )


def check_output(
    to_email: str, result: Mapping[str, Any] | None, settings: Settings, started: datetime, ended: datetime
) -> CheckEmailOutput:
    """`result` is None when the syntax is invalid (nothing was checked)."""
    parsed = syntax(to_email)
    if result is None or not parsed.is_valid_syntax:
        return CheckEmailOutput(input=to_email, is_reachable="invalid", misc=Misc(), mx=Mx(), smtp=Smtp(),
                                syntax=parsed, debug=debug(settings, started, ended, None))
    reason = str(result.get("reason") or "")
    hosts = [str(host) for host in result.get("mx_hosts") or []]
    misc = Misc(is_disposable=domains.is_disposable(parsed.domain), is_role_account=domains.is_role(parsed.username),
                is_b2c=domains.is_free_provider(parsed.domain))
    if reason in NO_MAIL:
        return CheckEmailOutput(input=to_email, is_reachable="invalid", misc=Misc(), mx=Mx(), smtp=Smtp(),
                                syntax=parsed, debug=debug(settings, started, ended, None))
    if reason in DNS_FAILED:
        failed = ErrorBlock(error=CoreError(type="ResolveError", message=reason))
        return CheckEmailOutput(input=to_email, is_reachable="unknown", misc=Misc(), mx=failed, smtp=Smtp(),
                                syntax=parsed, debug=debug(settings, started, ended, None))
    smtp = _smtp(result)
    return CheckEmailOutput(
        input=to_email,
        is_reachable=reachable(misc, smtp),
        misc=misc,
        mx=Mx(accepts_mail=bool(hosts), records=[host + "." for host in hosts]),
        smtp=smtp,
        syntax=parsed,
        debug=debug(settings, started, ended, hosts[0] if hosts else None),
    )
