"""The order flow's texts: the catalogue, the service card, the prompts, the confirmation
and the answer to a placed order. Pure functions of their arguments (plus the locale)."""

from __future__ import annotations

from decimal import Decimal

from aiogram import html
from aiogram.utils.i18n import gettext as _

from core.catalog_cache import CategoryView, ServiceView
from core.links import PLATFORM_NAMES, accepts_username, example_host
from core.money import format_money
from core.ordering import OrderDraft, Quote
from core.pricing import input_kind, lines_field
from core.statuses import OrderStatus
from db.models import Order
from handlers.order_views import failure_reason, status_label
from handlers.ui import clip, money_text


def categories_text() -> str:
    return _("🛒 <b>New order</b>\nChoose a category, or type a word to search:")


def no_services_text() -> str:
    return _("No services are available right now. Please come back later.")


def service_button_text(service: ServiceView, currency: str) -> str:
    price = format_money(service.price)
    if service.rate_basis == "flat" or input_kind(service.type) == "package":
        return _("{name} · {price} {currency}").format(
            name=clip(service.name, 40), price=price, currency=currency
        )
    return _("{name} · {price} {currency}/1000").format(
        name=clip(service.name, 40), price=price, currency=currency
    )


def services_text(category: CategoryView) -> str:
    return _("<b>{category}</b>\nChoose a service (price per 1000):").format(
        category=html.quote(category.name)
    )


def yes_no(flag: bool) -> str:
    return _("✅ yes") if flag else _("✖ no")


def service_card(service: ServiceView, currency: str) -> str:
    """Everything a customer needs before ordering, and what to send next."""
    platform = service.category.platform
    kind = input_kind(service.type)
    lines = [
        f"<b>{html.quote(service.name)}</b>",
        _("Service ID: {id}").format(id=service.id),
        _("Price: {price}").format(price=price_text(service, currency)),
    ]
    if kind == "package":
        lines.append(_("One package per order."))
    elif kind == "subscription":
        lines.append(_("Per new post: {min} to {max}").format(min=service.min, max=service.max))
    else:
        lines.append(
            _("Min / max: {min} / {max}").format(min=service.min, max=service.max)
            + (_(" (step {step})").format(step=service.step) if service.step > 1 else "")
        )
    lines.append(
        _("Refill: {refill} · Cancel: {cancel}").format(
            refill=yes_no(service.refill), cancel=yes_no(service.cancel)
        )
    )
    if service.description:
        lines += ["", html.quote(clip(service.description, 1500))]
    if service.dripfeed and kind == "quantity":
        lines.append(_("Drip-feed: available (several runs with a pause between them)."))
    if kind == "subscription":
        lines += [
            "",
            _("Likes or views arrive on each new post of the account."),
            _("👉 Send the account's username (@name or a link to the profile)."),
        ]
        return "\n".join(lines)
    expected = expected_link_text(platform, accepts_username(service.name, platform))
    lines += ["", _("👉 Send {expected}.").format(expected=expected)]
    if kind == "lines":
        lines.append(_("Next you will send the list, one per line."))
    return "\n".join(lines)


def quantity_prompt(service: ServiceView) -> str:
    return _("How many? Send a number {rule}.").format(
        rule=quantity_rule_text(service.min, service.max, service.step)
    )


def lines_prompt(service: ServiceView) -> str:
    if lines_field(service.type) == "usernames":
        return _("Send the usernames, one per line ({min} to {max} lines).").format(
            min=service.min, max=service.max
        )
    return _("Send the comments, one per line ({min} to {max} lines).").format(
        min=service.min, max=service.max
    )


def confirmation_text(q: Quote, draft: OrderDraft, currency: str) -> str:
    lines = [
        _("<b>Please check your order</b>"),
        _("Service: #{id} {name}").format(id=q.service.id, name=html.quote(q.service.name)),
    ]
    if "posts" not in draft.extra:  # a subscription's "link" is its username, shown below
        lines += [
            _("Link: {link}").format(link=html.quote(clip(draft.link, 300))),
            _("Quantity: {quantity}").format(quantity=q.quantity),
        ]
    lines += parent_lines(draft)
    for items in draft.extra.values():
        if not isinstance(items, list):
            continue
        preview = "\n".join(f"• {html.quote(clip(item, 80))}" for item in items[:5])
        more = len(items) - 5
        lines.append(preview + (_("\n…and {count} more").format(count=more) if more > 0 else ""))
    lines += [
        _("Charge: {amount}").format(amount=money_text(q.charge, currency)),
        _("Balance now: {amount}").format(amount=money_text(q.balance, currency)),
    ]
    if q.missing > 0:
        lines += [
            "",
            _("⚠️ Not enough balance: {missing} missing. Top up, then press 🔄 Check again.").format(
                missing=money_text(q.missing, currency)
            ),
        ]
    else:
        lines.append(
            _("Balance after: {amount}").format(amount=money_text(q.balance_after, currency))
        )
    return "\n".join(lines)


