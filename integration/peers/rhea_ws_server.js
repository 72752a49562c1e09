#!/usr/bin/env node
// A rhea 3 AMQP server on WebSockets (npm ws) used by the amq integration
// suite: an amqpws:// peer that is neither amq nor Netty.
//
//   node rhea_ws_server.js HOST PORT
//
// It listens on HOST:PORT (PORT 0: any free one), prints "listening on
// PORT" on stdout, and answers WebSocket upgrades that offer subprotocol
// "amqp" (and only those) with an AMQP connection (SASL ANONYMOUS). It is
// a minimal in-memory queue: a message sent to an address is accepted and
// kept until a receiving link on that address has credit; messages go out
// in the order they came in, each to one receiver, unsettled until the
// receiver settles it (a released one goes back to the head of its queue;
// one left unsettled when its link or connection goes is lost: the tests
// settle all they get).
// SIGINT or SIGTERM stops it.
//
// rhea and ws are resolved through NODE_PATH (the harness points it at
// integration/.peers/node_modules).
'use strict';

const rhea = require('rhea');
const WebSocket = require('ws');

if (process.argv.length !== 4) {
  process.stderr.write('usage: rhea_ws_server.js HOST PORT\n');
  process.exit(2);
}
const host = process.argv[2];
const port = parseInt(process.argv[3], 10);

const container = rhea.create_container({ id: 'rhea-ws-server-' + process.pid });
container.sasl_server_mechanisms.enable_anonymous();

// queues: address -> { messages: [], senders: [] }
const queues = new Map();
function queue(address) {
  let q = queues.get(address);
  if (!q) {
    q = { messages: [], senders: [] };
    queues.set(address, q);
  }
  return q;
}

function pump(q) {
  let progress = true;
  while (q.messages.length > 0 && progress) {
    progress = false;
    for (const s of q.senders) {
      if (q.messages.length === 0) break;
      if (s.sendable()) {
        const m = q.messages.shift();
        s.send(m).queued_message = m;
        progress = true;
      }
    }
  }
}

container.on('sender_open', (ctx) => {
  // the client's receiving link: serve its source address
  const address = ctx.sender.source && ctx.sender.source.address;
  ctx.sender.set_source({ address: address });
  const q = queue(address);
  ctx.sender.queue = q;
  q.senders.push(ctx.sender);
});
container.on('receiver_open', (ctx) => {
  const address = ctx.receiver.target && ctx.receiver.target.address;
  ctx.receiver.set_target({ address: address });
});
container.on('sendable', (ctx) => pump(ctx.sender.queue));
container.on('message', (ctx) => {
  const q = queue(ctx.receiver.target.address);
  q.messages.push(ctx.message);
  pump(q);
});
container.on('released', (ctx) => {
  const q = ctx.sender.queue;
  q.messages.unshift(ctx.delivery.queued_message);
  pump(q);
});
function unlink(sender) {
  if (sender && sender.queue) {
    sender.queue.senders = sender.queue.senders.filter((s) => s !== sender);
  }
}
container.on('sender_close', (ctx) => unlink(ctx.sender));
container.on('disconnected', (ctx) => {
  for (const q of queues.values()) {
    q.senders = q.senders.filter((s) => s.connection !== ctx.connection);
  }
});
container.on('error', (ctx) => process.stderr.write('rhea_ws_server: error: ' + (ctx.error || ctx) + '\n'));

const server = new WebSocket.WebSocketServer({
  host: host,
  port: port,
  handleProtocols: (protocols) => (protocols.has('amqp') ? 'amqp' : false),
});
server.on('connection', (socket) => container.websocket_accept(socket));
server.on('listening', () => process.stdout.write('listening on ' + server.address().port + '\n'));
server.on('error', (err) => {
  process.stderr.write('rhea_ws_server: ' + err + '\n');
  process.exit(1);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
