"""`seamscope discover aws` as a process against moto's standalone server: the wiring made with
boto3 lands in aws_routes, a rerun replaces it, a running `seamscope collect` takes it.

Every test reads a region of its own: moto is shared by the session, and discover reads a whole
account and region.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest

from seamscope.tracer.aws import WriteRefused, read_only_session
from tests.e2e.test_collect import SEAMSCOPE, start_collector

pytestmark = pytest.mark.e2e

ACCOUNT = "123456789012"  # moto's


def aws_env(endpoint: str, region: str) -> dict[str, str]:
    """How a user points the standard chain at an account: nothing seamscope-specific."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    return env


def discover(db: Path, endpoint: str, region: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SEAMSCOPE, "discover", "aws", "--db", str(db)],
        env=aws_env(endpoint, region),
        capture_output=True,
        text=True,
        timeout=120,
    )


class Account:
    """boto3 clients (not read-only: the test builds the wiring) for one region of moto."""

    def __init__(self, endpoint: str, region: str) -> None:
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        )
        self.region = region

        def client(name: str) -> Any:
            return session.client(name, endpoint_url=endpoint)  # type: ignore[call-overload]

        self.sqs, self.events, self.sns = client("sqs"), client("events"), client("sns")
        self.lam, self.iam, self.ddb = client("lambda"), client("iam"), client("dynamodb")
        self.kinesis = client("kinesis")

    def queue(self, name: str) -> str:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def function(self, name: str) -> str:
        role = self.iam.create_role(
            RoleName=f"{name}-{self.region}", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as zf:
            zf.writestr("handler.py", "def handle(event, context):\n    return None\n")
        created = self.lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="handler.handle",
            Code={"ZipFile": code.getvalue()},
        )
        return str(created["FunctionArn"])


def rows(db: Path) -> set[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        found = con.execute(
            "SELECT kind, source, target, event_sources, detail_types, pattern::VARCHAR, origin, "
            "account, region FROM aws_routes"
        ).fetchall()
    finally:
        con.close()
    return {tuple(tuple(v) if isinstance(v, list) else v for v in row) for row in found}


def test_the_wiring_is_stored_and_a_rerun_replaces_it(moto_endpoint: str, tmp_path: Path) -> None:
    region = "ap-southeast-2"
    aws = Account(moto_endpoint, region)
    orders_q = aws.queue("billing-orders")
    audit_q = aws.queue("audit")
    aws.events.create_event_bus(Name="commerce")
    order_placed = {"source": ["orders"], "detail-type": ["OrderPlaced", "OrderChanged"]}
    aws.events.put_rule(
        Name="orders-to-billing", EventBusName="commerce", EventPattern=json.dumps(order_placed)
    )
    aws.events.put_targets(
        Rule="orders-to-billing",
        EventBusName="commerce",
        Targets=[{"Id": "billing", "Arn": orders_q}, {"Id": "audit", "Arn": audit_q}],
    )
    anything = {"source": [{"prefix": "partner."}]}
    aws.events.put_rule(Name="partners-to-audit", EventPattern=json.dumps(anything))
    aws.events.put_targets(Rule="partners-to-audit", Targets=[{"Id": "a", "Arn": audit_q}])
    aws.events.put_rule(Name="nightly", ScheduleExpression="rate(1 day)")
    topic = aws.sns.create_topic(Name="digests")["TopicArn"]
    policy = {"kind": ["daily"]}
    aws.sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=audit_q,
        Attributes={"FilterPolicy": json.dumps(policy)},
    )
    subscription = aws.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=orders_q)
    aws.sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.org")
    function = aws.function("order-handler")
    aws.lam.create_event_source_mapping(EventSourceArn=orders_q, FunctionName=function)
    aws.ddb.create_table(
        TableName="Orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    stream = aws.ddb.describe_table(TableName="Orders")["Table"]["LatestStreamArn"]
    aws.lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName="order-handler", StartingPosition="LATEST"
    )
    aws.kinesis.create_stream(StreamName="clicks", ShardCount=1)
    clicks = aws.kinesis.describe_stream(StreamName="clicks")["StreamDescription"]["StreamARN"]
    aws.lam.create_event_source_mapping(
        EventSourceArn=clicks, FunctionName=function, StartingPosition="LATEST"
    )
    # Another region's wiring, discovered first: the reruns below must leave it alone.
    other = Account(moto_endpoint, "ca-central-1")
    other.sns.subscribe(
        TopicArn=other.sns.create_topic(Name="elsewhere")["TopicArn"],
        Protocol="sqs",
        Endpoint=other.queue("elsewhere-q"),
    )
    db = tmp_path / "routes.duckdb"
    first = discover(db, moto_endpoint, "ca-central-1")
    assert first.returncode == 0, first.stderr

    done = discover(db, moto_endpoint, region)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"seamscope: account {ACCOUNT}, {region}: 3 eventbridge-rule, 2 sns-subscription, "
        "1 lambda-event-source, 1 dynamodb-stream-consumer, 1 kinesis-consumer; "
        f"stored in {db}"
    )
    assert "seamscope: skipped rule nightly on bus default: no event pattern (a schedule)" in (
        done.stderr.splitlines()
    )
    assert any(
        "email to ops@example.org is no queue or function" in line
        for line in (done.stderr.splitlines())
    )
    kept = ("sns-subscription", "sns:topic/elsewhere", "sqs:queue/elsewhere-q", None, None, None,
            "discovered", ACCOUNT, "ca-central-1")  # fmt: skip
    here = ("discovered", ACCOUNT, region)
    pattern = json.dumps(order_placed, sort_keys=True)
    expected = {
        kept,
        ("eventbridge-rule", "events:bus/commerce", "sqs:queue/billing-orders", ("orders",),
         ("OrderPlaced", "OrderChanged"), pattern, *here),
        ("eventbridge-rule", "events:bus/commerce", "sqs:queue/audit", ("orders",),
         ("OrderPlaced", "OrderChanged"), pattern, *here),
        # A content filter is no exact value: the list is empty, the pattern says the rest.
        ("eventbridge-rule", "events:bus/default", "sqs:queue/audit", (), None,
         json.dumps(anything), *here),
        ("sns-subscription", "sns:topic/digests", "sqs:queue/audit", None, None,
         json.dumps(policy), *here),
        ("sns-subscription", "sns:topic/digests", "sqs:queue/billing-orders", None, None, None,
         *here),
        ("lambda-event-source", "sqs:queue/billing-orders", "lambda:function/order-handler",
         None, None, None, *here),
        ("dynamodb-stream-consumer", "dynamodb:stream/Orders", "lambda:function/order-handler",
         None, None, None, *here),
        ("kinesis-consumer", "kinesis:stream/clicks", "lambda:function/order-handler",
         None, None, None, *here),
    }  # fmt: skip
    assert rows(db) == expected

    aws.events.remove_targets(Rule="orders-to-billing", EventBusName="commerce", Ids=["audit"])
    aws.events.remove_targets(Rule="partners-to-audit", Ids=["a"])
    aws.events.delete_rule(Name="partners-to-audit")
    aws.sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])

    again = discover(db, moto_endpoint, region)

    assert again.returncode == 0, again.stderr
    gone = {r for r in expected if r[2] == "sqs:queue/audit" and r[0] == "eventbridge-rule"} | {
        r for r in expected if r[0] == "sns-subscription" and r[2] == "sqs:queue/billing-orders"
    }
    assert len(gone) == 3
    assert rows(db) == expected - gone


