"""An instrumented service that puts secrets in every place a span can carry them.

Usage: leaky_service.py <count>. Makes count spans, each with a secret from SECRETS (below) in
an array attribute, a query string, a URL's user:password, a DynamoDB item in db.statement, a
JWT in GraphQL variables and document, a custom x-auth header, the span name, the status
message and an event's exception.message. The secrets are printed nowhere.
"""

from __future__ import annotations

import sys

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

# Each must vanish from whatever leaves the process (tests/resilience/test_secrets.py).
SECRETS = {
    "aws_secret": "wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY",
    "query_pwd": "pwd-in-query-1234",
    "url_password": "url-pass-5678",
    "item_password": "dynamo-item-pass-9",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWFreSJ9.c2lnbmF0dXJlLWxlYWt5",
    "graphql_secret": "graphql-doc-secret-7",
    "x_auth": "x-auth-value-42",
    "name_token": "name-token-31",
    "status_token": "status-bearer-token-77",
    "exception_password": "exception-pass-55",
}


def main() -> None:
    count = int(sys.argv[1])
    tracer = trace.get_tracer("seamscope.tests.leaky")
    s = SECRETS
    for i in range(count):
        with tracer.start_as_current_span(
            f"GET /callback?token={s['name_token']}", kind=trace.SpanKind.CLIENT
        ) as span:
            span.set_attribute("aws.credentials", ["AKIAZZZZZZZZZZZZZZZZ", s["aws_secret"]])
            span.set_attribute("config.lines", [f"aws_secret_access_key={s['aws_secret']}"])
            span.set_attribute(
                "url.full", f"https://api.example.com/v1/login?user=a&pwd={s['query_pwd']}&n={i}"
            )
            span.set_attribute(
                "mirrors", [f"https://admin:{s['url_password']}@mirror.example.com/x", "plain"]
            )
            span.set_attribute("db.system", "dynamodb")
            span.set_attribute(
                "db.statement",
                '{"TableName": "Users", "Item": {"pk": {"S": "u1"}, '
                f'"password": {{"S": "{s["item_password"]}"}}}}}}',
            )
            span.set_attribute("graphql.variables", f'{{"token": "{s["jwt"]}"}}')
            span.set_attribute(
                "graphql.document",
                f'mutation Login {{ login(secret: "{s["graphql_secret"]}", jwt: "{s["jwt"]}") }}',
            )
            span.set_attribute("http.request.header.x-auth", s["x_auth"])
            span.set_attribute("seq", i)
            try:
                raise ConnectionError(f"login failed: password={s['exception_password']}")
            except ConnectionError as exc:
                span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"denied: Bearer {s['status_token']}"))
    print(count, flush=True)


if __name__ == "__main__":
    main()
