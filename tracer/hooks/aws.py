"""The botocore hooks: one small extractor per AWS service, in a registry by service name.

The stock instrumentation leaves out what classification needs (measured in the ground-truth
notes): EventBridge bus/source/detail-type, the Kinesis stream, the DynamoDB Streams ARN, the
tables of transactions and batches, the S3 bucket, SNS TargetArn, and the envelopes an SQS
receive got. As in OpenTelemetry's own botocore extensions, each service is one class and the
differences between its operations are data.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from seamscope.tracer.hooks.common import (
    MAX_BODY,
    MAX_ENTRIES,
    Attrs,
    guarded,
    record,
    span_attributes,
)
from seamscope.tracer.rows import EVENT_BUSES, EVENT_DETAIL_TYPES, EVENT_SOURCES, SNS_TOPICS

STREAM_ARN = "seamscope.dynamodb.stream_arn"
STREAM_TABLE = "seamscope.dynamodb.stream_table"
KINESIS_STREAM = "aws.kinesis.stream_name"
KINESIS_STREAM_ARN = "aws.kinesis.stream_arn"
S3_BUCKET = "aws.s3.bucket"
TABLE_NAMES = "aws.dynamodb.table_names"

MAX_ITERATORS = 4096
"""Shard iterators remembered (oldest forgotten first)."""


# --- ARNs -------------------------------------------------------------------------------------


def _arn_resource(arn: str) -> str:
    """The resource part of an ARN (after the fifth colon), '' when it is no ARN."""
    parts = arn.split(":", 5)
    return parts[5] if len(parts) == 6 and parts[0] == "arn" else ""


def stream_table(stream_arn: str) -> str | None:
    """The table of a DynamoDB stream ARN (``...:table/Orders/stream/2024-...``)."""
    resource = _arn_resource(stream_arn)
    if resource.startswith("table/"):
        table = resource.split("/")[1]
        return table or None
    return None


def _kinesis_name(arn: str) -> str | None:
    resource = _arn_resource(arn)
    if resource.startswith("stream/"):
        return resource.split("/")[1] or None
    return None


def _bus_name(value: str) -> str:
    resource = _arn_resource(value)
    if resource.startswith("event-bus/"):
        return resource[len("event-bus/") :] or value
    return value


def _is_topic_arn(arn: str) -> bool:
    resource = _arn_resource(arn)
    return bool(resource) and "/" not in resource and arn.split(":")[2] == "sns"


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _strs(values: Iterable[Any]) -> list[str]:
    return [v for v in values if isinstance(v, str) and v]


# --- shard iterators --------------------------------------------------------------------------

_iterators: OrderedDict[str, Attrs] = OrderedDict()
_iterators_lock = threading.Lock()


def _remember_iterator(iterator: Any, attrs: Attrs) -> None:
    if not isinstance(iterator, str) or not iterator or not attrs:
        return
    with _iterators_lock:
        _iterators[iterator] = attrs
        _iterators.move_to_end(iterator)
        while len(_iterators) > MAX_ITERATORS:
            _iterators.popitem(last=False)


def _recall_iterator(iterator: Any) -> Attrs:
    if not isinstance(iterator, str):
        return {}
    with _iterators_lock:
        return dict(_iterators.get(iterator, {}))


# --- one extractor per service ----------------------------------------------------------------


class Extractor:
    """What seamscope adds to the spans of one AWS service's calls (nothing, unless overridden)."""

    follows_iterators = False
    """The response hook needs what the request hook found (a stream's shard iterators)."""

    def request(self, operation: str, params: Mapping[str, Any]) -> Attrs:
        return {}

    def response(
        self, operation: str, result: Mapping[str, Any], known: Mapping[str, Any]
    ) -> Attrs:
        """known: what the request hook found, else the span's attributes so far."""
        return {}


class _EventBridge(Extractor):
    def request(self, operation: str, params: Mapping[str, Any]) -> Attrs:
        if operation != "PutEvents":
            return {}
        entries = [e for e in (params.get("Entries") or ())[:MAX_ENTRIES] if isinstance(e, Mapping)]
        if not entries:
            return {}
        return {
            EVENT_BUSES: [
                _bus_name(b) if isinstance(b := e.get("EventBusName"), str) and b else "default"
                for e in entries
            ],
            EVENT_SOURCES: [_str(e.get("Source")) for e in entries],
            EVENT_DETAIL_TYPES: [_str(e.get("DetailType")) for e in entries],
        }