def parent_lines(draft: OrderDraft) -> list[str]:
    """What a drip-feed or subscription adds to the confirmation."""
    extra = draft.extra
    if "posts" in extra and "username" in extra:
        expiry = extra.get("expiry") or _("no end date")
        return [
            _("Account: @{username}").format(username=html.quote(str(extra["username"]))),
            _("Per new post: {min} to {max}").format(min=extra["min"], max=extra["max"]),
            _("Posts: {posts} · delay {delay} min · ends: {expiry}").format(
                posts=extra["posts"], delay=extra["delay"], expiry=html.quote(str(expiry))
            ),
            _(
                "Charged for {posts} posts at up to {max} each; posts the provider does not "
                "serve are refunded."
            ).format(posts=extra["posts"], max=extra["max"]),
        ]
    if "runs" in extra:
        return [
            _(
                "Drip-feed: {runs} runs × {quantity}, every {interval} min — {total} in total"
            ).format(
                runs=extra["runs"],
                quantity=draft.quantity,
                interval=extra["interval"],
                total=draft.units,
            )
        ]
    return []


def price_text(service: ServiceView, currency: str) -> str:
    price = format_money(service.price)
    if input_kind(service.type) == "subscription" and service.rate_basis != "flat":
        return _("{price} {currency} per 1000 per post").format(price=price, currency=currency)
    if service.rate_basis == "flat" or input_kind(service.type) == "package":
        return _("{price} {currency} per package").format(price=price, currency=currency)
    return _("{price} {currency} per 1000").format(price=price, currency=currency)


def expected_link_text(platform: str | None, username_ok: bool) -> str:
    """What the link step expects, e.g. "a link to Instagram (instagram.com/…)"."""
    host = example_host(platform)
    name = PLATFORM_NAMES.get(platform or "", "")
    if host and username_ok:
        return _("a link to {platform} ({host}/…) or an @username").format(platform=name, host=host)
    if host:
        return _("a link to {platform} ({host}/…)").format(platform=name, host=host)
    return _("a link (https://…)")


def link_problem_text(problem: str | None, platform: str | None, username_ok: bool) -> str:
    expected = expected_link_text(platform, username_ok)
    if problem == "wrong_platform":
        return _("That link is for another site. This service needs {expected}.").format(
            expected=expected
        )
    if problem == "too_long":
        return _("That link is too long. Send {expected}.").format(expected=expected)
    return _("That does not look like a link. Send {expected}.").format(expected=expected)


def quantity_rule_text(minimum: int, maximum: int, step: int) -> str:
    text = _("from {min} to {max}").format(min=minimum, max=maximum)
    if step > 1:
        text += _(", in steps of {step}").format(step=step)
    return text


def quantity_problem_text(code: str | None, minimum: int, maximum: int, step: int) -> str:
    if code == "below_min":
        return _("The minimum for this service is {min}.").format(min=minimum)
    if code == "above_max":
        return _("The maximum for this service is {max}.").format(max=maximum)
    if code == "step":
        return _("The quantity must be a multiple of {step}.").format(step=step)
    return _("Send the quantity as a whole number, {rule}.").format(
        rule=quantity_rule_text(minimum, maximum, step)
    )


def placed_text(order: Order, currency: str) -> str:
    """The answer to a confirmed order: its number and what happens next, in plain words."""
    return placed_words(
        order.id, order.service.name, order.status, order.error_code, order.refunded, currency
    )


def placed_words(
    order_id: int,
    service_name: str,
    status: str,
    error_code: str | None,
    refunded: Decimal,
    currency: str,
) -> str:
    """placed_text from plain values: also what the confirmation becomes once the provider
    answered (the outbox edits the message with it)."""
    service = html.quote(service_name)
    head = {
        OrderStatus.PENDING: _("✅ Order #{id} placed: {service}.\nStatus: Pending."),
        OrderStatus.QUEUED: _(
            "✅ Order #{id} placed: {service}.\nStatus: Queued, it will be sent shortly."
        ),
        OrderStatus.SUBMITTING: _(
            "✅ Order #{id} placed: {service}.\nStatus: Queued, it will be sent shortly."
        ),
        OrderStatus.MANUAL: _(
            "✅ Order #{id} accepted: {service}.\nIt will be processed manually."
        ),
        OrderStatus.REVIEW: _(
            "🔎 Order #{id} ({service}) is awaiting review.\n"
            "The provider did not answer clearly, so we check it by hand before anything else "
            "happens. You will get a message."
        ),
        OrderStatus.FAILED: _("❌ Order #{id} ({service}) failed: {reason}"),
    }.get(status)  # type: ignore[call-overload]
    if head is None:
        head = _("Order #{id} ({service}).\nStatus: {status}.")
    text = head.format(
        id=order_id,
        service=service,
        status=status_label(status),
        reason=failure_reason(error_code),
    )
    if status == OrderStatus.FAILED and refunded > 0:
        text += "\n" + _("{amount} {currency} was returned to your balance.").format(
            amount=format_money(refunded), currency=currency
        )
    elif status not in (OrderStatus.FAILED, OrderStatus.REVIEW):
        text += "\n" + _("You will get a message on every status change.")
    return text


def stale_text() -> str:
    return _("This order screen is no longer active. Start again with /neworder.")


def unavailable_text() -> str:
    return _("This service is no longer available. Choose another one with /neworder.")


def cancelled_text() -> str:
    return _("Cancelled. Nothing was ordered.")
