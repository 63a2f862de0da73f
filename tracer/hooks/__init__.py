"""Request/response hooks for the botocore and httpx instrumentors.

The stock instrumentations leave out what classification needs; the hooks add it. `aws` holds
one extractor per AWS service, `graphql` the one scanner of GraphQL documents, `httpx` the
hooks of outgoing HTTP requests, `common` what every hook shares. Each hook computes its
attributes first and sets them only when that succeeded: a hook that meets anything
unexpected records nothing and never raises into the service. Import from here.
"""

from seamscope.tracer.hooks.aws import (
    MAX_ITERATORS,
    botocore_request_attributes,
    botocore_request_hook,
    botocore_response_attributes,
    botocore_response_hook,
    stream_table,
)
from seamscope.tracer.hooks.common import Attrs, chain, chain_async
from seamscope.tracer.hooks.graphql import graphql_attributes, graphql_operation
from seamscope.tracer.hooks.httpx import (
    httpx_async_request_hook,
    httpx_async_response_hook,
    httpx_request_attributes,
    httpx_request_hook,
    httpx_response_hook,
)

__all__ = [
    "MAX_ITERATORS",
    "Attrs",
    "botocore_request_attributes",
    "botocore_request_hook",
    "botocore_response_attributes",
    "botocore_response_hook",
    "chain",
    "chain_async",
    "graphql_attributes",
    "graphql_operation",
    "httpx_async_request_hook",
    "httpx_async_response_hook",
    "httpx_request_attributes",
    "httpx_request_hook",
    "httpx_response_hook",
    "stream_table",
]
