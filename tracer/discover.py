"""The account's wiring, read from AWS once: `seamscope discover aws`.

Spans show a producer sending and a consumer receiving, but not always what connects them: the
EventBridge rule between a PutEvents and a queue, the SNS subscription between a topic and a
queue, the event-source mapping that feeds a Lambda function. This module reads them with the
standard AWS credential chain (``AWS_ENDPOINT_URL`` and the region honoured) through read-only
calls only, enforced on every call, and stores them as routes in ``aws_routes``; a rerun
replaces what the last run stored for the same account and region.

boto3 is optional (the ``aws`` extra): it is imported only by `discover`, so the owner can store
routes that another process read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from seamscope.tracer.aws import aws_problem, client_config, read_only_session
from seamscope.tracer.errors import SeamscopeError
from seamscope.tracer.owner import ROUTES_PATH, send_or_write
from seamscope.tracer.schema import AWS_ROUTE_COLUMNS, arrow_schema
from seamscope.tracer.store import Store, transaction

EVENTBRIDGE_RULE = "eventbridge-rule"
SNS_SUBSCRIPTION = "sns-subscription"
LAMBDA_EVENT_SOURCE = "lambda-event-source"
DYNAMODB_STREAM_CONSUMER = "dynamodb-stream-consumer"
KINESIS_CONSUMER = "kinesis-consumer"

_TO_QUEUE_OR_FUNCTION = ("sqs:queue/", "lambda:function/")
ROUTE_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    EVENTBRIDGE_RULE: (
        ("events:bus/",),
        ("sqs:queue/", "lambda:function/", "sns:topic/", "kinesis:stream/", "events:bus/"),
    ),
    SNS_SUBSCRIPTION: (("sns:topic/",), _TO_QUEUE_OR_FUNCTION),
    LAMBDA_EVENT_SOURCE: (("sqs:queue/",), ("lambda:function/",)),
    DYNAMODB_STREAM_CONSUMER: (("dynamodb:stream/",), ("lambda:function/",)),
    KINESIS_CONSUMER: (("kinesis:stream/",), ("lambda:function/",)),
}
"""kind -> (node id prefixes its source may have, prefixes its target may have)."""

ORIGINS = ("discovered", "declared")


@dataclass(frozen=True, slots=True)
class Route:
    """A row of ``aws_routes``: the fields are its columns, in order (tracer/schema.py)."""

    route_id: str
    kind: str
    source: str
    target: str
    event_sources: tuple[str, ...] | None
    detail_types: tuple[str, ...] | None
    name: str | None
    pattern: str | None
    origin: str
    account: str | None
    region: str | None
    discovered_at: datetime | None

    def problem(self) -> str | None:
        """What is wrong with this route, or None: kind, node ids and origin are checked."""
        allowed = ROUTE_KINDS.get(self.kind)
        if allowed is None:
            return f"unknown kind {self.kind!r} (expected one of: {', '.join(ROUTE_KINDS)})"
        sources, targets = allowed
        if not _is_node(self.source, sources):
            return (
                f"source {self.source!r} is not a node id {self.kind} may leave from "
                f"({', '.join(p + '<name>' for p in sources)})"
            )
        if not _is_node(self.target, targets):
            return (
                f"target {self.target!r} is not a node id {self.kind} may go to "
                f"({', '.join(p + '<name>' for p in targets)})"
            )
        if self.origin not in ORIGINS:
            return f"origin {self.origin!r} is neither discovered nor declared"
        return None

    def to_json(self) -> dict[str, Any]:
        """The route as JSON (how it travels to the store's owner)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, datetime):
                value = value.isoformat()
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: object) -> Route:
        """A route from its JSON; ValueError says what is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError("a route must be a JSON object")
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = data.get(f.name)
            if f.name in ("event_sources", "detail_types"):
                if value is not None:
                    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                        raise ValueError(f"{f.name} must be a list of strings")
                    value = tuple(value)
            elif f.name == "discovered_at":
                if value is not None:
                    try:
                        value = datetime.fromisoformat(str(value))
                    except ValueError:
                        raise ValueError(f"discovered_at {value!r} is no ISO time") from None
            elif value is not None and not isinstance(value, str):
                raise ValueError(f"{f.name} must be a string")
            elif value is None and f.name in ("route_id", "kind", "source", "target", "origin"):
                raise ValueError(f"a route needs {f.name}")
            values[f.name] = value
        route = cls(**values)
        problem = route.problem()
        if problem is not None:
            raise ValueError(f"route {route.route_id}: {problem}")
        return route


def _is_node(node: str, prefixes: Sequence[str]) -> bool:
    return any(node.startswith(p) and len(node) > len(p) for p in prefixes)


def node_for_arn(arn: str) -> str | None:
    """The node id of the resource an ARN names (by name, never by address), or None for a kind
    of resource that routes do not join on."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    service, resource = parts[2], parts[5]
    if service == "sqs" and resource:
        return f"sqs:queue/{resource}"
    if service == "sns" and resource and ":" not in resource:
        return f"sns:topic/{resource}"
    if service == "lambda" and resource.startswith("function:"):
        name = resource.split(":")[1]
        return f"lambda:function/{name}" if name else None
    if service == "kinesis" and resource.startswith("stream/"):
        name = resource.split("/")[1]
        return f"kinesis:stream/{name}" if name else None
    if service == "dynamodb" and resource.startswith("table/"):
        pieces = resource.split("/")
        if len(pieces) >= 4 and pieces[2] == "stream" and pieces[1]:
            return f"dynamodb:stream/{pieces[1]}"
        return None
    if service == "events" and resource.startswith("event-bus/"):
        name = resource.split("/", 1)[1]
        return f"events:bus/{name}" if name else None
    return None


