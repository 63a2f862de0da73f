from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.instrumentation.auto_instrumentation._load import _load_distro
from opentelemetry.util._importlib_metadata import entry_points

from seamscope.tracer import hooks
from seamscope.tracer.distro import DEFAULTS, SeamscopeDistro, apply_defaults, hook_kwargs


def test_defaults_fill_only_what_the_user_left_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "console")
    apply_defaults()
    assert os.environ["OTEL_TRACES_EXPORTER"] == "seamscope"
    assert os.environ["OTEL_METRICS_EXPORTER"] == "console"
    assert os.environ["OTEL_LOGS_EXPORTER"] == "none"
    assert os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] == "http/dup"


def test_entry_points_name_our_distro_configurator_and_exporter() -> None:
    def names(group: str) -> dict[str, str]:
        return {ep.name: ep.value for ep in entry_points(group=group)}

    assert names("opentelemetry_distro")["seamscope"] == "seamscope.tracer.distro:SeamscopeDistro"
    assert names("opentelemetry_configurator")["seamscope"] == (
        "seamscope.tracer.distro:SeamscopeConfigurator"
    )
    assert names("opentelemetry_traces_exporter")["seamscope"] == (
        "seamscope.tracer.exporter:SeamscopeSpanExporter"
    )


def test_auto_instrumentation_picks_our_distro(monkeypatch: pytest.MonkeyPatch) -> None:
    if len(list(entry_points(group="opentelemetry_distro"))) > 1:
        monkeypatch.setenv("OTEL_PYTHON_DISTRO", "seamscope")
    assert isinstance(_load_distro(), SeamscopeDistro)


class _FakeInstrumentor:
    seen: dict[str, Any] = {}

    def instrument(self, **kwargs: Any) -> None:
        _FakeInstrumentor.seen = kwargs


class _FakeEntryPoint:
    def __init__(self, name: str) -> None:
        self.name = name

    def load(self) -> type[_FakeInstrumentor]:
        return _FakeInstrumentor


class _Span:
    def __init__(self) -> None:
        self.attributes: dict[str, Any] = {}

    def is_recording(self) -> bool:
        return True

    def set_attributes(self, attrs: dict[str, Any]) -> None:
        self.attributes.update(attrs)


def test_load_instrumentor_gives_botocore_our_hooks_chained_to_the_callers() -> None:
    calls: list[tuple[Any, ...]] = []
    SeamscopeDistro().load_instrumentor(
        _FakeEntryPoint("botocore"),
        skip_dep_check=True,
        request_hook=lambda *a: calls.append(a),
    )
    kwargs = _FakeInstrumentor.seen
    assert kwargs["skip_dep_check"] is True
    span = _Span()
    kwargs["request_hook"](span, "s3", "PutObject", {"Bucket": "b"})
    assert span.attributes == {"aws.s3.bucket": "b"}
    assert len(calls) == 1
    assert kwargs["response_hook"] is hooks.botocore_response_hook


def test_load_instrumentor_gives_httpx_sync_and_async_hooks() -> None:
    SeamscopeDistro().load_instrumentor(_FakeEntryPoint("httpx"))
    kwargs = _FakeInstrumentor.seen
    assert kwargs["request_hook"] is hooks.httpx_request_hook
    assert kwargs["response_hook"] is hooks.httpx_response_hook
    import inspect

    assert inspect.iscoroutinefunction(kwargs["async_request_hook"])
    assert inspect.iscoroutinefunction(kwargs["async_response_hook"])


def test_other_instrumentors_get_kwargs_untouched() -> None:
    SeamscopeDistro().load_instrumentor(_FakeEntryPoint("flask"), skip_dep_check=True)
    assert _FakeInstrumentor.seen == {"skip_dep_check": True}


def test_hook_kwargs_chain_async_caller_hooks() -> None:
    import asyncio

    seen: list[str] = []

    async def theirs(span: Any, request: Any) -> None:
        seen.append("theirs")

    kwargs = hook_kwargs("httpx", {"async_request_hook": theirs})
    asyncio.run(kwargs["async_request_hook"](_Span(), object()))
    assert seen == ["theirs"]


_PROBE = """
import json, os
from opentelemetry import trace
provider = trace.get_tracer_provider()
processors = provider._active_span_processor._span_processors
exporters = [type(p._batch_processor._exporter).__name__ for p in processors]
print(json.dumps({k: os.environ.get(k) for k in (
    "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER",
    "OTEL_SEMCONV_STABILITY_OPT_IN")} | {"exporters": exporters}))
"""


def _instrument(tmp_path: Path, env: dict[str, str]) -> dict[str, Any]:
    bin_dir = Path(sys.executable).parent
    script = tmp_path / "probe.py"
    script.write_text(_PROBE)
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    run_env.update(env, PATH=f"{bin_dir}{os.pathsep}{run_env.get('PATH', '')}")
    run_env["SEAMSCOPE_DB"] = str(tmp_path / "s.duckdb")
    out = subprocess.run(
        [str(bin_dir / "opentelemetry-instrument"), "python", str(script)],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_opentelemetry_instrument_uses_seamscope_with_no_flags(tmp_path: Path) -> None:
    seen = _instrument(tmp_path, {"OTEL_SERVICE_NAME": "probe"})
    assert seen == {
        "OTEL_TRACES_EXPORTER": "seamscope",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SEMCONV_STABILITY_OPT_IN": "http/dup",
        "exporters": ["SeamscopeSpanExporter"],
    }


def test_users_otel_settings_win(tmp_path: Path) -> None:
    seen = _instrument(
        tmp_path, {"OTEL_TRACES_EXPORTER": "console", "OTEL_SEMCONV_STABILITY_OPT_IN": "http"}
    )
    assert seen["OTEL_TRACES_EXPORTER"] == "console"
    assert seen["OTEL_SEMCONV_STABILITY_OPT_IN"] == "http"
    assert seen["exporters"] == ["ConsoleSpanExporter"]
