"""The mechanisms of integration edges, the AWS resources they reach, and the fact kinds that
feed them: one table, read by the SQL of the engine and by the upper layer (derive).

A fact (facts.py) names its kind and a raw target. The kind says which side of an integration
the span is (a call, or the producer or consumer of a listening channel), which mechanism the
edge gets, which resource the target names, what the span tells about who owns that resource,
and how to read the resource's (or channel's) name out of the target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from seamscope.classifiers.results import sql_list

# Separator inside composite targets (EventBridge: bus, source, detail-type).
SEP = "\x1f"
# A name no span carries (a queue, a stream, a bus): never joined by name, never owned.
UNNAMED = "?"


class Side(StrEnum):
    """Which side of an integration a fact is."""

    CALL = "call"  # the edge goes from the caller to the target
    PRODUCE = "produce"  # a listening channel's producer
    CONSUME = "consume"  # a listening channel's consumer


class Direction(StrEnum):
    CALL = "call"
    LISTEN = "listen"


@dataclass(frozen=True, slots=True)
class Resource:
    """A kind of AWS resource that becomes a node: ``<prefix><name>``."""

    kind: str  # nodes.resource_kind
    owners: str  # the landscape file's [owners] key that says who owns one
    prefix: str  # of the node id

    def node_id(self, name: str) -> str:
        return f"{self.prefix}{name}"


TABLE = Resource("dynamodb-table", "tables", "dynamodb:table/")
TABLE_STREAM = Resource("dynamodb-stream", "tables", "dynamodb:stream/")
QUEUE = Resource("sqs-queue", "queues", "sqs:queue/")
TOPIC = Resource("sns-topic", "topics", "sns:topic/")
STREAM = Resource("kinesis-stream", "streams", "kinesis:stream/")
BUS = Resource("events-bus", "buses", "events:bus/")
EVENT_SOURCE = Resource("events-source", "buses", "events:source/")
BUCKET = Resource("s3-bucket", "buckets", "s3:bucket/")
FUNCTION = Resource("lambda-function", "functions", "lambda:function/")
RESOURCES: tuple[Resource, ...] = (
    TABLE,
    TABLE_STREAM,
    QUEUE,
    TOPIC,
    STREAM,
    BUS,
    EVENT_SOURCE,
    BUCKET,
    FUNCTION,
)


@dataclass(frozen=True, slots=True)
class Mechanism:
    """What an edge's ``mechanism`` column can say."""

    name: str
    direction: Direction
    resource: Resource | None  # what a call goes to, or what a listening edge goes through


REST = Mechanism("rest", Direction.CALL, None)
GRAPHQL = Mechanism("graphql", Direction.CALL, None)
DYNAMODB = Mechanism("dynamodb", Direction.CALL, TABLE)
DYNAMODB_STREAMS = Mechanism("dynamodb-streams", Direction.LISTEN, TABLE_STREAM)
EVENTBRIDGE = Mechanism("eventbridge", Direction.LISTEN, BUS)
SQS = Mechanism("sqs", Direction.LISTEN, QUEUE)
SNS = Mechanism("sns", Direction.LISTEN, TOPIC)
KINESIS = Mechanism("kinesis", Direction.LISTEN, STREAM)
LAMBDA = Mechanism("lambda", Direction.CALL, FUNCTION)
S3 = Mechanism("s3", Direction.CALL, BUCKET)
HTTP_EXTERNAL = Mechanism("http-external", Direction.CALL, None)
MECHANISMS: tuple[Mechanism, ...] = (
    REST,
    GRAPHQL,
    DYNAMODB,
    DYNAMODB_STREAMS,
    EVENTBRIDGE,
    SQS,
    SNS,
    KINESIS,
    LAMBDA,
    S3,
    HTTP_EXTERNAL,
)
MECHANISM: dict[str, Mechanism] = {m.name: m for m in MECHANISMS}


def topic_name(target: str) -> str:
    """An SNS topic's name from its ARN (or the name itself)."""
    return target.rsplit(":", 1)[-1] if target.startswith("arn:") else target


def _same(target: str) -> str:
    return target


