'use strict';
// The demo's webapp BFF in Node.js: one GraphQL endpoint aggregating the REST APIs behind it
// (P102), the same service as webapp_bff in ../actor.py, which runs where node is not installed.
// It knows nothing of seamscope: the stock OpenTelemetry auto-instrumentation traces it
// (node --require @opentelemetry/auto-instrumentations-node/register) and exports OTLP/HTTP
// wherever OTEL_EXPORTER_OTLP_* says.
//
//   POST /graphql   GET <inventory-api>/items/sku-1 and GET <providers-api>/providers/prov-1
//
// DEMO_PORT: where it listens (127.0.0.1); DEMO_URLS: JSON, service name -> base URL.
const http = require('node:http');

const URLS = JSON.parse(process.env.DEMO_URLS || '{}');
const MAX_BODY = 64 * 1024;

function getJson(url) {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'));
        } catch (error) {
          reject(error);
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error(`${url}: no answer within 5 s`)));
    request.on('error', reject);
  });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        req.destroy();
        reject(new Error('the body is too large'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function graphql(req) {
  let operation = '';
  try {
    operation = JSON.parse((await readBody(req)) || '{}').operationName || '';
  } catch {
    // A body that is no JSON is still answered: the BFF of the demo is not strict.
  }
  const items = [await getJson(`${URLS['inventory-api']}/items/sku-1`)];
  const provider = await getJson(`${URLS['providers-api']}/providers/prov-1`);
  return { data: { operation, shortlist: items, provider } };
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/graphql') {
    reply(res, 404, { error: `no route ${req.method} ${req.url}` });
    return;
  }
  graphql(req).then(
    (body) => reply(res, 200, body),
    (error) => {
      console.error(`webapp-bff: ${error}`);
      reply(res, 502, { errors: [{ message: String(error) }] });
    },
  );
});

// The instrumentation's own SIGTERM handler flushes the spans; closing the server lets the
// process end once that is done. Where the receiver has gone first (the live TUI quit), the
// exporter would retry until the demo kills it: three seconds are plenty on loopback.
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 3000).unref();
});

server.listen(Number(process.env.DEMO_PORT), '127.0.0.1', () => {
  console.error('webapp-bff: ready (Node.js)');
});
