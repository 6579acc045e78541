"""The dismiss actions ``actions.dismiss`` asks for, built from the diagnostics alone."""

from __future__ import annotations

from lsprotocol import types

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.server.lsp.actions import ActionRequest, code_actions
from dspy_lsp.server.lsp.convert import PositionCodec, to_diagnostic
from dspy_lsp.server.lsp.dismiss_menu import FALSE_POSITIVE, NOT_NOW, DismissMenu

URI = "file:///ws/mod.py"
TEXT = "def load(path):\n    if path == None:\n        return {}\n    return path\n"
UTF16 = types.PositionEncodingKind.Utf16


def _titles(dismiss: str, apply_edit: bool = True) -> list[str]:
    codec = PositionCodec(TEXT, UTF16)
    analysis = analyze_source(TEXT)
    request = ActionRequest(
        uri=URI,
        text=TEXT,
        document_version=1,
        encoding=UTF16,
        diagnostics=[to_diagnostic(f, codec, 1) for f in analysis.findings],
        only=[],
        document_changes=True,
        dismiss=dismiss,
        apply_edit=apply_edit,
    )
    return [a.title for a in code_actions(request, lambda: analysis)]


def test_the_menu_is_one_action_after_the_fix() -> None:
    assert _titles("menu") == ["DL104: Use an identity comparison", "Dismiss DL104…"]


def test_without_apply_edit_the_menu_falls_back_to_both_actions() -> None:
    """The menu's suppression needs workspace/applyEdit; a client without it gets the edit
    in an action of its own."""
    assert _titles("menu", apply_edit=False) == _titles("all")
    assert _titles("all")[1:] == [
        "Dismiss DL104: false positive (suppress on this line)",
        "Dismiss DL104: not now (hide this session)",
    ]


def test_none_leaves_the_fix_alone() -> None:
    assert _titles("none") == ["DL104: Use an identity comparison"]


def test_the_menus_command_carries_both_dismissals_and_asks_for_them() -> None:
    codec = PositionCodec(TEXT, UTF16)
    analysis = analyze_source(TEXT)
    request = ActionRequest(
        uri=URI,
        text=TEXT,
        document_version=3,
        encoding=UTF16,
        diagnostics=[to_diagnostic(f, codec, 3) for f in analysis.findings],
        only=[],
        document_changes=False,
        dismiss="menu",
    )
    [_, menu_action] = code_actions(request, lambda: analysis)
    menu = DismissMenu.from_args(menu_action.command.arguments)
    assert (menu.rule, menu.document_version) == ("DL104", 3)
    assert menu.false_positive.kind == "dismissed_false_positive"
    assert menu.later.kind == "dismissed_later"
    assert [item.title for item in menu.question().actions] == [FALSE_POSITIVE, NOT_NOW]
    assert menu.suppression(TEXT, 4, UTF16, False) is None  # the document moved on
    edit = menu.suppression(TEXT, 3, UTF16, False)
    [text_edit] = edit.changes[URI]
    assert text_edit.new_text == "  # dspy-lsp: ignore[DL104]"
