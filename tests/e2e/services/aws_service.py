"""An instrumented service that makes every integration call the capture tests look for.

Talks to moto's standalone server (AWS_ENDPOINT_URL) with boto3 and to the HTTP API with httpx;
prints a JSON summary of the names it created so the test asserts against what really happened.
Usage: aws_service.py <http api base url> <unique prefix>
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import boto3
import httpx


def _receive(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        if got.get("Messages"):
            return list(got["Messages"])
    raise SystemExit(f"nothing arrived on {queue_url}")


def main() -> None:
    api, prefix = sys.argv[1], sys.argv[2]
    ddb = boto3.client("dynamodb")
    streams = boto3.client("dynamodbstreams")
    events = boto3.client("events")
    sqs = boto3.client("sqs")
    sns = boto3.client("sns")
    kinesis = boto3.client("kinesis")
    s3 = boto3.client("s3")

    orders, stock = f"{prefix}-Orders", f"{prefix}-Stock"
    table = ddb.create_table(
        TableName=orders,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    stream_arn = table["TableDescription"]["LatestStreamArn"]
    ddb.create_table(
        TableName=stock,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=orders, Item={"pk": {"S": "o-1"}, "total": {"N": "12"}})
    ddb.query(
        TableName=orders,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "o-1"}},
    )
    ddb.scan(TableName=stock)
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": orders, "Item": {"pk": {"S": "o-2"}}}},
            {"Put": {"TableName": stock, "Item": {"pk": {"S": "sku-1"}, "n": {"N": "3"}}}},
        ]
    )

    # The table's stream, read the way a poller does: GetRecords only carries an iterator.
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shards[0]["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)
    streams.get_records(ShardIterator=records["NextShardIterator"])

    # EventBridge: a rule on the default bus delivers to a queue, which we receive.
    events_q = sqs.create_queue(QueueName=f"{prefix}-events-q")["QueueUrl"]
    events_q_arn = sqs.get_queue_attributes(QueueUrl=events_q, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name=f"{prefix}-rule", EventPattern=json.dumps({"source": [f"{prefix}.orders"]})
    )
    events.put_targets(Rule=f"{prefix}-rule", Targets=[{"Id": "q", "Arn": events_q_arn}])
    billing_bus = f"{prefix}-billing"
    events.create_event_bus(Name=billing_bus)
    events.put_events(
        Entries=[
            {
                "Source": f"{prefix}.orders",
                "DetailType": "OrderPlaced",
                "Detail": json.dumps({"id": "o-1"}),
            },
            {
                "Source": f"{prefix}.billing",
                "DetailType": "InvoiceSent",
                "Detail": "{}",
                "EventBusName": billing_bus,
            },
        ]
    )
    _receive(sqs, events_q)

    work_q = sqs.create_queue(QueueName=f"{prefix}-work-q")["QueueUrl"]
    sqs.send_message(QueueUrl=work_q, MessageBody="hello")

    # SNS -> SQS subscription; one Publish by TopicArn, one by TargetArn.
    topic_arn = sns.create_topic(Name=f"{prefix}-order-topic")["TopicArn"]
    topic_q = sqs.create_queue(QueueName=f"{prefix}-topic-q")["QueueUrl"]
    topic_q_arn = sqs.get_queue_attributes(QueueUrl=topic_q, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=topic_q_arn)
    sns.publish(TopicArn=topic_arn, Message="by topic")
    sns.publish(TargetArn=topic_arn, Message="by target")
    _receive(sqs, topic_q)

    stream_name = f"{prefix}-clicks"
    kinesis.create_stream(StreamName=stream_name, ShardCount=1)
    kinesis.put_record(StreamName=stream_name, Data=b"click", PartitionKey="k")

    bucket = f"{prefix}-invoices"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=bucket, Key="inv-1.json", Body=b"{}")

    with httpx.Client(timeout=10) as client:
        client.get(f"{api}/orders/o-1").raise_for_status()
        client.post(
            f"{api}/graphql",
            json={
                # Two operations: operationName picks the one that runs (a mutation).
                "query": "query OrderSummary($id: ID!) { order(id: $id) { id total } }\n"
                "mutation PlaceOrder($id: ID!) { place(id: $id) { id total } }",
                "operationName": "PlaceOrder",
                "variables": {"id": "o-1"},
            },
        ).raise_for_status()

    print(
        json.dumps(
            {
                "orders": orders,
                "stock": stock,
                "stream_arn": stream_arn,
                "billing_bus": billing_bus,
                "topic_arn": topic_arn,
                "stream_name": stream_name,
                "bucket": bucket,
                "events_q": events_q.rsplit("/", 1)[-1],
            }
        )
    )


if __name__ == "__main__":
    main()