def test_routes_arrive_through_a_running_collect(moto_endpoint: str, tmp_path: Path) -> None:
    region = "sa-east-1"
    aws = Account(moto_endpoint, region)
    queue = aws.queue("intake")
    aws.events.put_rule(Name="to-intake", EventPattern=json.dumps({"source": ["shop"]}))
    aws.events.put_targets(Rule="to-intake", Targets=[{"Id": "q", "Arn": queue}])
    db = tmp_path / "owned.duckdb"
    collector = start_collector(db, tmp_path)
    try:
        done = discover(db, moto_endpoint, region)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().endswith(f"through the owner at {collector.url}")
        seen = subprocess.run(
            [*SEAMSCOPE, "sql", "--db", str(db), "--csv",
             "SELECT kind, source, target, event_sources FROM aws_routes"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert seen.returncode == 0, seen.stderr
        assert seen.stdout.splitlines() == [
            "kind,source,target,event_sources",
            'eventbridge-rule,events:bus/default,sqs:queue/intake,"[""shop""]"',
        ]
    finally:
        collector.process.stop()
    assert rows(db) == {
        ("eventbridge-rule", "events:bus/default", "sqs:queue/intake", ("shop",), None,
         '{"source": ["shop"]}', "discovered", ACCOUNT, region)
    }  # fmt: skip


def test_the_guard_keeps_moto_unchanged(moto_endpoint: str) -> None:
    region = "eu-south-1"
    guarded = read_only_session(region).client(
        "sqs",
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with pytest.raises(WriteRefused):
        guarded.create_queue(QueueName="never")
    assert "QueueUrls" not in guarded.list_queues()


def test_unreachable_aws_and_a_missing_boto3_are_one_line(tmp_path: Path) -> None:
    env = aws_env("http://127.0.0.1:9", "us-east-1")
    done = subprocess.run(
        [*SEAMSCOPE, "discover", "aws", "--db", str(tmp_path / "x.duckdb")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("seamscope: AWS did not answer: Could not connect")
    assert len(done.stderr.strip().splitlines()) == 1
    code = (
        "import sys; sys.modules['boto3'] = None; "
        "from seamscope.cli.main import main; main(['discover', 'aws'])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "seamscope: discover aws needs boto3: pip install './seamscope[aws]' "
        "(the path of your seamscope clone)"
    )
    assert not (tmp_path / "x.duckdb").exists()


def test_an_endpoint_that_answers_other_than_aws_is_one_line_per_service(
    moto_endpoint: str, tmp_path: Path
) -> None:
    """moto answers SNS in a region it does not know with an HTML error page, as a proxy or a
    wrong AWS_ENDPOINT_URL does: botocore's ResponseParserError ended the run in a traceback."""
    done = discover(tmp_path / "x.duckdb", moto_endpoint, "xx-nowhere-1")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    sns = [line for line in lines if line.startswith("seamscope: could not read sns: ")]
    assert len(sns) == 1, lines
    assert "did not answer as AWS does" in sns[0]
    assert "500 Internal Server Error" in sns[0]
    assert sns[0].endswith("its routes were left as they were")
    # The HTML page of a ClientError is one short line too, not its escaped line ends.
    events = [line for line in lines if line.startswith("seamscope: could not read events: ")]
    assert events and "500 on ListEventBuses: <!doctype html> <html" in events[0], lines
    assert all(len(line) < 400 for line in lines), lines
    assert done.stdout.startswith("seamscope: account 123456789012, xx-nowhere-1: nothing read")
