"""Link validation: one link per order."""

from __future__ import annotations

from core.links import check_link


def test_whitespace_inside_a_link_is_not_one_link() -> None:
    two = check_link("https://instagram.com/a\nhttps://instagram.com/b", "instagram")
    assert two.link is None and two.problem == "not_a_link"
    assert check_link("instagram.com/a\tb", "instagram").link is None
    assert check_link("  instagram.com/a \n", "instagram").link == "https://instagram.com/a"
