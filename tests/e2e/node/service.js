'use strict';
// A small HTTP service that knows nothing of seamscope: it is traced only by the stock
// OpenTelemetry auto-instrumentation (node --require @opentelemetry/auto-instrumentations-node/register)
// and exports OTLP/HTTP wherever OTEL_EXPORTER_OTLP_* says. The AWS SDK finds its endpoint and
// region in AWS_ENDPOINT_URL and AWS_REGION.
//
//   POST /checkout   one call of each: DynamoDB PutItem and GetItem, SQS SendMessage, SNS Publish,
//                    EventBridge PutEvents, Kinesis PutRecord, and GET <PEER_URL>/invoices/42
//   POST /poll       SQS ReceiveMessage, Kinesis GetShardIterator and GetRecords
//   GET  /invoices/:id, GET /health
//
// Resource names come from TABLE, QUEUE_URL, TOPIC_ARN, EVENT_BUS, STREAM.
const http = require('node:http');
const { DynamoDBClient, GetItemCommand, PutItemCommand } = require('@aws-sdk/client-dynamodb');
const { EventBridgeClient, PutEventsCommand } = require('@aws-sdk/client-eventbridge');
const {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordCommand,
} = require('@aws-sdk/client-kinesis');
const { PublishCommand, SNSClient } = require('@aws-sdk/client-sns');
const { ReceiveMessageCommand, SendMessageCommand, SQSClient } = require('@aws-sdk/client-sqs');
const { NodeHttpHandler } = require('@smithy/node-http-handler');

const env = process.env;
const aws = { endpoint: env.AWS_ENDPOINT_URL, region: env.AWS_REGION };
const dynamodb = new DynamoDBClient(aws);
const sqs = new SQSClient(aws);
const sns = new SNSClient(aws);
const events = new EventBridgeClient(aws);
// The Kinesis client speaks HTTP/2 by default; moto's server, like most stand-ins, HTTP/1.1.
const kinesis = new KinesisClient({ ...aws, requestHandler: new NodeHttpHandler() });

function get(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      })
      .on('error', reject);
  });
}

async function checkout() {
  const key = { pk: { S: 'order-42' } };
  await dynamodb.send(new PutItemCommand({ TableName: env.TABLE, Item: { ...key, total: { N: '7' } } }));
  await dynamodb.send(new GetItemCommand({ TableName: env.TABLE, Key: key }));
  await sqs.send(new SendMessageCommand({ QueueUrl: env.QUEUE_URL, MessageBody: '{"order": 42}' }));
  await sns.send(new PublishCommand({ TopicArn: env.TOPIC_ARN, Message: '{"order": 42}' }));
  await events.send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: env.EVENT_BUS,
          Source: 'orders',
          DetailType: 'OrderPlaced',
          Detail: '{"order": 42}',
        },
      ],
    }),
  );
  await kinesis.send(
    new PutRecordCommand({ StreamName: env.STREAM, PartitionKey: 'order-42', Data: Buffer.from('42') }),
  );
  const status = await get(`${env.PEER_URL}/invoices/42`);
  return { peer: status };
}

async function poll() {
  const received = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: env.QUEUE_URL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
  );
  const iterator = await kinesis.send(
    new GetShardIteratorCommand({
      StreamName: env.STREAM,
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'TRIM_HORIZON',
    }),
  );
  const records = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator.ShardIterator }));
  return { messages: (received.Messages || []).length, records: records.Records.length };
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  const route =
    req.method === 'POST' && req.url === '/checkout'
      ? checkout
      : req.method === 'POST' && req.url === '/poll'
        ? poll
        : req.method === 'GET' && /^\/invoices\/\d+$/.test(req.url)
          ? async () => ({ invoice: req.url.split('/')[2] })
          : req.method === 'GET' && req.url === '/health'
            ? async () => ({ ok: true })
            : null;
  if (route === null) {
    reply(res, 404, { error: `no route ${req.method} ${req.url}` });
    return;
  }
  route().then(
    (body) => reply(res, 200, body),
    (error) => reply(res, 500, { error: String(error) }),
  );
});

// The instrumentation's own SIGTERM handler flushes the spans; closing the server lets the
// process end once that is done.
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});

server.listen(Number(env.PORT), '127.0.0.1');
