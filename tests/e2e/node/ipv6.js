'use strict';
// A small HTTP service on an IPv6 address, traced only by the stock OpenTelemetry
// auto-instrumentation (node --require @opentelemetry/auto-instrumentations-node/register),
// exporting OTLP/HTTP wherever OTEL_EXPORTER_OTLP_* says. It knows nothing of seamscope.
//
//   POST /call      GET <PEER_URL>/invoices/42 with node:http, then with fetch (undici), then
//                   once more with node:http through a URL with user info (PEER_AUTH_URL)
//   GET  /invoices/:id, GET /health
//
// It listens on HOST (`::1`) and PORT.
const http = require('node:http');

const env = process.env;

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

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

async function call() {
  const viaHttp = await get(`${env.PEER_URL}/invoices/42`);
  const viaFetch = (await fetch(`${env.PEER_URL}/invoices/42`)).status;
  const withUserInfo = await get(`${env.PEER_AUTH_URL}/invoices/7`);
  return { http: viaHttp, fetch: viaFetch, auth: withUserInfo };
}

const server = http.createServer((req, res) => {
  const route =
    req.method === 'POST' && req.url === '/call'
      ? call
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

process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});

server.listen(Number(env.PORT), env.HOST);
