"""What the provider commands answer: usages, failures in plain words, balance and
/check lines. Pure functions of their arguments (plus the locale)."""

from __future__ import annotations

from typing import Any

from aiogram import html
from aiogram.utils.i18n import gettext as _

from core import fx, health
from core.catalog import CatalogError
from core.provider_accounts import ProviderAccountError
from db.models import Provider
from handlers.admin.common import amount, usage
from handlers.ui import inline
from providers import (
    ApiError,
    NonJSONResponse,
    ProviderError,
    RateLimited,
    TransportError,
)
from providers.client import DEFAULT_CONCURRENCY, DEFAULT_RATE

ERRORS_SHOWN = 20


def addprovider_usage() -> str:
    return usage(
        "/addprovider NAME API_URL API_KEY [LOW_BALANCE_THRESHOLD]",
        _("Example: <code>/addprovider main https://panel.example/api/v2 KEY 10</code>"),
        _("Try the built-in demo provider: <code>/addprovider demo demo demo</code>"),
    )


def providerset_usage() -> str:
    return usage(
        "/providerset NAME on|off|threshold AMOUNT|rate N|concurrency N|fx RATE",
        _("on/off: use the provider or not; threshold: alert when its balance is below AMOUNT."),
        _(
            "fx: for a provider billing in another currency, how much of the panel's currency "
            "one unit of its currency is worth (e.g. <code>/providerset ru fx 0.011</code>)."
        ),
        _(
            "rate: at most N requests per second to this provider (default 5, i.e. 300 a "
            "minute); concurrency: at most N requests at once (default 4)."
        ),
    )


def pace_line(provider: Provider) -> str:
    """The provider's pacing, as /providerset sets it (or the defaults)."""
    rate = provider.rate_per_second or DEFAULT_RATE
    concurrency = provider.concurrency or DEFAULT_CONCURRENCY
    line = _("Pace: {rate} requests/s, {concurrency} at once").format(
        rate=f"{rate:g}", concurrency=concurrency
    )
    if provider.rate_per_second is None and provider.concurrency is None:
        line += " " + _("(default)")
    return line


def failure_text(exc: ProviderError, url: str) -> str:
    """What went wrong with a provider call, in plain words for the owner."""
    message = inline(exc.message, 300)
    if isinstance(exc, ApiError):
        return _("the provider refused the request: {message}").format(message=message)
    if isinstance(exc, NonJSONResponse):
        return _(
            "{url} did not answer like an SMM panel API (HTTP {status}, not JSON). "
            "Check the API URL: it usually ends with /api/v2."
        ).format(url=inline(url, 120), status=exc.status_code)
    if isinstance(exc, RateLimited):
        return _("the provider is limiting our requests; try again in a minute.")
    if isinstance(exc, TransportError):
        return _("could not reach {url}: {message}").format(url=inline(url, 120), message=message)
    return message


def account_error_text(error: ProviderAccountError | CatalogError) -> str:
    """Also words the catalogue's unknown_provider (/import, /map name a provider too)."""
    d = error.details
    texts = {
        "bad_name": _("A provider name is 1-64 letters, digits, dots, dashes or underscores."),
        "bad_url": _("{url} is not an API URL (http:// or https://, or demo).").format(
            url=inline(str(d.get("url")), 120)
        ),
        "bad_threshold": _("The threshold must be a number, 0 or more."),
        "unknown_provider": _("No provider named {name}. See /providers.").format(
            name=inline(str(d.get("name")), 64)
        ),
        "bad_option": providerset_usage(),
        "bad_rate": _("The rate must be a number above 0 and at most {max} (requests/s).").format(
            max=d.get("max")
        ),
        "bad_concurrency": _("The concurrency must be a whole number from 1 to {max}.").format(
            max=d.get("max")
        ),
        "bad_fx": providerset_usage(),
    }
    return texts.get(error.code, error.code)


def currency_line(provider: Provider, currency: str) -> str:
    """How the provider's money converts into the panel's ('' when it needs no rate)."""
    theirs = html.quote(provider.currency or "")
    if fx.same_currency(provider.currency, currency):
        return ""
    if provider.fx_rate is None:
        return "⚠️ " + _(
            "Bills in {theirs}, the panel sells in {ours}: set a rate with "
            "<code>/providerset {name} fx RATE</code> ({ours} per 1 {theirs}) so its prices "
            "and costs can be compared with yours."
        ).format(theirs=theirs, ours=html.quote(currency), name=inline(provider.name, 64))
    return _("Bills in {theirs}: 1 {theirs} = {rate} {ours}.").format(
        theirs=theirs, rate=provider.fx_rate.normalize(), ours=html.quote(currency)
    )


