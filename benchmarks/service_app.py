"""A small traced service for the exporter benchmark: each request makes real AWS and HTTP calls.

Run under `opentelemetry-instrument python benchmarks/service_app.py PORT MOTO_URL`. GET /work
does a DynamoDB GetItem and PutItem, an SQS SendMessage (boto3 against the moto server) and an
httpx GET (the moto server's dashboard page), so one request makes six spans: the Flask server span,
four botocore spans and the httpx span.
"""

from __future__ import annotations

import os
import sys

import boto3
import httpx
from flask import Flask

PORT = int(sys.argv[1])
MOTO = sys.argv[2]
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")

dynamodb = boto3.client("dynamodb", endpoint_url=MOTO, region_name="eu-west-1")
sqs = boto3.client("sqs", endpoint_url=MOTO, region_name="eu-west-1")
http = httpx.Client(base_url=MOTO)
try:
    dynamodb.create_table(
        TableName="Orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
except dynamodb.exceptions.ResourceInUseException:
    pass
# A queue of its own per run: moto slows with every message a queue holds, and the benchmark
# runs each configuration several times against one server.
QUEUE = sqs.create_queue(QueueName=f"orders-q-{PORT}")["QueueUrl"]
app = Flask(__name__)
counter = 0


@app.get("/work")
def work() -> dict[str, int]:
    global counter
    counter += 1
    key = {"id": {"S": f"order-{counter % 100}"}}
    dynamodb.get_item(TableName="Orders", Key=key)
    dynamodb.put_item(TableName="Orders", Item={**key, "n": {"N": str(counter)}})
    sqs.send_message(QueueUrl=QUEUE, MessageBody=f"order {counter}")
    http.get("/moto-api/")
    return {"n": counter}


@app.get("/ready")
def ready() -> str:
    return "ok"


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=PORT, threaded=False)