def _pattern_values(pattern: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    """The exact values a pattern allows for a top-level key; None when it does not say."""
    values = pattern.get(key)
    if values is None:
        return None
    if not isinstance(values, list):
        values = [values]
    return tuple(v for v in values if isinstance(v, str))


# ---------------------------------------------------------------------------------------------
# Reading the account


@dataclass
class Discovery:
    """What one run read: its routes, and what it skipped or could not read (one line each)."""

    account: str
    region: str
    discovered_at: datetime
    routes: list[Route] = field(default_factory=list)
    kinds_read: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(
        self,
        route_id: str,
        kind: str,
        source: str,
        target: str,
        *,
        name: str | None,
        pattern: Mapping[str, Any] | None = None,
    ) -> None:
        events = kind == EVENTBRIDGE_RULE and pattern is not None
        self.routes.append(
            Route(
                route_id=route_id,
                kind=kind,
                source=source,
                target=target,
                event_sources=_pattern_values(pattern, "source") if events and pattern else None,
                detail_types=_pattern_values(pattern, "detail-type")
                if events and pattern
                else None,
                name=name,
                pattern=json.dumps(pattern, sort_keys=True) if pattern is not None else None,
                origin="discovered",
                account=self.account,
                region=self.region,
                discovered_at=self.discovered_at,
            )
        )

    def count(self, kind: str) -> int:
        return sum(1 for r in self.routes if r.kind == kind)


def _pages(client: Any, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item under key of a listing, page after page."""
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**params):
            yield from page.get(key, [])
        return
    method = getattr(client, operation)
    token: str | None = None
    while True:
        page = method(**params, **({"NextToken": token} if token else {}))
        yield from page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return


def _json_or_none(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _eventbridge(client: Any, found: Discovery) -> None:
    for bus in _pages(client, "list_event_buses", "EventBuses"):
        bus_name = str(bus["Name"])
        for rule in _pages(client, "list_rules", "Rules", EventBusName=bus_name):
            name = str(rule["Name"])
            if rule.get("State", "ENABLED") != "ENABLED":
                found.skipped.append(f"rule {name} on bus {bus_name}: {rule.get('State')}")
                continue
            pattern = _json_or_none(rule.get("EventPattern"))
            if pattern is None:
                found.skipped.append(
                    f"rule {name} on bus {bus_name}: no event pattern (a schedule)"
                )
                continue
            targets = _pages(
                client, "list_targets_by_rule", "Targets", Rule=name, EventBusName=bus_name
            )
            for target in targets:
                node = node_for_arn(str(target["Arn"]))
                if node is None or not _is_node(node, ROUTE_KINDS[EVENTBRIDGE_RULE][1]):
                    found.skipped.append(
                        f"rule {name}: target {target['Arn']} is no queue, function, topic, "
                        "stream or bus"
                    )
                    continue
                found.add(
                    f"{rule['Arn']}#{target['Id']}",
                    EVENTBRIDGE_RULE,
                    f"events:bus/{bus_name}",
                    node,
                    name=name,
                    pattern=pattern,
                )


def _sns(client: Any, found: Discovery) -> None:
    for sub in _pages(client, "list_subscriptions", "Subscriptions"):
        arn = str(sub.get("SubscriptionArn", ""))
        topic = node_for_arn(str(sub.get("TopicArn", "")))
        if not arn.startswith("arn:") or topic is None:
            found.skipped.append(
                f"subscription of {sub.get('TopicArn')} to {sub.get('Endpoint')}: not confirmed"
            )
            continue
        target = node_for_arn(str(sub.get("Endpoint", "")))
        if sub.get("Protocol") not in ("sqs", "lambda") or target is None:
            found.skipped.append(
                f"subscription {arn}: {sub.get('Protocol')} to {sub.get('Endpoint')} "
                "is no queue or function"
            )
            continue
        attributes = client.get_subscription_attributes(SubscriptionArn=arn).get("Attributes", {})
        policy = _json_or_none(attributes.get("FilterPolicy"))
        found.add(arn, SNS_SUBSCRIPTION, topic, target, name=arn, pattern=policy)


_MAPPING_KINDS = {
    "sqs:queue/": LAMBDA_EVENT_SOURCE,
    "dynamodb:stream/": DYNAMODB_STREAM_CONSUMER,
    "kinesis:stream/": KINESIS_CONSUMER,
}
_MAPPING_OFF = ("Disabled", "Disabling", "Deleting")


def _lambda(client: Any, found: Discovery) -> None:
    for mapping in _pages(client, "list_event_source_mappings", "EventSourceMappings"):
        uuid = str(mapping["UUID"])
        source_arn = str(mapping.get("EventSourceArn", ""))
        source = node_for_arn(source_arn)
        kind = next((k for p, k in _MAPPING_KINDS.items() if source and source.startswith(p)), None)
        target = node_for_arn(str(mapping.get("FunctionArn", "")))
        if source is None or kind is None or target is None:
            found.skipped.append(
                f"event-source mapping {uuid}: {source_arn or 'its source'} is no queue, "
                "table stream or Kinesis stream"
            )
            continue
        if mapping.get("State") in _MAPPING_OFF:
            found.skipped.append(f"event-source mapping {uuid}: {mapping.get('State')}")
            continue
        arn = mapping.get("EventSourceMappingArn") or (
            f"arn:aws:lambda:{found.region}:{found.account}:event-source-mapping:{uuid}"
        )
        criteria = mapping.get("FilterCriteria")
        found.add(str(arn), kind, source, target, name=uuid, pattern=criteria if criteria else None)


Reader = Callable[[Any, Discovery], None]
SERVICES: tuple[tuple[str, tuple[str, ...], Reader], ...] = (
    ("events", (EVENTBRIDGE_RULE,), _eventbridge),
    ("sns", (SNS_SUBSCRIPTION,), _sns),
    ("lambda", (LAMBDA_EVENT_SOURCE, DYNAMODB_STREAM_CONSUMER, KINESIS_CONSUMER), _lambda),
)
"""Each AWS service read, the kinds of route it gives, and its reader."""


def discover_aws(region: str | None = None, profile: str | None = None) -> Discovery:
    """Reads the wiring of the account and region the standard chain resolves to.

    A service that cannot be read (no permission, not offered) is a failure line, and its kinds
    are left out of kinds_read so that storing keeps what an earlier run found for them.
    Raises SeamscopeError when nothing can be read at all (no credentials, no region, no answer).
    """
    session = read_only_session(region, profile)
    region = session.region_name
    if not region:
        raise SeamscopeError(
            "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), a profile's region, "
            "or pass --region"
        )
    config = client_config()
    try:
        account = str(session.client("sts", config=config).get_caller_identity()["Account"])
    except Exception as exc:  # noqa: BLE001 - botocore's errors, as one line
        problem = aws_problem(exc)
        if problem is None:
            raise
        raise SeamscopeError(problem) from None
    found = Discovery(account=account, region=str(region), discovered_at=datetime.now(UTC))
    for service, kinds, read in SERVICES:
        client = session.client(service, config=config)
        before = len(found.routes)
        try:
            read(client, found)
        except Exception as exc:  # noqa: BLE001 - botocore's errors, one line per service
            text = aws_problem(exc)
            if text is None:
                raise
            del found.routes[before:]
            found.failures.append(f"{service}: {text}; its routes were left as they were")
            continue
        found.kinds_read.extend(kinds)
    return found


# ---------------------------------------------------------------------------------------------
# Storing


def routes_table(routes: Iterable[Route]) -> pa.Table:
    names = [c.name for c in AWS_ROUTE_COLUMNS]
    data: dict[str, list[Any]] = {n: [] for n in names}
    for route in routes:
        for n in names:
            value = getattr(route, n)
            data[n].append(list(value) if isinstance(value, tuple) else value)
    return pa.Table.from_pydict(data, schema=arrow_schema(AWS_ROUTE_COLUMNS))


def replace_routes(
    con: duckdb.DuckDBPyConnection,
    routes: Sequence[Route],
    *,
    account: str,
    region: str,
    kinds: Sequence[str],
) -> int:
    """Replaces the discovered routes of kinds in account+region with routes, in one
    transaction; returns how many are stored."""
    if not kinds:
        return 0
    _check_scope(routes, account, region, kinds)
    with transaction(con):
        marks = ", ".join("?" * len(kinds))
        con.execute(
            "DELETE FROM aws_routes WHERE origin = 'discovered' AND account = ? AND region = ? "
            f"AND kind IN ({marks})",
            [account, region, *kinds],
        )
        if routes:
            con.register("_seamscope_routes", routes_table(routes))
            try:
                con.execute("INSERT OR REPLACE INTO aws_routes SELECT * FROM _seamscope_routes")
            finally:
                con.unregister("_seamscope_routes")
    return len(routes)


def _check_scope(routes: Sequence[Route], account: str, region: str, kinds: Sequence[str]) -> None:
    """A replacement may only bring routes of the account, region and kinds it replaces."""
    for r in routes:
        if (
            r.origin != "discovered"
            or r.kind not in kinds
            or (r.account, r.region)
            != (
                account,
                region,
            )
        ):
            raise ValueError(
                f"route {r.route_id} is no discovered {'/'.join(kinds)} of {account} {region}"
            )


def routes_payload(found: Discovery) -> dict[str, Any]:
    """What `store_routes` posts to the store's owner."""
    return {
        "account": found.account,
        "region": found.region,
        "kinds": list(found.kinds_read),
        "routes": [r.to_json() for r in found.routes],
    }


def routes_writer(payload: object) -> Callable[[Store], int]:
    """The owner's side: the payload checked, as work for its writer. ValueError says what is
    wrong with it."""
    if not isinstance(payload, Mapping):
        raise ValueError('the body must be JSON: {"account", "region", "kinds", "routes"}')
    account, region, kinds = payload.get("account"), payload.get("region"), payload.get("kinds")
    if not isinstance(account, str) or not isinstance(region, str):
        raise ValueError("account and region must be strings")
    if not isinstance(kinds, list) or any(k not in ROUTE_KINDS for k in kinds):
        raise ValueError(f"kinds must be a list of: {', '.join(ROUTE_KINDS)}")
    raw = payload.get("routes")
    if not isinstance(raw, list):
        raise ValueError("routes must be a list")
    routes = [Route.from_json(r) for r in raw]
    _check_scope(routes, account, region, kinds)

    def write(store: Store) -> int:
        return replace_routes(store.con, routes, account=account, region=region, kinds=kinds)

    return write


def store_routes(db_path: Path, found: Discovery) -> str | None:
    """Stores a discovery: through the store's owner if one runs, else under the short lock.
    Returns the owner's URL when it went through one."""

    def write(store: Store) -> int:
        return replace_routes(
            store.con,
            found.routes,
            account=found.account,
            region=found.region,
            kinds=found.kinds_read,
        )

    owner = send_or_write(db_path, ROUTES_PATH, routes_payload(found), write)
    return owner.url if owner is not None else None
