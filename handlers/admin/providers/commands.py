"""Providers: /addprovider, /providerset, /providers, /check, /errors."""

from __future__ import annotations

from contextlib import suppress
from decimal import Decimal

from aiogram import html
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core import admin_queries, fx, health
from core.provider_accounts import (
    PROVIDER_OPTIONS,
    ProviderAccountError,
    connect_provider,
    mapped_counts,
    search_providers,
    set_provider_option,
)
from handlers.admin.common import amount, answer_long, args_of, to_amount, usage, when
from handlers.admin.providers.texts import (
    ERRORS_SHOWN,
    account_error_text,
    addprovider_usage,
    balance_line,
    currency_line,
    failure_text,
    pace_line,
    problem_line,
    providerset_usage,
    report_header,
)
from handlers.ui import inline
from providers import (
    Balance,
    ProviderError,
    ProviderRegistry,
    is_demo_url,
    mask_secret,
)


async def connect_lines(
    message: Message,
    args: list[str],
    session: AsyncSession,
    registry: ProviderRegistry,
    currency: str,
) -> list[str]:
    """What /addprovider answers (the handler adds the note about the deleted message)."""
    if len(args) not in (3, 4):
        return [addprovider_usage()]
    name, api_url, api_key = args[:3]
    threshold = to_amount(args[3]) if len(args) == 4 else None
    if len(args) == 4 and threshold is None:
        return [addprovider_usage()]
    assert message.from_user is not None
    try:
        result = await connect_provider(
            session,
            registry,
            name,
            api_url,
            api_key,
            admin_id=message.from_user.id,
            threshold=threshold,
        )
    except ProviderAccountError as error:
        return [account_error_text(error) + "\n\n" + addprovider_usage()]
    lines = []
    if result.error is not None:
        lines.append(
            _("❌ Could not connect {name}: {reason}").format(
                name=inline(name, 64), reason=failure_text(result.error, api_url)
            )
        )
        if result.provider is not None:
            lines.append(_("Nothing changed: the provider keeps its current URL and key."))
        else:
            lines.append(_("Nothing was saved. Check the URL and the key and send it again."))
    else:
        provider, balance = result.provider, result.balance
        assert provider is not None and balance is not None
        title = (
            _("✅ Provider {name} connected.")
            if result.created
            else _("✅ Provider {name} updated.")
        )
        lines += [
            title.format(name=f"<b>{inline(provider.name, 64)}</b>"),
            _("Balance: {balance} {currency}").format(
                balance=amount(balance.amount), currency=html.quote(balance.currency or "—")
            ),
            _("Key: {key}").format(key=html.quote(mask_secret(provider.api_key))),
            currency_line(provider, currency),
            _(
                "Next: <code>/import {name} 30</code> imports its services with a 30% markup."
            ).format(name=inline(provider.name, 64)),
        ]
    return [line for line in lines if line]


async def add_provider(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    registry: ProviderRegistry,
    currency: str,
) -> None:
    args = args_of(command)
    lines = await connect_lines(message, args, session, registry, currency)
    if len(args) >= 3 and not is_demo_url(args[1]):
        # The command carries the API key (even when refused): not left in the history.
        with suppress(TelegramAPIError):
            await message.delete()
            lines.append(_("(Your message with the key was deleted from the chat.)"))
    await message.answer("\n".join(lines))


async def provider_set(
    message: Message, command: CommandObject, session: AsyncSession, currency: str
) -> None:
    args = args_of(command)
    if len(args) < 2 or args[1] not in PROVIDER_OPTIONS:
        await message.answer(providerset_usage())
        return
    value: Decimal | None = None
    if args[1] == "fx":
        value = fx.parse_rate(args[2]) if len(args) == 3 else None
        if value is None:
            await message.answer(providerset_usage())
            return
    elif args[1] in ("threshold", "rate", "concurrency"):
        value = to_amount(args[2]) if len(args) == 3 else None
        if value is None:
            await message.answer(providerset_usage())
            return
    elif len(args) != 2:
        await message.answer(providerset_usage())
        return
    assert message.from_user is not None
    try:
        provider = await set_provider_option(
            session, args[0], args[1], value, admin_id=message.from_user.id
        )
    except ProviderAccountError as error:
        await message.answer(account_error_text(error))
        return
    state = _("enabled") if provider.enabled else _("disabled")
    lines = [
        _("Provider {name}: {state}, low-balance alert below {threshold}.").format(
            name=f"<b>{inline(provider.name, 64)}</b>",
            state=state,
            threshold=amount(provider.low_balance_threshold),
        ),
        pace_line(provider),
        currency_line(provider, currency),
    ]
    await message.answer("\n".join(line for line in lines if line))


