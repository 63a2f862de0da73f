"""`seamscope discover aws`: read the account's wiring (EventBridge rules and targets, SNS
subscriptions, event-source mappings) and store it as routes for the classifier."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from seamscope.tracer.aws import require_boto3
from seamscope.tracer.discover import ROUTE_KINDS, discover_aws, store_routes
from seamscope.tracer.otlp import one_line
from seamscope.tracer.store import default_db_path


@click.group()
def discover() -> None:
    """Read how your cloud account routes events, for joins the spans cannot make alone."""


@discover.command(short_help="Store the account's event routes as the classifier's wiring.")
@click.option(
    "--db",
    "db",
    type=click.Path(path_type=Path),
    default=None,
    help="The store (default: $SEAMSCOPE_DB or ./seamscope.duckdb).",
)
@click.option("--region", default=None, help="The region to read (default: the AWS chain's).")
@click.option(
    "--profile", default=None, help="A profile of your AWS config (default: the chain's)."
)
def aws(db: Path | None, region: str | None, profile: str | None) -> None:
    """Store the account's EventBridge rules and targets, SNS subscriptions and event-source
    mappings (Lambda from SQS, DynamoDB streams and Kinesis) as routes.

    Credentials, region and endpoint come from the standard AWS chain (AWS_PROFILE,
    AWS_REGION, AWS_ENDPOINT_URL, ...). Only read-only calls are made (List*, Describe*, Get*;
    any other is refused before it is sent). A rerun replaces what the last run stored for the
    same account and region. While `seamscope collect` or a live TUI owns the store, the routes
    go to it.
    """
    require_boto3("discover aws")
    db_path = db or default_db_path()
    found = discover_aws(region, profile)
    via = store_routes(db_path, found)
    for line in found.skipped:
        click.echo(f"seamscope: skipped {one_line(line)}", err=True)
    for line in found.failures:
        click.echo(f"seamscope: could not read {one_line(line)}", err=True)
    counts = ", ".join(
        f"{found.count(kind)} {kind}" for kind in ROUTE_KINDS if kind in found.kinds_read
    )
    where = f" through the owner at {via}" if via else ""
    click.echo(
        f"seamscope: account {found.account}, {found.region}: {counts or 'nothing read'}; "
        f"stored in {db_path}{where}"
    )
    if found.failures:
        sys.exit(1)
