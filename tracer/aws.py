"""Talking to AWS for `seamscope discover aws` and `seamscope ingest s3://...`: the standard
credential chain, read-only calls only (refused before they are sent otherwise), and one-line
errors.

boto3 is optional (the ``aws`` extra), so it is imported inside the functions that need it.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from seamscope.tracer.errors import SeamscopeError, install_hint

READ_ONLY_PREFIXES = ("List", "Describe", "Get")
"""The only AWS operations seamscope calls."""


class WriteRefused(SeamscopeError):
    """An AWS call that is not read-only was about to be made; seamscope never makes one."""


def require_boto3(what: str) -> None:
    """One line saying how to install boto3 when it is missing."""
    if importlib.util.find_spec("boto3") is None:
        raise SeamscopeError(f"{what} needs boto3: {install_hint('aws')}")


def refuse_writes(model: Any, **_: Any) -> None:
    """botocore before-call handler: only List*, Describe* and Get* operations get through."""
    name = str(model.name)
    if not name.startswith(READ_ONLY_PREFIXES):
        service = model.service_model.service_name
        raise WriteRefused(
            f"{service} {name} is not a read-only call: seamscope only calls "
            f"{', '.join(p + '*' for p in READ_ONLY_PREFIXES)}"
        )


def read_only_session(region: str | None = None, profile: str | None = None) -> Any:
    """A boto3 session on the standard credential chain whose clients can only read.

    The region: the one given, else AWS_REGION (which the other SDKs and the AWS CLI v2 read
    and botocore does not), else botocore's own chain (AWS_DEFAULT_REGION, the profile).
    """
    import boto3
    import botocore.exceptions

    try:
        session = boto3.Session(
            region_name=region or os.environ.get("AWS_REGION") or None, profile_name=profile
        )
    except botocore.exceptions.ProfileNotFound as exc:
        raise SeamscopeError(str(exc)) from None
    session.events.register("before-call", refuse_writes)
    return session


def client_config() -> Any:
    """Short connect timeouts and a few retries: an endpoint that is not there fails soon."""
    import botocore.config

    return botocore.config.Config(
        connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3}
    )


_BODY_SHOWN = 200
"""Characters of an answer that was not AWS's shown in its message."""


def aws_problem(exc: BaseException) -> str | None:
    """One line for what went wrong talking to AWS, or None if exc is no AWS problem."""
    import botocore.exceptions
    import botocore.parsers

    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return (
            "no AWS credentials found (environment, shared config and credentials files, "
            "SSO, container or instance role)"
        )
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", "")
        return f"{error.get('Code', 'error')} on {operation}: {_shown(error.get('Message', ''))}"
    if isinstance(exc, botocore.exceptions.ParamValidationError):
        return f"the request was not sent: {_shown(str(exc))}"
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return f"AWS did not answer: {_shown(str(exc))}"
    if isinstance(exc, botocore.parsers.ResponseParserError):
        # An HTML error page of a proxy, or of an endpoint that is no AWS service's (moto's for
        # a region it does not know): botocore puts the whole body into the message.
        return (
            "the endpoint did not answer as AWS does (check AWS_ENDPOINT_URL and the region): "
            + _shown(str(exc))
        )
    return None


def _shown(text: str) -> str:
    """text on one line, cut: an error page's HTML came whole, over many lines."""
    text = " ".join(str(text).split())
    return text if len(text) <= _BODY_SHOWN else text[:_BODY_SHOWN] + "..."
