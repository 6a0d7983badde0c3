"""The Kaspr dialect: key check, domain patterns, profiles and employees."""

from mailsleuth.api.kaspr import routes
from mailsleuth.api.kaspr.dialect import DIALECT

__all__ = ["DIALECT", "routes"]
