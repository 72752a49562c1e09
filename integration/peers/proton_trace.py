#!/usr/bin/env python3
"""Trace-context interop with Qpid Proton Python's own tracing, proton.tracing.

  proton_trace.py send URL ADDRESS
  proton_trace.py recv URL ADDRESS

Importing proton.tracing patches Proton's Sender and message handlers: each
send starts an 'amqp-delivery-send' span and the Jaeger tracer injects its
context (TEXT_MAP: uber-trace-id) into the message annotation
x-opt-qpid-tracestate; each received message is handled inside an
'amqp-delivery-receive' span, the child of the context the tracer extracts
from there. proton.tracing needs opentracing and jaeger-client, so run this
with the Proton 0.40 venv's python (.ci/run installs both there).

send: sends one message, waits for it to be accepted and prints the send
span as JSON: {"trace_id": ..., "span_id": ...}.
recv: receives one message and prints, from inside the receive span,
{"trace_id": ..., "span_id": ..., "parent_id": ..., "headers": {...}}, the
headers being the annotation's map as received.
Ids are lower-case hex, trace ids 32 digits, span ids 16, a missing parent "".
"""

import json
import sys

import jaeger_client

# Proton's init_tracer configures jaeger-client with defaults: a remote
# sampler that samples one trace in a thousand. Only the first
# Config.initialize_tracer call takes effect, so this one, sampling every
# trace, is the tracer Proton picks up. Its reporter sends UDP to a Jaeger
# agent on the loopback that need not be there: nothing here reads it.
jaeger_client.Config(
    config={
        'sampler': {'type': 'const', 'param': 1},
        'local_agent': {'reporting_host': '127.0.0.1'},
    },
    service_name='proton_trace',
    validate=True,
).initialize_tracer()

import proton.tracing  # noqa: E402  (patches proton before the handlers exist)
from proton import Message  # noqa: E402
from proton.handlers import MessagingHandler  # noqa: E402
from proton.reactor import Container  # noqa: E402

TRACER = proton.tracing.init_tracer('proton_trace')


def trace_hex(n):
    return format(n, '032x')


def span_hex(n):
    return format(n, '016x') if n else ""


class Send(MessagingHandler):
    def __init__(self, url, address):
        super(Send, self).__init__()
        self.url, self.address = url, address
        self.span = None
        self.status = 1

    def on_start(self, event):
        conn = event.container.connect(self.url)
        event.container.create_sender(conn, self.address)

    def on_sendable(self, event):
        if self.span is not None:
            return
        delivery = event.sender.send(Message(body="traced by proton"))
        self.span = delivery.span

    def on_accepted(self, event):
        print(json.dumps({"trace_id": trace_hex(self.span.trace_id), "span_id": span_hex(self.span.span_id)}))
        sys.stdout.flush()
        self.status = 0
        event.connection.close()

    def on_rejected(self, event):
        event.connection.close()


class Recv(MessagingHandler):
    def __init__(self, url, address):
        super(Recv, self).__init__()
        self.url, self.address = url, address
        self.status = 1

    def on_start(self, event):
        conn = event.container.connect(self.url)
        event.container.create_receiver(conn, self.address)

    def on_message(self, event):
        span = TRACER.active_span
        headers = (event.message.annotations or {}).get(proton.symbol('x-opt-qpid-tracestate')) or {}
        print(json.dumps({
            "trace_id": trace_hex(span.trace_id),
            "span_id": span_hex(span.span_id),
            "parent_id": span_hex(span.parent_id),
            "headers": {str(k): str(v) for k, v in headers.items()},
        }))
        sys.stdout.flush()
        self.status = 0
        event.connection.close()


def main():
    mode = sys.argv[1]
    if mode == "send":
        h = Send(sys.argv[2], sys.argv[3])
    elif mode == "recv":
        h = Recv(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: proton_trace.py send|recv URL ADDRESS")
    Container(h).run()
    sys.exit(h.status)


if __name__ == "__main__":
    main()