class _Stream(Extractor, ABC):
    """A stream read through shard iterators: the iterator a call returns names the stream the
    next GetRecords reads, which carries only the iterator."""

    follows_iterators = True
    keys: tuple[str, ...] = ()
    """The attributes that name the stream, carried from iterator to iterator."""
    identified_by = ""
    """The attribute without which the request did not name its stream."""
    _NEXT_ITERATOR = {"GetShardIterator": "ShardIterator", "GetRecords": "NextShardIterator"}

    @abstractmethod
    def identity(self, params: Mapping[str, Any]) -> Attrs:
        """The stream a request names by itself."""

    def request(self, operation: str, params: Mapping[str, Any]) -> Attrs:
        attrs = self.identity(params)
        if self.identified_by not in attrs and "ShardIterator" in params:
            return _recall_iterator(params.get("ShardIterator"))
        return attrs

    def response(
        self, operation: str, result: Mapping[str, Any], known: Mapping[str, Any]
    ) -> Attrs:
        stream: Attrs = {k: v for k in self.keys if isinstance(v := known.get(k), str)}
        field = self._NEXT_ITERATOR.get(operation)
        if field is not None:
            _remember_iterator(result.get(field), stream)
            return {}
        return self.described(operation, result, stream)

    def described(self, operation: str, result: Mapping[str, Any], stream: Attrs) -> Attrs:
        """What a call that describes the stream tells about it."""
        return {}


class _Kinesis(_Stream):
    keys = (KINESIS_STREAM, KINESIS_STREAM_ARN)
    identified_by = KINESIS_STREAM

    def identity(self, params: Mapping[str, Any]) -> Attrs:
        attrs: Attrs = {}
        name = params.get("StreamName")
        arn = params.get("StreamARN")
        if isinstance(arn, str) and arn:
            attrs[KINESIS_STREAM_ARN] = arn
            if not isinstance(name, str) or not name:
                name = _kinesis_name(arn)
        if isinstance(name, str) and name:
            attrs[KINESIS_STREAM] = name
        return attrs


def _dynamodb_stream_attrs(arn: Any) -> Attrs:
    if not isinstance(arn, str) or not arn:
        return {}
    attrs: Attrs = {STREAM_ARN: arn}
    table = stream_table(arn)
    if table:
        attrs[STREAM_TABLE] = table
    return attrs


class _DynamoDbStreams(_Stream):
    keys = (STREAM_ARN, STREAM_TABLE)
    identified_by = STREAM_ARN

    def identity(self, params: Mapping[str, Any]) -> Attrs:
        return _dynamodb_stream_attrs(params.get("StreamArn"))

    def described(self, operation: str, result: Mapping[str, Any], stream: Attrs) -> Attrs:
        if operation != "DescribeStream" or stream:
            return {}
        description = result.get("StreamDescription")
        if not isinstance(description, Mapping):
            return {}
        return _dynamodb_stream_attrs(description.get("StreamArn"))


def _transact_tables(params: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for item in params.get("TransactItems") or ():
        if not isinstance(item, Mapping):
            continue
        for action in item.values():
            if isinstance(action, Mapping):
                name = action.get("TableName")
                if isinstance(name, str) and name and name not in names:
                    names.append(name)
    return names


def _request_items_tables(params: Mapping[str, Any]) -> list[str]:
    items = params.get("RequestItems")
    return _strs(items.keys()) if isinstance(items, Mapping) else []


class _DynamoDb(Extractor):
    """The stock instrumentation names the table of single-table calls; these name several."""

    _TABLES: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
        "TransactWriteItems": _transact_tables,
        "TransactGetItems": _transact_tables,
        "BatchGetItem": _request_items_tables,
        "BatchWriteItem": _request_items_tables,
    }

    def request(self, operation: str, params: Mapping[str, Any]) -> Attrs:
        tables = self._TABLES.get(operation)
        names = tables(params) if tables is not None else []
        return {TABLE_NAMES: names} if names else {}


class _S3(Extractor):
    def request(self, operation: str, params: Mapping[str, Any]) -> Attrs:
        bucket = params.get("Bucket")
        return {S3_BUCKET: bucket} if isinstance(bucket, str) and bucket else {}


