"""Every prompt node type, rendered with a character counter (one token per character)."""

from __future__ import annotations

import pytest

from jupyter_assist.prompt import (
    BASE,
    PromptTooLarge,
    RenderCache,
    assistant,
    empty,
    first,
    isolate,
    render,
    scope,
    system,
    text,
    user,
)


def chars(s: str) -> int:
    return len(s)


def kept(r, name: str) -> bool:  # type: ignore[no-untyped-def]
    return {n.name: n.kept for n in r.nodes}[name]


def test_text_and_mandatory_root() -> None:
    r = render(scope("a\n", "b\n"), 10, chars)
    assert r.text == "a\nb\n" and r.tokens == 4 and r.cutoff == BASE


def test_scope_absolute_priority_drops_lowest_first() -> None:
    tree = scope("head\n", scope("low\n", p=1, name="low"), scope("high\n", p=5, name="high"))
    assert render(tree, 100, chars).text == "head\nlow\nhigh\n"
    r = render(tree, 12, chars)
    assert r.text == "head\nhigh\n" and r.cutoff == 5
    assert not kept(r, "low") and kept(r, "high")
    assert render(tree, 6, chars).text == "head\n"


def test_relative_priority_and_children_never_outlive_their_scope() -> None:
    tree = scope(
        scope(text("p10\n"), scope("rel-3\n", rel=-3, name="rel"), p=10, name="outer"),
        scope("p8\n", p=8, name="p8"),
        scope(scope("child99\n", p=99, name="child"), p=2, name="parent"),
    )
    r = render(tree, 10, chars)  # room for two short lines
    assert r.text == "p10\np8\n" and r.cutoff == 8
    assert not kept(r, "rel")  # 10 - 3 = 7 < 8
    assert not kept(r, "child")  # its own 99 does not save it from its parent's 2
    assert {n.name: n.priority for n in r.nodes}["rel"] == 7


def test_first_keeps_the_first_surviving_child() -> None:
    tree = scope(
        "x\n",
        first(scope("full text of forty lines\n", p=3), scope("... 40 lines omitted\n", p=6), name="f"),
        scope("other\n", p=5),
    )
    assert render(tree, 33, chars).text == "x\nfull text of forty lines\nother\n"
    r = render(tree, 32, chars)
    assert r.text == "x\n... 40 lines omitted\nother\n" and r.cutoff == 5
    assert render(tree, 28, chars).text == "x\n... 40 lines omitted\n"
    assert render(tree, 5, chars).text == "x\n"


def test_empty_reserves_tokens_without_text() -> None:
    tree = scope("q\n", scope("context\n", p=1), empty(10, name="answer"))
    r = render(tree, 20, chars)
    assert r.text == "q\ncontext\n" and r.tokens == 20 and r.reserved == 10
    r = render(tree, 19, chars)
    assert r.text == "q\n" and r.tokens == 12
    with pytest.raises(PromptTooLarge, match=r"needs 12 tokens \(answer 10\) but the budget is 11 tokens"):
        render(tree, 11, chars)


def test_mandatory_overflow_is_a_clear_error() -> None:
    with pytest.raises(PromptTooLarge) as e:
        render(scope(text("x" * 50, name="cell"), scope("y", p=1)), 10, chars)
    assert e.value.needed == 50 and e.value.budget == 10 and e.value.parts == [("cell", 50)]
    assert "cell 50" in str(e.value)


def test_isolate_renders_on_its_own_budget_and_is_cached() -> None:
    cache = RenderCache()
    inner = [scope(f"line {i}\n", p=10 - i) for i in range(5)]
    tree_a = scope(isolate(14, *inner, name="iso"), scope("volatile one\n", p=1))
    tree_b = scope(isolate(14, *inner, name="iso"), scope("volatile, a different length\n", p=1))
    a = render(tree_a, 100, chars, cache=cache)
    b = render(tree_b, 100, chars, cache=cache)
    assert a.text.startswith("line 0\nline 1\n") and not a.text.startswith("line 0\nline 1\nline 2")
    assert b.text.split("volatile")[0] == a.text.split("volatile")[0]  # byte-stable
    assert cache.hits == 1
    # The outer budget never changes what the isolate renders: it is kept whole or dropped.
    tight = render(scope(isolate(14, *inner, p=1), "z\n"), 5, chars, cache=cache)
    assert tight.text == "z\n"
    assert a.nodes[0].name == "iso" and a.nodes[0].kept and a.nodes[0].tokens == 14


def test_include_and_eject_callbacks() -> None:
    seen: list[tuple[str, str]] = []
    tree = scope(
        scope("keep\n", p=5, on_include=lambda n: seen.append(("in", "keep")), on_eject=lambda n: seen.append(("out", "keep"))),
        scope("drop\n", p=1, on_include=lambda n: seen.append(("in", "drop")), on_eject=lambda n: seen.append(("out", "drop"))),
    )
    render(tree, 6, chars)
    assert sorted(seen) == [("in", "keep"), ("out", "drop")]


def template(msgs: list[dict[str, str]]) -> str:
    return "".join(f"<{m['role']}>{m['content']}</>\n" for m in msgs)


def test_messages_render_through_the_template_and_old_turns_drop_first() -> None:
    tree = [
        system("be brief", name="system"),
        user("old question", p=10, name="q1"),
        assistant("old answer", p=10, name="a1"),
        user("new question", name="q2"),
    ]
    r = render(tree, 1000, chars, template=template)
    assert [m["role"] for m in r.messages or []] == ["system", "user", "assistant", "user"]
    assert r.text == template(r.messages or []) and r.tokens == len(r.text)
    small = render(
        tree, len(template([{"role": "system", "content": "be brief"}, {"role": "user", "content": "new question"}])), chars, template=template
    )
    assert [m["content"] for m in small.messages or []] == ["be brief", "new question"]
    assert not kept(small, "q1") and kept(small, "q2")


def test_message_content_scopes_drop_inside_a_kept_message() -> None:
    tree = [user("ask\n", scope("long context\n", p=1), name="u")]
    r = render(tree, len(template([{"role": "user", "content": "ask\n"}])), chars, template=template)
    assert r.messages == [{"role": "user", "content": "ask\n"}]


def test_messages_cannot_nest_and_text_must_sit_inside_them() -> None:
    with pytest.raises(ValueError, match="nest"):
        render([user(user("x"))], 100, chars)
    with pytest.raises(ValueError, match="inside messages"):
        render([user("x"), text("stray")], 100, chars)


def test_inspector_map_reports_tokens_of_kept_and_dropped_nodes() -> None:
    tree = scope(text("abc\n", name="head"), scope(text("12345\n", name="body"), p=1, name="scope"))
    r = render(tree, 4, chars)
    rows = {row["name"]: row for row in r.report()}
    assert rows["head"] == {"name": "head", "kept": True, "tokens": 4, "priority": "mandatory"}
    assert rows["scope"]["kept"] is False and rows["scope"]["tokens"] == 6 and rows["scope"]["priority"] == 1


def test_binary_and_linear_search_agree() -> None:
    tree = scope(*(scope(f"cell {i}\n", p=(i * 37) % 11) for i in range(40)))
    for budget in (0, 7, 50, 120, 400):
        a = render(tree, budget, chars)
        for mode in ("linear", "linear_down"):
            b = render(tree, budget, chars, search=mode)  # type: ignore[arg-type]
            assert (a.text, a.cutoff) == (b.text, b.cutoff)
