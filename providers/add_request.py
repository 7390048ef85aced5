"""What to order, and the exact ``add`` form fields each service type takes (§5).

Sending a field a type does not define is not harmless: custom comments derive the quantity
from the lines (Q27), packages have none, subscriptions have neither link nor quantity.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from providers.vocab import normalize_service_type

log = logging.getLogger(__name__)

# type → form fields in the order the API documents them ("key", "action", "service" aside).
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "default": ("link", "quantity"),
    "package": ("link",),
    "custom_comments": ("link", "comments"),
    "custom_comments_package": ("link", "comments"),
    "mentions": ("link", "quantity", "usernames"),
    "mentions_with_hashtags": ("link", "quantity", "usernames", "hashtags"),
    "mentions_custom_list": ("link", "usernames"),
    "mentions_hashtag": ("link", "quantity", "hashtag"),
    "mentions_user_followers": ("link", "quantity", "username"),
    "mentions_media_likers": ("link", "quantity", "media"),
    "comment_likes": ("link", "quantity", "username"),
    "comment_replies": ("link", "username", "comments"),
    "poll": ("link", "quantity", "answer_number"),
    "invites_from_groups": ("link", "quantity", "groups"),
    "seo": ("link", "quantity", "keywords"),
    "web_traffic": ("link", "quantity", "country", "device", "type_of_traffic"),
    "subscriptions": ("username", "min", "max", "delay"),
}
# Optional fields, sent only when set.
OPTIONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "subscriptions": ("posts", "old_posts", "expiry"),
}
DRIPFEED_TYPES = frozenset({"default", "web_traffic"})
_LIST_FIELDS = frozenset({"comments", "usernames", "hashtags", "groups", "keywords"})
# Types whose quantity is the number of lines of this list field (Q27).
_COUNTED_BY = {
    "custom_comments": "comments",
    "comment_replies": "comments",
    "mentions_custom_list": "usernames",
}


@dataclass(kw_only=True)
class AddRequest:
    """One order to place. ``service`` is the provider's service id, ``type`` its normalised type.

    For drip-feed, ``quantity`` is per run and ``runs`` × ``quantity`` is the total (Q28).
    ``expiry`` (subscriptions) is sent as given if a string, or as d/m/Y if a date (Q30).
    """

    service: str
    type: str = "default"
    link: str | None = None
    quantity: int | None = None
    runs: int | None = None
    interval: int | None = None
    comments: Sequence[str] | str = field(default_factory=list)
    usernames: Sequence[str] | str = field(default_factory=list)
    hashtags: Sequence[str] | str = field(default_factory=list)
    hashtag: str | None = None
    username: str | None = None
    media: str | None = None
    answer_number: int | str | None = None
    groups: Sequence[str] | str = field(default_factory=list)
    keywords: Sequence[str] | str = field(default_factory=list)
    country: str | None = None
    device: int | str | None = None
    type_of_traffic: int | str | None = None
    google_keyword: str | None = None
    referring_url: str | None = None
    min: int | None = None
    max: int | None = None
    delay: int | None = None
    posts: int | None = None
    old_posts: int | None = None
    expiry: str | date | None = None

    @property
    def normalized_type(self) -> str:
        return normalize_service_type(self.type)

    @property
    def effective_quantity(self) -> int | None:
        """Units of one run: the line count for list-counted types, 1 for packages."""
        kind = self.normalized_type
        if kind in _COUNTED_BY:
            return len(lines(getattr(self, _COUNTED_BY[kind])))
        if kind in ("package", "custom_comments_package"):
            return 1
        if kind == "subscriptions":
            return None
        return self.quantity

    @property
    def total_quantity(self) -> int | None:
        """What is delivered and charged in total: per-run quantity × runs for drip-feed."""
        quantity = self.effective_quantity
        if quantity is not None and self.runs:
            return quantity * self.runs
        return quantity


def lines(value: Sequence[str] | str | None) -> list[str]:
    """A newline list as lines, stripped, blank lines dropped."""
    if value is None:
        return []
    items = value.splitlines() if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


def build_add_form(request: AddRequest) -> dict[str, str]:
    """The exact form fields (besides key) for ``action=add``.

    ValueError if a field the type requires is None (or a list has no non-blank line), if
    runs/interval come alone, or if the type takes no drip-feed: caller bugs, not provider
    answers, so nothing is sent.
    """
    kind = request.normalized_type
    if kind not in TYPE_FIELDS:
        log.warning("unknown service type %r: sending Default fields (link, quantity)", kind)
        kind = "default"
    form: dict[str, str] = {"action": "add", "service": str(request.service).strip()}
    if not form["service"]:
        raise ValueError("service id is required")
    for name in TYPE_FIELDS[kind]:
        value = _field_value(request, name)
        if value is None:
            raise ValueError(f"{name} is required for {kind} services")
        form[name] = value
    if kind == "web_traffic":
        _add_traffic_source(request, form)
    for name in OPTIONAL_FIELDS.get(kind, ()):
        value = _field_value(request, name)
        if value is not None:
            form[name] = value
    if request.runs is not None or request.interval is not None:
        _add_dripfeed(request, kind, form)
    return form


def _field_value(request: AddRequest, name: str) -> str | None:
    value = getattr(request, name)
    if name in _LIST_FIELDS:
        items = lines(value)
        return "\n".join(items) if items else None
    if name == "expiry" and isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if value is None:
        return None
    # An empty link is the provider's to refuse ("Bad link"): it is data, not a missing field.
    return str(value).strip()


def _add_traffic_source(request: AddRequest, form: dict[str, str]) -> None:
    source = form["type_of_traffic"]
    extra = {"1": "google_keyword", "2": "referring_url"}.get(source)
    if extra:
        value = _field_value(request, extra)
        if value is None:
            raise ValueError(f"{extra} is required when type_of_traffic is {source}")
        form[extra] = value


def _add_dripfeed(request: AddRequest, kind: str, form: dict[str, str]) -> None:
    # S4/S6 refuse one without the other; a service type without quantity has no runs.
    if request.runs is None or request.interval is None:
        raise ValueError("drip-feed needs both runs and interval")
    if kind not in DRIPFEED_TYPES:
        raise ValueError(f"{kind} services do not take drip-feed")
    form["runs"] = str(int(request.runs))
    form["interval"] = str(int(request.interval))
