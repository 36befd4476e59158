"""docs/data-quality.md lists every rule, as generated from the rules themselves."""

from __future__ import annotations

from pathlib import Path

from ecomlake.dq.rules import RULES, Kind, rules_markdown

DOC = Path(__file__).resolve().parents[3] / "docs" / "data-quality.md"


def test_the_rule_list_in_the_docs_is_the_generated_one():
    text = DOC.read_text()
    start, end = "<!-- dq-rules:start -->\n", "<!-- dq-rules:end -->"
    embedded = text[text.index(start) + len(start) : text.index(end)]
    assert embedded == rules_markdown(), "regenerate the list with ecomlake.dq.rules.rules_markdown()"


def test_the_generated_list_names_every_rule():
    text = rules_markdown()
    for rule in RULES:
        assert f"#### {rule.table} " in text
        needle = f"`{rule.column}`" if rule.kind is Kind.NOT_NULL else rule.description
        assert needle in text, rule.id
