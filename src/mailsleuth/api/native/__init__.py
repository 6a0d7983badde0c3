"""The native API (`/v1/`): finds, verifications, contacts, people, bulk jobs and webhook history."""

from mailsleuth.api.native import doctor, jobs, routes
from mailsleuth.api.native.dialect import DIALECT

__all__ = ["DIALECT", "doctor", "jobs", "routes"]