def _bus(target: str) -> str:
    """An EventBridge target's bus (empty when a consumer does not know it)."""
    return target.split(SEP)[0]


def _event(target: str) -> str:
    """bus SEP source SEP detail-type [SEP queue] -> source SEP detail-type: what the producers
    and consumers of an event share (a consumer does not always know the bus)."""
    parts = target.split(SEP)
    return f"{parts[1]}{SEP}{parts[2]}"


def _received_topic(target: str) -> str:
    return topic_name(target.split(SEP)[0])


class Ownership(StrEnum):
    """What a fact tells about the owner of the resource it names."""

    WRITTEN = "written"  # the system that writes it owns it (when the fact writes)
    READ = "read"  # the system that reads it owns it (a queue is its consumer's)


@dataclass(frozen=True, slots=True)
class FactKind:
    """One kind of fact, as facts.py writes it into ``fkind``."""

    name: str
    side: Side
    mechanism: Mechanism  # a call's (HTTP: rest, or http-external to a vendor), or the channel's
    names: Callable[[str], str] = _same  # target -> the name of the resource it names
    joins: Callable[[str], str] | None = None  # target -> the channel, when not the resource
    ownership: Ownership | None = None
    through_queue: bool = False  # delivered through an SQS queue, named last in the target
    # A receive whose handling is gathered (what the consumer does next): EventBridge events
    # arrive this way, recognised by hooks or only later by a rule's route.
    handled: bool = False

    def resource_name(self, target: str) -> str:
        return self.names(target)

    def channel(self, target: str) -> str:
        """What joins this fact's producers and consumers."""
        return (self.joins or self.names)(target)

    @staticmethod
    def queue(target: str) -> str:
        """The queue an envelope arrived through (for through_queue kinds)."""
        return target.split(SEP)[-1]


FACT_KINDS: tuple[FactKind, ...] = (
    FactKind("http", Side.CALL, REST),
    FactKind("graphql", Side.CALL, GRAPHQL),
    # A POST or GET to a path named graphql whose span records no operation.
    FactKind("graphql-path", Side.CALL, GRAPHQL),
    FactKind("dynamodb", Side.CALL, DYNAMODB, ownership=Ownership.WRITTEN),
    FactKind("s3", Side.CALL, S3, ownership=Ownership.WRITTEN),
    FactKind("lambda", Side.CALL, LAMBDA),
    FactKind("events-put", Side.PRODUCE, EVENTBRIDGE, _bus, _event, Ownership.WRITTEN),
    FactKind(
        "events-recv", Side.CONSUME, EVENTBRIDGE, _bus, _event, through_queue=True, handled=True
    ),
    FactKind("sqs-send", Side.PRODUCE, SQS, ownership=Ownership.WRITTEN),
    FactKind("sqs-recv", Side.CONSUME, SQS, ownership=Ownership.READ, handled=True),
    FactKind("sns-pub", Side.PRODUCE, SNS, topic_name, ownership=Ownership.WRITTEN),
    FactKind("sns-recv", Side.CONSUME, SNS, _received_topic, through_queue=True),
    FactKind("kinesis-put", Side.PRODUCE, KINESIS, ownership=Ownership.WRITTEN),
    FactKind("kinesis-read", Side.CONSUME, KINESIS),
    FactKind("stream-read", Side.CONSUME, DYNAMODB_STREAMS),
    # A Lambda function's own invocation (not over HTTP): what feeds it comes from a link to the
    # producer's span or from the account's wiring (an event-source mapping, a subscription).
    FactKind("lambda-run", Side.CONSUME, LAMBDA, handled=True),
)
FACT_KIND: dict[str, FactKind] = {k.name: k for k in FACT_KINDS}


def sql_kinds(*sides: Side) -> str:
    """The fact kinds of these sides as a SQL list: ``('http', 'graphql', ...)``."""
    return sql_list(k.name for k in FACT_KINDS if k.side in sides)


HANDLED_KINDS = sql_list(k.name for k in FACT_KINDS if k.handled)
"""The receives whose handling is gathered, as a SQL list."""
