"""The native API (`/v1/`): finds, verifications, contacts, people, bulk jobs and uploads, domain search,
lists, the account and its keys, and webhook history."""

from mailsleuth.api.native import account, doctor, domains, history, jobs, lists, routes, uploads
from mailsleuth.api.native.dialect import DIALECT

__all__ = ["DIALECT", "account", "doctor", "domains", "history", "jobs", "lists", "routes", "uploads"]
