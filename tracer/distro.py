"""The seamscope distro: what ``opentelemetry-instrument`` does, with no flags, once installed.

It sends traces to the seamscope store, turns metrics and logs off, opts HTTP into the stable
semantic conventions (keeping the old attributes too) and gives the botocore and httpx
instrumentors our hooks. Any ``OTEL_*`` variable the user set wins. When another distro is
installed beside this one, ``OTEL_PYTHON_DISTRO=seamscope OTEL_PYTHON_CONFIGURATOR=seamscope``
selects ours.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.instrumentation.distro import (  # type: ignore[attr-defined]
    BaseDistro,
)
from opentelemetry.sdk._configuration import _OTelSDKConfigurator

from seamscope.tracer import hooks

DEFAULTS: dict[str, str] = {
    "OTEL_TRACES_EXPORTER": "seamscope",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_SEMCONV_STABILITY_OPT_IN": "http/dup",
}


def apply_defaults() -> None:
    """Sets our defaults for every OTEL_* variable the user left unset."""
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)


def hook_kwargs(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """kwargs for the instrumentor of entry point name, with our hooks chained before theirs."""
    kwargs = dict(kwargs)
    if name == "botocore":
        kwargs["request_hook"] = hooks.chain(
            hooks.botocore_request_hook, kwargs.get("request_hook")
        )
        kwargs["response_hook"] = hooks.chain(
            hooks.botocore_response_hook, kwargs.get("response_hook")
        )
    elif name == "httpx":
        kwargs["request_hook"] = hooks.chain(hooks.httpx_request_hook, kwargs.get("request_hook"))
        kwargs["response_hook"] = hooks.chain(
            hooks.httpx_response_hook, kwargs.get("response_hook")
        )
        kwargs["async_request_hook"] = hooks.chain_async(
            hooks.httpx_async_request_hook, kwargs.get("async_request_hook")
        )
        kwargs["async_response_hook"] = hooks.chain_async(
            hooks.httpx_async_response_hook, kwargs.get("async_response_hook")
        )
    return kwargs


class SeamscopeDistro(BaseDistro):  # type: ignore[misc]
    """``opentelemetry_distro`` entry point ``seamscope``."""

    def _configure(self, **kwargs: Any) -> None:
        apply_defaults()

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        instrumentor = entry_point.load()
        instrumentor().instrument(**hook_kwargs(str(entry_point.name), kwargs))


class SeamscopeConfigurator(_OTelSDKConfigurator):
    """``opentelemetry_configurator`` entry point: the SDK set up as the stock one does.

    Also applies the distro's defaults, in case another distro ran instead of ours, and gives
    our exporter the span processor that counts what it drops.
    """

    def _configure(self, **kwargs: Any) -> None:
        from seamscope.tracer.exporter import export_processor

        apply_defaults()
        kwargs.setdefault("export_span_processor", export_processor)
        super()._configure(**kwargs)  # type: ignore[no-untyped-call]