def balance_line(provider: Provider) -> str:
    if provider.balance is None:
        return _("Balance: unknown")
    line = _("Balance: {balance} {currency}").format(
        balance=amount(provider.balance), currency=html.quote(provider.currency or "")
    )
    if provider.low_balance_threshold > 0:
        line += " " + _("(alert below {threshold})").format(
            threshold=amount(provider.low_balance_threshold)
        )
        if provider.balance < provider.low_balance_threshold:
            line += " ⚠️ " + _("LOW")
    return line


def report_header(report: health.ProviderReport) -> str:
    provider = report.provider
    head = f"<b>{inline(provider.name, 64)}</b>"
    if report.balance is not None:
        head += " · " + _("key OK, balance {balance} {currency}").format(
            balance=amount(report.balance.amount),
            currency=html.quote(report.balance.currency or ""),
        )
    return head + " · " + _("{count} services checked").format(count=report.services_checked)


def problem_line(problem: health.Problem) -> str:
    """One line per finding; service names and provider text are escaped."""
    d: dict[str, Any] = dict(problem.details)
    if "service" in d:
        d["service"] = inline(str(d["service"]), 50)
    for key in ("price", "cost", "balance", "threshold"):
        if key in d:
            d[key] = amount(d[key])
    if "per" in d:
        d["per"] = _("package") if d["per"] == "package" else "1000"
    for key in (
        "message",
        "provider",
        "provider_service_id",
        "ours",
        "theirs",
        "currency",
        "provider_currency",
    ):
        if key in d:
            d[key] = inline(str(d[key] or ""), 200)
    texts = {
        "provider_disabled": _(
            "⏸ The provider is disabled but {services} switched-on services are mapped to it: "
            "their orders will wait."
        ),
        "key_refused": _(
            "❌ The provider refused the API key or account: {message}. Next: copy the key "
            "again from the provider's API page and send /addprovider NAME URL NEW_KEY."
        ),
        "unreachable": _(
            "❌ Provider unreachable (no answer): {message}. Next: check the API URL and "
            "whether the provider's site is up; orders wait and are retried."
        ),
        "unreadable": _(
            "❌ The answer was not the SMM API's (a web page or broken data): {message}. "
            "Next: check the API URL (it usually ends with /api/v2); the site may be behind "
            "a captcha or in maintenance."
        ),
        "provider_error": _(
            "❌ The provider answered with an error: {message}. Next: read it, fix it on the "
            "provider's side (or ask their support), then run /check again."
        ),
        "rate_limited": _(
            "⏳ The provider is limiting our requests: {message}. Next: run /check again in a "
            "minute, or lower its pace."
        ),
        "fx_missing": _(
            "⚠️ The provider bills in {provider_currency}, the panel sells in {ours}: prices "
            "cannot be compared. Next: /providerset {provider} fx RATE ({ours} per 1 "
            "{provider_currency})."
        ),
        "low_balance": _(
            "⚠️ Balance {balance} {currency} is below the alert threshold {threshold}."
        ),
        "not_offered": _(
            "❌ #{service_id} {service}: provider service {provider_service_id} is no longer "
            "offered (fix with /map or /service {service_id} off)."
        ),
        "type_mismatch": _(
            "❌ #{service_id} {service}: our type {ours}, the provider's {theirs} "
            "(service {provider_service_id})."
        ),
        "min_below": _(
            "⚠️ #{service_id} {service}: min {ours} is below the provider's min {theirs}."
        ),
        "max_above": _(
            "⚠️ #{service_id} {service}: max {ours} is above the provider's max {theirs}."
        ),
        "price_below_cost": _(
            "💸 #{service_id} {service}: price {price} is below the provider's cost {cost} "
            "(service {provider_service_id}, per {per})."
        ),
        "refill_unsupported": _(
            "⚠️ #{service_id} {service}: promises refill, the provider does not offer it."
        ),
        "cancel_unsupported": _(
            "⚠️ #{service_id} {service}: promises cancel, the provider does not offer it."
        ),
        "unmapped_auto": _(
            "❌ #{service_id} {service}: auto mode but not mapped to a provider (use /map)."
        ),
        "keys_in_clear": _(
            "🔓 {count} provider API keys are stored in clear in the database: set SECRET_KEY "
            "to encrypt them (README, “Provider keys at rest”)."
        ),
    }
    template = texts.get(problem.code)
    return template.format(**d) if template else html.quote(problem.code)
