"""The demo fleet: programs run by path under ``opentelemetry-instrument``, never imported.

They import only boto3, httpx, flask and the OpenTelemetry API, as any service would: tracing them
needs no change to their code.
"""
