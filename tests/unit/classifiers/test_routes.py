"""[[routes]] in the landscape file: the account's wiring declared by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from seamscope.classifiers.landscape import LandscapeError, parse_landscape

RULE = """
[[routes]]
kind = "eventbridge-rule"
source = "events:bus/default"
target = "sqs:queue/billing-provider-events"
name = "provider-changed-to-billing"
event_sources = ["providers"]
detail_types = ["ProviderChanged"]

[[routes]]
kind = "sns-subscription"
source = "sns:topic/comms-digests"
target = "sqs:queue/comms-digest-queue"
"""


def test_routes_become_declared_route_records() -> None:
    land = parse_landscape(RULE, Path("seamscope.toml"))
    rule, subscription = land.routes
    assert (rule.route_id, rule.kind, rule.origin) == ("declared:1", "eventbridge-rule", "declared")
    assert (rule.event_sources, rule.detail_types) == (("providers",), ("ProviderChanged",))
    assert rule.pattern == '{"source": ["providers"], "detail-type": ["ProviderChanged"]}'
    assert (subscription.source, subscription.target) == (
        "sns:topic/comms-digests",
        "sqs:queue/comms-digest-queue",
    )
    assert subscription.event_sources is None and subscription.pattern is None
    assert subscription.problem() is None and rule.problem() is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            '[[routes]]\nkind = "sns-subscription"\nsource = "sns:topic/t"\n'
            'target = "sqs:orders"\n',
            "seamscope.toml:4: routes[0].target: 'sqs:orders' is not a node id sns-subscription "
            "may target (sqs:queue/<name>, lambda:function/<name>)",
        ),
        (
            '[[routes]]\nkind = "rule"\nsource = "events:bus/b"\ntarget = "sqs:queue/q"\n',
            "seamscope.toml:2: routes[0].kind: unknown kind 'rule'",
        ),
        (
            '[[routes]]\nkind = "sns-subscription"\nsource = "sns:topic/t"\n'
            'target = "sqs:queue/q"\ndetail_types = ["X"]\n',
            "seamscope.toml:5: routes[0].detail_types: only an eventbridge-rule route has",
        ),
        (
            '[[routes]]\nkind = "sns-subscription"\nsource = "sns:topic/t"\n'
            'target = "sqs:queue/q"\npattern = "{}"\n',
            "seamscope.toml:5: routes[0].pattern: unknown key",
        ),
        (
            '[[routes]]\nkind = "sns-subscription"\nsource = "sns:topic/t"\n',
            "seamscope.toml:1: routes[0]: a route needs 'target'",
        ),
        ('routes = "x"\n', "seamscope.toml:1: routes: expected an array of tables: [[routes]]"),
    ],
)
def test_a_wrong_route_names_file_line_and_key(text: str, error: str) -> None:
    with pytest.raises(LandscapeError) as caught:
        parse_landscape(text, Path("seamscope.toml"))
    assert str(caught.value).startswith(error), str(caught.value)
