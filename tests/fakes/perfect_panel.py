"""PerfectPanel: the state and answers of a canonical Perfect Panel provider, no HTTP.

FakeProvider (provider_server.py) puts it behind a real loopback server. Kept apart so the
panel's rules (validation texts, charges, what refill/cancel allow) read on their own.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

DEFAULT_SERVICES: list[dict[str, Any]] = [
    {"service": 1, "name": "Instagram Followers", "type": "Default", "category": "Instagram",
     "rate": "0.90", "min": "50", "max": "10000", "refill": True, "cancel": True,
     "dripfeed": True},
    {"service": 2, "name": "Instagram Custom Comments", "type": "Custom Comments",
     "category": "Instagram", "rate": "8", "min": "10", "max": "1500", "refill": False,
     "cancel": True},
    {"service": 3, "name": "Instagram Starter Package", "type": "Package",
     "category": "Packages", "rate": "5.00", "min": "1", "max": "1", "refill": False,
     "cancel": False},
    {"service": 4, "name": "TikTok Views", "type": "Default", "category": "TikTok",
     "rate": "0.05", "min": "100", "max": "1000000", "refill": False, "cancel": False},
    {"service": 5, "name": "Instagram Auto Likes", "type": "Subscriptions",
     "category": "Instagram", "rate": "0.40", "min": "50", "max": "5000", "refill": False,
     "cancel": False},
]  # fmt: skip
_LINE_COUNTED = {"custom comments": "comments", "mentions custom list": "usernames"}


class PerfectPanel:
    """Services, orders, refills and a balance, answering like a PP panel (numbers as strings,
    refusals as ``{"error": ...}``). ``orders[id]`` holds service, link, quantity, status,
    remains, start_count, charge, currency — all strings, as a panel stores them."""

    def __init__(
        self, api_key: str = "test-key", *, balance: Decimal | str = "100.00", currency: str = "USD"
    ) -> None:
        self.api_key = api_key
        self.balance = Decimal(balance)
        self.currency = currency
        self.services: list[dict[str, Any]] = copy.deepcopy(DEFAULT_SERVICES)
        self.orders: dict[str, dict[str, str]] = {}
        self.refills: dict[str, dict[str, str]] = {}
        self.bad_entry_id: str | None = None  # for the bad_entry fault; None: the first id
        self.disabled: set[str] = set()  # service ids switched off here ("Service is disabled")
        self._next_order = 1000
        self._next_refill = 500

    def create_order(
        self, service: int | str = 1, link: str = "https://example.com/p", quantity: int = 100,
        status: str = "Pending", charge: str | None = None,
    ) -> str:  # fmt: skip
        """Seed an order directly (no request recorded, balance untouched); returns its id."""
        order_id = str(self._next_order)
        self._next_order += 1
        rate = Decimal(str((self._service(str(service)) or {}).get("rate", "0")))
        self.orders[order_id] = {
            "service": str(service), "link": link, "quantity": str(quantity),
            "status": status, "remains": str(quantity), "start_count": "0",
            "charge": charge or _fmt(rate * quantity / 1000), "currency": self.currency,
        }  # fmt: skip
        return order_id

    def set_status(
        self, order_id: str, status: str, *, remains: int | str | None = None,
        start_count: int | str | None = None, charge: str | Decimal | None = None,
    ) -> None:  # fmt: skip
        """Change an order as the provider would; values are stored as strings like PP."""
        order = self.orders[str(order_id)]
        order["status"] = status
        for key, value in (("remains", remains), ("start_count", start_count), ("charge", charge)):
            if value is not None:
                order[key] = str(value)

    def set_refill_status(self, refill_id: str, status: str) -> None:
        self.refills[str(refill_id)]["status"] = status

    def answer(self, action: str, form: dict[str, str], *, bad_entry: bool = False) -> Any:
        if form.get("key") != self.api_key:
            return {"error": "Invalid API key"}
        if action == "services":
            return self.services
        if action == "add":
            return self._add(form)
        if action == "status" and "orders" in form:
            return self._multi_status(_ids(form["orders"]), bad_entry)
        if action == "status":
            return self._status(form.get("order", "")) or {"error": "Incorrect order ID"}
        if action == "refill" and "orders" in form:
            answers = [(i, self._refill(i)["refill"]) for i in _ids(form["orders"])]
            return [
                {"order": _num(i), "refill": r if isinstance(r, dict) else _num(r)}
                for i, r in answers
            ]
        if action == "refill":
            answer = self._refill(form.get("order", ""))
            return answer["refill"] if isinstance(answer["refill"], dict) else answer
        if action == "refill_status" and "refills" in form:
            return [
                {"refill": _num(i), "status": self._refill_status(i)} for i in _ids(form["refills"])
            ]
        if action == "refill_status":
            status = self._refill_status(form.get("refill", ""))
            return status if isinstance(status, dict) else {"status": status}
        if action == "cancel":
            ids = _ids(form.get("orders", form.get("order", "")))
            return [{"order": _num(i), "cancel": self._cancel(i)} for i in ids]
        if action == "balance":
            return {"balance": _fmt(self.balance), "currency": self.currency}
        return {"error": "Incorrect request"}

    def _service(self, service_id: str) -> dict[str, Any] | None:
        return next((s for s in self.services if str(s.get("service")) == service_id), None)

    def _add(self, form: dict[str, str]) -> dict[str, Any]:
        service = self._service(form.get("service", ""))
        if service is None:
            return {"error": "Incorrect service ID"}
        if str(service["service"]) in self.disabled:
            return {"error": "Service is disabled"}
        kind = str(service.get("type", "Default")).lower()
        if kind != "subscriptions" and not form.get("link", "").strip():
            return {"error": "Bad link"}
        if ("runs" in form) != ("interval" in form):
            return {"error": "You must fill in the required fields."}
        if "runs" in form and not service.get("dripfeed"):
            return {"error": "This services does not support Dripfeed feature!"}
        if kind in _LINE_COUNTED:
            quantity = len([x for x in form.get(_LINE_COUNTED[kind], "").splitlines() if x.strip()])
        elif kind in ("package", "subscriptions"):
            quantity = 1
        else:  # drip-feed: the quantity is per run, and each run must fit min/max
            quantity = int(form.get("quantity") or 0)
        if kind != "subscriptions":
            if quantity < int(service["min"]):
                return {"error": f"Quantity less than minimal {service['min']}"}
            if quantity > int(service["max"]):
                return {"error": f"Quantity more than maximum {service['max']}"}
        runs = int(form.get("runs") or 1)
        rate = Decimal(str(service["rate"]))
        charge = rate if kind == "package" else rate * quantity * runs / 1000
        if kind == "subscriptions":
            charge = Decimal(0)  # billed per child order, one per post served
        if charge > self.balance:
            return {"error": "Not enough funds on balance"}
        self.balance -= charge
        order_id = self.create_order(
            form["service"], form.get("link", ""), quantity * runs, charge=_fmt(charge)
        )
        order = self.orders[order_id]
        order["fields"] = json.dumps({k: v for k, v in form.items() if k != "key"})
        if "runs" in form:
            order.update(kind="dripfeed", runs=str(runs), runs_done="0", children="")
        elif kind == "subscriptions":
            order.update(kind="subscription", posts_done="0", children="", status="Active")
        return {"order": int(order_id)}

    # --- drip-feed and subscription parents ---------------------------------------------

    def run_dripfeed(self, order_id: str, runs_done: int, status: str = "In progress") -> None:
        """A drip-feed parent has done `runs_done` runs (one child order each); a canceled
        or partial parent gives back the runs it did not do."""
        order = self.orders[str(order_id)]
        runs = int(order["runs"])
        per_run = int(order["quantity"]) // runs
        children = self._children(order, runs_done, order["service"], per_run)
        order.update(runs_done=str(runs_done), children=children, status=status)
        if status in ("Canceled", "Partial"):
            undone = Decimal(order["charge"]) * (runs - runs_done) / runs
            self.balance += undone
            order["charge"] = _fmt(Decimal(order["charge"]) - undone)

    def serve_posts(self, order_id: str, posts_done: int, status: str = "Active") -> None:
        """A subscription served `posts_done` posts: one child order each, billed now at the
        subscription's max per post."""
        order = self.orders[str(order_id)]
        fields = json.loads(order["fields"])
        served = int(order["posts_done"])
        per_post = int(fields["max"])
        rate = Decimal(str((self._service(order["service"]) or {})["rate"]))
        for _ in range(served, posts_done):
            cost = rate * per_post / 1000
            self.balance -= cost
            order["charge"] = _fmt(Decimal(order["charge"]) + cost)
        children = self._children(order, posts_done, order["service"], per_post)
        order.update(posts_done=str(posts_done), children=children, status=status)

    def _children(self, order: dict[str, str], count: int, service: str, quantity: int) -> str:
        ids = [i for i in order["children"].split(",") if i]
        while len(ids) < count:
            child = self.create_order(service, order["link"], quantity, status="Completed")
            self.orders[child]["remains"] = "0"
            ids.append(child)
        return ",".join(ids)

    def _status(self, order_id: str) -> dict[str, Any] | None:
        order = self.orders.get(order_id.strip())
        if order is None:
            return None
        children = [i for i in order.get("children", "").split(",") if i]
        if order.get("kind") == "dripfeed":  # S15: no charge, no remains
            return {"status": order["status"], "runs": order["runs_done"], "orders": children}
        if order.get("kind") == "subscription":
            expiry = json.loads(order["fields"]).get("expiry", "")
            return {
                "status": order["status"], "expiry": expiry, "posts": order["posts_done"],
                "orders": children, "old_orders": [],
            }  # fmt: skip
        keys = ("charge", "start_count", "status", "remains", "currency")
        return {key: order[key] for key in keys}

    def _multi_status(self, ids: list[str], bad_entry: bool) -> dict[str, Any]:
        if len(ids) > 100:
            return {"error": "Incorrect request"}  # PP refuses over-long batches
        bad = (self.bad_entry_id or (ids[0] if ids else None)) if bad_entry else None
        answer: dict[str, Any] = {}
        for order_id in ids:
            status = None if order_id == bad else self._status(order_id)
            answer[order_id] = status or {"error": "Incorrect order ID"}
        return answer

    def _refill(self, order_id: str) -> dict[str, Any]:
        order = self.orders.get(order_id.strip())
        if order is None:
            return {"refill": {"error": "Incorrect order ID"}}
        if not (self._service(order["service"]) or {}).get("refill"):
            return {"refill": {"error": "Refill is disabled for this service"}}
        if order["status"] != "Completed":
            return {"refill": {"error": "The order is not completed"}}
        refill_id = str(self._next_refill)
        self._next_refill += 1
        self.refills[refill_id] = {"order": order_id, "status": "Pending"}
        return {"refill": refill_id}

    def _refill_status(self, refill_id: str) -> str | dict[str, str]:
        refill = self.refills.get(refill_id.strip())
        return refill["status"] if refill else {"error": "Refill not found"}

    def _cancel(self, order_id: str) -> int | dict[str, str]:
        order = self.orders.get(order_id)
        if order is None:
            return {"error": "Incorrect order ID"}
        if not (self._service(order["service"]) or {}).get("cancel"):
            return {"error": "Cancel is disabled for this service"}
        if order.get("kind") == "subscription" and order["status"] == "Active":
            order["status"] = "Canceled"  # billed per post served: nothing to give back
            return 1
        if order.get("kind") == "dripfeed" and order["status"] in ("Pending", "In progress"):
            self.run_dripfeed(order_id, int(order["runs_done"]), "Canceled")
            return 1
        if order["status"] != "Pending":
            return {"error": "Order not eligible for cancellation"}
        # PP takes a ticket and cancels later; the fake does it at once and refunds.
        order.update(status="Canceled", remains=order["quantity"])
        self.balance += Decimal(order["charge"])
        return 1


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _num(order_id: str) -> int | str:
    """PP answers multi refill/cancel with integer ids."""
    return int(order_id) if order_id.isdigit() else order_id


def _fmt(amount: Decimal) -> str:
    return format(amount.normalize(), "f") if amount else "0"