class _Sns(Extractor):
    _publishes = ("Publish", "PublishBatch")
    _arn_params = ("TopicArn", "TargetArn")

    def request(self, operation: str, params: Mapping[str, Any]) -> Attrs:
        if operation not in self._publishes:
            return {}
        arn = next((a for name in self._arn_params if (a := params.get(name))), None)
        return {SNS_TOPICS: [arn]} if isinstance(arn, str) and _is_topic_arn(arn) else {}


class _Sqs(Extractor):
    def response(
        self, operation: str, result: Mapping[str, Any], known: Mapping[str, Any]
    ) -> Attrs:
        if operation != "ReceiveMessage":
            return {}
        return _envelope_attrs(result.get("Messages"))


def _envelope_attrs(messages: Any) -> Attrs:
    """EventBridge and SNS envelopes among the bodies an SQS receive returned."""
    sources: list[str] = []
    detail_types: list[str] = []
    topics: list[str] = []
    if not isinstance(messages, (list, tuple)):
        return {}
    for message in messages[:MAX_ENTRIES]:
        if not isinstance(message, Mapping):
            continue
        body = message.get("Body")
        if not isinstance(body, str) or len(body) > MAX_BODY or not body.startswith("{"):
            continue
        try:
            doc = json.loads(body)
        except ValueError:
            continue
        if not isinstance(doc, Mapping):
            continue
        if doc.get("Type") == "Notification" and isinstance(doc.get("TopicArn"), str):
            if doc["TopicArn"] not in topics:
                topics.append(doc["TopicArn"])
            inner = doc.get("Message")
            # EventBridge -> SNS -> SQS: the event is the SNS message.
            if isinstance(inner, str) and inner.startswith("{") and "detail-type" in inner:
                try:
                    doc = json.loads(inner)
                except ValueError:
                    continue
                if not isinstance(doc, Mapping):
                    continue
        if "detail-type" in doc and "source" in doc and "detail" in doc:
            sources.append(_str(doc.get("source")))
            detail_types.append(_str(doc.get("detail-type")))
    attrs: Attrs = {}
    if sources:
        attrs[EVENT_SOURCES] = sources
        attrs[EVENT_DETAIL_TYPES] = detail_types
    if topics:
        attrs[SNS_TOPICS] = topics
    return attrs


EXTRACTORS: dict[str, Extractor] = {
    "events": _EventBridge(),
    "kinesis": _Kinesis(),
    "dynamodbstreams": _DynamoDbStreams(),
    "dynamodb": _DynamoDb(),
    "s3": _S3(),
    "sns": _Sns(),
    "sqs": _Sqs(),
}
"""By botocore service name; a service not here gets nothing added."""


def botocore_request_attributes(service: str, operation: str, params: Any) -> Attrs:
    """What to add to the span of an AWS call, from its request parameters."""
    extractor = EXTRACTORS.get(service)
    if extractor is None or not isinstance(params, Mapping):
        return {}
    return extractor.request(operation, params)


def botocore_response_attributes(
    service: str, operation: str, result: Any, span_attrs: Mapping[str, Any]
) -> Attrs:
    """What to add to the span of an AWS call from its result (remembers shard iterators)."""
    extractor = EXTRACTORS.get(service)
    if extractor is None or not isinstance(result, Mapping):
        return {}
    return extractor.response(operation, result, span_attrs)


# What the request hook found, for the response hook of the same call (same thread, in turn):
# a stream's identity must follow its shard iterator even when the span is not recording.
_call = threading.local()


@guarded
def botocore_request_hook(
    span: Any, service_name: Any, operation_name: Any, api_params: Any
) -> None:
    """botocore instrumentor request_hook."""
    _call.attrs = None
    service = str(service_name)
    attrs = botocore_request_attributes(service, str(operation_name), api_params)
    extractor = EXTRACTORS.get(service)
    if extractor is not None and extractor.follows_iterators:
        _call.attrs = attrs
    record(span, attrs)


@guarded
def botocore_response_hook(span: Any, service_name: Any, operation_name: Any, result: Any) -> None:
    """botocore instrumentor response_hook."""
    found = getattr(_call, "attrs", None)
    _call.attrs = None
    known = found if isinstance(found, dict) else span_attributes(span)
    record(
        span, botocore_response_attributes(str(service_name), str(operation_name), result, known)
    )
