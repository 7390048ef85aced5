"""Payment services outside Telegram: the Crypto Pay (CryptoBot) client and its webhook check.

Like providers/, this package speaks one outside protocol and returns typed results; it
knows nothing of the database or the chat.
"""

from payments.cryptopay import (
    CryptoInvoice,
    CryptoPayClient,
    CryptoPayError,
    CryptoPayUnavailable,
    parse_webhook,
    verify_signature,
)

__all__ = [
    "CryptoInvoice",
    "CryptoPayClient",
    "CryptoPayError",
    "CryptoPayUnavailable",
    "parse_webhook",
    "verify_signature",
]
