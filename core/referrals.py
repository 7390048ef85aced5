"""Referrals: who invited whom, and the referrer's share of the invited customer's top-ups."""

from __future__ import annotations

from decimal import Decimal

PERCENT_KEY = "referral_percent"
ADMIN_TOPUPS_KEY = "referral_admin_topups"


def env_defaults(percent: Decimal, admin_topups: bool) -> dict[str, str]:
    """The environment's referral terms, as panel_settings stores them."""
    return {PERCENT_KEY: f"{percent.normalize():f}", ADMIN_TOPUPS_KEY: "1" if admin_topups else "0"}
