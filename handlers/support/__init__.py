"""Support tickets in the chat (SPEC §11): the customer's router and the admins' router."""

from handlers.support import admin, customer

__all__ = ["admin", "customer"]
