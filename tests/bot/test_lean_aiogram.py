"""aiogram's types are built on first use (bot.lean_aiogram): the bot imported, a type nobody
used is still unbuilt; updates, methods and answers come out as aiogram's own eager build makes
them; and where the hook finds aiogram or pydantic unlike it expects, aiogram is built the
stock way."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from aiogram.methods import SendMessage
from aiogram.types import PassportData

from bot import lean_aiogram

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip


async def test_a_type_is_built_only_when_used_and_the_dispatcher_answers(app, chat) -> None:
    assert lean_aiogram.install() is True, lean_aiogram.describe()
    # bot.app is imported and the app built: a type the panel never reads on its own is not.
    assert not PassportData.__pydantic_complete__
    reply = await chat(1001).send("/start")
    assert isinstance(reply.calls[-1], SendMessage)
    assert any("New order" in text for text, _ in reply.buttons())
    passport = PassportData.model_validate(
        {"data": [], "credentials": {"data": "d", "hash": "h", "secret": "s"}}
    )
    assert PassportData.__pydantic_complete__
    assert passport.credentials.hash == "h"


def test_updates_methods_and_answers_match_aiogram_eager_build() -> None:
    roundtrip = "import runpy; runpy.run_module('tests.bot.aiogram_roundtrip', run_name='__main__')"
    lazy = run_python(roundtrip).stdout.splitlines()
    eager = run_python(f"import aiogram; {roundtrip}").stdout.splitlines()
    assert lazy[0] == '{"lazy": true}' and eager[0] == '{"lazy": false}'
    assert len(lazy) > 15
    assert lazy[1:] == eager[1:]


CHECK = """
    from bot import lean_aiogram
    lazy = lean_aiogram.install()
    from aiogram.types import PassportData
    print(lazy, PassportData.__pydantic_complete__)
"""
UNEXPECTED = {
    "aiogram imported first": ("import aiogram", "aiogram was imported before"),
    "another model_rebuild signature": (
        """
        from pydantic import BaseModel
        original = BaseModel.__dict__["model_rebuild"]
        def model_rebuild(cls, **kwargs):
            return original.__func__(cls, **kwargs)
        BaseModel.model_rebuild = classmethod(model_rebuild)
        """,
        "model_rebuild takes no _types_namespace",
    ),
    "aiogram unlike expected after its import": (
        # bot.lean_aiogram loaded without bot/__init__ (which installs at once) to change a check
        """
        import sys, types
        sys.modules["bot"] = types.ModuleType("bot")
        sys.modules["bot"].__path__ = ["bot"]
        import bot.lean_aiogram
        bot.lean_aiogram._unusable = lambda held: "aiogram changed" if held else "no types held"
        """,
        "aiogram changed",
    ),
}


@pytest.mark.parametrize("case", list(UNEXPECTED))
def test_unexpected_aiogram_or_pydantic_falls_back_to_the_stock_build(case: str) -> None:
    before, reason = UNEXPECTED[case]
    setup = "import logging; logging.basicConfig(level=logging.DEBUG, format='%(message)s')"
    done = run_python(f"{setup}\n{textwrap.dedent(before)}\nimport bot\n{textwrap.dedent(CHECK)}")
    assert done.stdout.split() == ["False", "True"]  # not lazy; the type was built at import
    assert "aiogram's types are built eagerly at import: " in done.stderr
    assert reason in done.stderr
