"""`GET /v1/doctor`: the `mailsleuth doctor` report over the API, for administrators.

It shows the server's outgoing address and how mail hosts see it, so only an organisation's admins
may run it; the targets come from the settings, never from the request.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from mailsleuth.api.auth import guard, services
from mailsleuth.api.native.dialect import DEFAULT, DIALECT
from mailsleuth.engine.doctor import DoctorConfig, diagnose
from mailsleuth.service.errors import ServiceError
from mailsleuth.store import Principal

router = DIALECT.router(prefix="/v1", tags=["native"])

Caller = Annotated[Principal, Depends(guard(DIALECT, DEFAULT))]


@router.get("/doctor", summary="Can this server verify addresses? Each check with its fix")
async def doctor(request: Request, principal: Caller) -> dict[str, Any]:
    """Port 25 of MAILSLEUTH_DOCTOR_MAIL_HOST, the outgoing address, its reverse DNS and blocklist
    listings (MAILSLEUTH_DOCTOR_BLOCKLISTS), and the MAIL FROM domain's MX and SPF."""
    if not principal.admin:
        raise ServiceError("Only an organisation's administrators may run the doctor.", status=403)
    rt = services(request).runtime
    report = await diagnose(rt.verifier.resolver, DoctorConfig.from_settings(rt.settings))
    return report.to_dict()
