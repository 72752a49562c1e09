#!/usr/bin/env node
// A rhea 3 sender/receiver used by the amq integration suite as an
// independent AMQP 1.0 client (interop both ways).
//
//   node rhea_client.js send URL ADDRESS COUNT [--presettled] [--timeout S]
//   node rhea_client.js recv URL ADDRESS COUNT [--timeout S]
//
// send: sends COUNT messages (body "rhea N", message_id "rhea-N", subject
// "interop", application property seq = N (int), kind = "rhea") and waits
// until every one is settled; any non-accepted outcome fails the run.
// recv: receives COUNT messages, accepts each, and prints one JSON object
// per message on stdout: {"id","body","subject","content_type","props"}.
// It prints "ready" on stderr once the receiving link is attached.
// Exit status 0 only when all COUNT messages went through; a deadline
// (--timeout, 60 s by default) fails the run instead of hanging.
//
// URL is amqp://[user:pass@]host[:port], or amqpws://… (amqpwss://…) with
// an optional path for AMQP over a WebSocket (ws:// or wss://, subprotocol
// "amqp"), which needs the npm package ws.
//
// rhea (and ws) are resolved through NODE_PATH (the harness points it at
// integration/.peers/node_modules).
'use strict';

const rhea = require('rhea');

function usage() {
  process.stderr.write('usage: rhea_client.js send|recv URL ADDRESS COUNT [--presettled] [--timeout S]\n');
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.length < 4) usage();
const [mode, rawURL, address, countStr] = args;
const count = parseInt(countStr, 10);
let presettled = false;
let timeout = 60;
for (let i = 4; i < args.length; i++) {
  if (args[i] === '--presettled') presettled = true;
  else if (args[i] === '--timeout') timeout = parseFloat(args[++i]);
  else usage();
}
if (!(mode === 'send' || mode === 'recv') || !(count >= 0)) usage();

const u = new URL(rawURL);
const opts = {
  host: u.hostname.replace(/^\[|\]$/g, ''),
  port: u.port ? parseInt(u.port, 10) : 5672,
  container_id: 'rhea-interop-' + process.pid,
  reconnect: false,
};
if (u.username) {
  opts.username = decodeURIComponent(u.username);
  opts.password = decodeURIComponent(u.password);
}
if (u.protocol === 'amqpws:' || u.protocol === 'amqpwss:') {
  // AMQP over a WebSocket: the same AMQP (and SASL) bytes, carried in
  // binary WebSocket messages; the upgrade asks for subprotocol "amqp".
  // The credentials stay out of the ws URL (they go in SASL).
  const tls = u.protocol === 'amqpwss:';
  const port = u.port ? u.port : (tls ? '443' : '80');
  // u.hostname keeps the brackets of an IPv6 literal.
  const wsURL = (tls ? 'wss://' : 'ws://') + u.hostname + ':' + port + (u.pathname || '/') + u.search;
  opts.port = parseInt(port, 10);
  opts.connection_details = rhea.websocket_connect(require('ws'))(wsURL, ['amqp']);
}

const container = rhea.create_container();
let conn;
let done = false;

function finish(code, why) {
  if (done) return;
  done = true;
  process.exitCode = code;
  if (why) process.stderr.write(why + '\n');
  const exit = () => process.exit(code);
  if (conn && !conn.is_closed()) {
    conn.once('connection_close', exit);
    conn.close();
    setTimeout(exit, 2000).unref();
  } else {
    exit();
  }
}

setTimeout(() => finish(3, 'rhea_client: deadline of ' + timeout + ' s passed'), timeout * 1000).unref();

container.on('error', (ctx) => finish(1, 'rhea_client: error: ' + (ctx.error || ctx)));
container.on('disconnected', (ctx) => {
  if (!done) finish(1, 'rhea_client: disconnected: ' + (ctx.error || 'no reason'));
});
container.on('connection_error', (ctx) => finish(1, 'rhea_client: connection error: ' + JSON.stringify(ctx.connection.error)));
container.on('sender_error', (ctx) => finish(1, 'rhea_client: sender error: ' + JSON.stringify(ctx.sender.error)));
container.on('receiver_error', (ctx) => finish(1, 'rhea_client: receiver error: ' + JSON.stringify(ctx.receiver.error)));

conn = container.connect(opts);

if (mode === 'send') {
  let sent = 0;
  let settled = 0;
  const linkOpts = { target: { address: address } };
  if (presettled) linkOpts.snd_settle_mode = 1;
  const sender = conn.open_sender(linkOpts);
  const pump = () => {
    while (sent < count && sender.sendable()) {
      sent++;
      sender.send({
        message_id: 'rhea-' + sent,
        subject: 'interop',
        content_type: 'text/plain',
        body: 'rhea ' + sent,
        application_properties: { seq: sent, kind: 'rhea' },
      });
      if (presettled) settled++;
    }
    if (presettled && settled === count) {
      // nothing comes back for pre-settled transfers; a clean close makes
      // sure the broker has read them all before the process exits.
      finish(0);
    }
  };
  container.on('sendable', pump);
  container.on('accepted', () => {
    settled++;
    if (settled === count) finish(0);
  });
  container.on('rejected', (ctx) => finish(1, 'rhea_client: rejected: ' + JSON.stringify(ctx.delivery.remote_state)));
  container.on('released', () => finish(1, 'rhea_client: released'));
  container.on('modified', () => finish(1, 'rhea_client: modified'));
  if (count === 0) finish(0);
} else {
  let got = 0;
  const receiver = conn.open_receiver({ source: { address: address }, credit_window: 100, autoaccept: true });
  receiver.on('receiver_open', () => process.stderr.write('ready\n'));
  container.on('message', (ctx) => {
    const m = ctx.message;
    got++;
    process.stdout.write(JSON.stringify({
      id: m.message_id === undefined ? null : String(m.message_id),
      body: typeof m.body === 'string' ? m.body : (m.body && m.body.content ? m.body.content.toString() : m.body),
      subject: m.subject === undefined ? null : m.subject,
      content_type: m.content_type === undefined ? null : String(m.content_type),
      props: m.application_properties || {},
    }) + '\n');
    if (got === count) finish(0);
  });
  if (count === 0) finish(0);
}
