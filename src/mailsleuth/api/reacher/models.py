"""Reacher's request and response bodies as pydantic models, fields in Reacher's (serde) order."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

Reachable = Literal["safe", "risky", "invalid", "unknown"]


class CheckEmailRequest(BaseModel):
    """Unknown keys (older clients' `gmail_verif_method`, `retries`, ...) are ignored, as upstream."""

    model_config = ConfigDict(extra="ignore")

    to_email: str
    from_email: str | None = None
    hello_name: str | None = None
    smtp_port: int | None = Field(None, ge=1, le=65535)
    proxy: dict[str, Any] | None = None


class EachEmail(BaseModel):
    url: str
    headers: dict[str, str]
    extra: Any = None


class BulkWebhook(BaseModel):
    on_each_email: EachEmail | None = None


class BulkRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input: list[str]
    webhook: BulkWebhook | None = None


class Duration(BaseModel):
    secs: int
    nanos: int


class CoreError(BaseModel):
    type: str
    message: Any


class ErrorBlock(BaseModel):
    """A step that failed; `description` is left out, not null, when there is none."""

    error: CoreError
    description: Literal["IpBlacklisted", "NeedsRDNS"] | None = None

    @model_serializer(mode="wrap")
    def _without_empty_description(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("description") is None:
            data.pop("description", None)
        return data


class Misc(BaseModel):
    is_disposable: bool = False
    is_role_account: bool = False
    is_b2c: bool = False
    gravatar_url: str | None = None
    haveibeenpwned: bool | None = None


class Mx(BaseModel):
    accepts_mail: bool = False
    records: list[str] = Field(default_factory=list)


class Smtp(BaseModel):
    can_connect_smtp: bool = False
    has_full_inbox: bool = False
    is_catch_all: bool = False
    is_deliverable: bool = False
    is_disabled: bool = False


class Syntax(BaseModel):
    address: str | None
    domain: str
    is_valid_syntax: bool
    username: str
    normalized_email: str | None
    suggestion: str | None


class SmtpSettings(BaseModel):
    from_email: str
    hello_name: str
    proxy: str | None = None
    smtp_port: int
    smtp_timeout: Duration | None = None
    retries: int = 1


class VerifMethod(BaseModel):
    """`{"type": "Skipped"}` alone, or the host and settings of an SMTP check."""

    type: Literal["Smtp", "Api", "Headless", "Skipped"]
    host: str | None = None
    verif_method: SmtpSettings | None = None

    @model_serializer(mode="wrap")
    def _only_smtp_has_details(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return data if self.type == "Smtp" else {"type": data["type"]}


class DebugSmtp(BaseModel):
    verif_method: VerifMethod


class Debug(BaseModel):
    backend_name: str
    server_name: str  # v0.9's name of backend_name, still required by older typed clients
    start_time: datetime
    end_time: datetime
    duration: Duration
    smtp: DebugSmtp


class CheckEmailOutput(BaseModel):
    input: str
    is_reachable: Reachable
    misc: Misc | ErrorBlock
    mx: Mx | ErrorBlock
    smtp: Smtp | ErrorBlock
    syntax: Syntax
    debug: Debug


class BulkJob(BaseModel):
    job_id: int


class Summary(BaseModel):
    total_safe: int
    total_risky: int
    total_invalid: int
    total_unknown: int


class BulkProgress(BaseModel):
    job_id: int
    created_at: datetime
    finished_at: datetime | None
    total_records: int
    total_processed: int
    summary: Summary
    job_status: Literal["Running", "Completed"]


class BulkResults(BaseModel):
    results: list[CheckEmailOutput | None]
