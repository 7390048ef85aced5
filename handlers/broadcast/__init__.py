"""Broadcasts from the admin console (SPEC §11)."""