async def list_providers(
    message: Message, session: AsyncSession, registry: ProviderRegistry, currency: str
) -> None:
    providers = await search_providers(session, None)
    if not providers:
        await message.answer(_("No providers yet.") + "\n\n" + addprovider_usage())
        return
    # Refreshed in place: the rows in `providers` carry the new balances and errors.
    answers = await health.refresh_balances(session, registry, providers)
    counts = await mapped_counts(session)
    lines = [_("<b>Providers</b>")]
    for row in providers:
        total, enabled = counts.get(row.id, (0, 0))
        state = "✅ " + _("enabled") if row.enabled else "⏸ " + _("disabled")
        lines += ["", f"<b>{inline(row.name, 64)}</b> · {state}", balance_line(row)]
        lines.append(pace_line(row))
        if currency_line(row, currency):
            lines.append(currency_line(row, currency))
        answer = answers.get(row.id)
        if isinstance(answer, ProviderError):
            lines.append("❌ " + failure_text(answer, row.api_url))
        elif isinstance(answer, Balance):
            lines.append(_("Checked just now."))
        lines.append(
            _("Services mapped: {total} ({enabled} switched on)").format(
                total=total, enabled=enabled
            )
        )
        if row.last_error:
            lines.append(
                _("Last error: {error} ({when})").format(
                    error=inline(row.last_error, 200), when=when(row.last_error_at)
                )
            )
        lines.append(
            _("URL: {url} · key {key}").format(
                url=inline(row.api_url, 100), key=html.quote(mask_secret(row.api_key))
            )
        )
    await answer_long(message, lines)


async def check(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    registry: ProviderRegistry,
    currency: str,
    admin_ids: frozenset[int],
) -> None:
    args = args_of(command)
    if len(args) > 1:
        await message.answer(usage("/check [NAME]"))
        return
    providers = await search_providers(session, args[0] if args else None)
    if not providers:
        text = (
            account_error_text(ProviderAccountError("unknown_provider", name=args[0]))
            if args
            else _("No providers yet.") + "\n\n" + addprovider_usage()
        )
        await message.answer(text)
        return
    panel_problems = [] if args else await health.panel_problems(session)
    reports = await health.check_all(session, registry, currency=currency, providers=providers)
    await health.raise_alerts(session, admin_ids, reports)
    lines = [_("<b>Auto Order check</b>")]
    for report in reports:
        lines += ["", report_header(report)]
        lines += [problem_line(p) for p in report.problems] or ["✅ " + _("all good")]
    if panel_problems:
        lines += ["", _("<b>Panel</b>")] + [problem_line(p) for p in panel_problems]
    await answer_long(message, lines)


async def errors(message: Message, command: CommandObject, session: AsyncSession) -> None:
    args = args_of(command)
    if len(args) > 1:
        await message.answer(usage("/errors [NAME]"))
        return
    provider_id = None
    if args:
        providers = await search_providers(session, args[0])
        if not providers:
            await message.answer(
                account_error_text(ProviderAccountError("unknown_provider", name=args[0]))
            )
            return
        provider_id = providers[0].id
    rows = await admin_queries.recent_provider_errors(
        session, provider_id=provider_id, limit=ERRORS_SHOWN
    )
    if not rows:
        await message.answer(_("No provider errors recorded."))
        return
    lines = [_("<b>Recent provider errors</b> (newest first)")]
    for error, name in rows:
        order = f" · #{error.order_id}" if error.order_id else ""
        code = f" [{html.quote(error.code)}]" if error.code else ""
        lines.append(
            f"{when(error.created_at)} · <b>{inline(name, 40)}</b> · "
            f"{html.quote(error.action)}{order}{code}: {inline(error.message, 200)}"
        )
    await answer_long(message, lines)
