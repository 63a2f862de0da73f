"""The demo fleet: moto's server, small real services under opentelemetry-instrument, vendors."""
