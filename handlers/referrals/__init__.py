"""Referrals (SPEC §11): the customer's 👥 Referrals screen and the owner's /referrers."""
