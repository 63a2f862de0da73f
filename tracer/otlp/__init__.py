"""OTLP trace export requests (protobuf or JSON) -> SpanBatchBuilder rows, and protobuf -> JSON.

`protobuf` and `json_format` decode (every attribute walked; `flat` decodes protobuf quicker, to
the same rows), `encode` writes OTLP JSON and responses, `common` holds what they share. Import
from here.
"""

from seamscope.tracer.otlp.common import (
    MAX_DEPTH,
    MAX_MESSAGES,
    MAX_VALUE_CHARS,
    DecodeResult,
    OtlpError,
    TooLarge,
    inflate,
    one_line,
    unzstd,
)
from seamscope.tracer.otlp.encode import (
    protobuf_to_json,
    redact_json_request,
    request_to_json,
    response_body,
)
from seamscope.tracer.otlp.flat import decode_flat
from seamscope.tracer.otlp.json_format import (
    add_json_request,
    decode_json,
    load_repaired,
    parse_json,
)
from seamscope.tracer.otlp.protobuf import add_protobuf_request, decode_protobuf

__all__ = [
    "MAX_DEPTH",
    "MAX_MESSAGES",
    "MAX_VALUE_CHARS",
    "DecodeResult",
    "OtlpError",
    "TooLarge",
    "add_json_request",
    "add_protobuf_request",
    "decode_flat",
    "decode_json",
    "decode_protobuf",
    "inflate",
    "load_repaired",
    "unzstd",
    "one_line",
    "parse_json",
    "protobuf_to_json",
    "redact_json_request",
    "request_to_json",
    "response_body",
]
