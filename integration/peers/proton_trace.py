#!/usr/bin/python3
"""Trace-context interop with Qpid Proton Python, as proton/_tracing.py does it.

  proton_trace.py send URL ADDRESS TRACEPARENT
  proton_trace.py recv URL ADDRESS

Debian's Python has no opentracing/jaeger_client, so the context is written
and read by hand exactly where Proton's tracing puts it: the message
annotation x-opt-qpid-tracestate (a symbol key) holding the tracer's
TEXT_MAP headers as a dict of strings.
send: sends one message carrying {"traceparent": TRACEPARENT} there and
waits for it to be accepted.
recv: receives one message and prints, as JSON, the headers found there:
{"headers": {...}} (empty when the annotation is missing).
Run it with /usr/bin/python3 (Debian's python3-qpid-proton).
"""

import json
import sys

from proton import Message, symbol
from proton.handlers import MessagingHandler
from proton.reactor import Container

TRACE_KEY = symbol('x-opt-qpid-tracestate')


class Send(MessagingHandler):
    def __init__(self, url, address, traceparent):
        super(Send, self).__init__()
        self.url, self.address, self.traceparent = url, address, traceparent
        self.sent = False
        self.status = 1

    def on_start(self, event):
        conn = event.container.connect(self.url)
        event.container.create_sender(conn, self.address)

    def on_sendable(self, event):
        if self.sent:
            return
        msg = Message(body="traced by proton")
        msg.annotations = {TRACE_KEY: {"traceparent": self.traceparent}}
        event.sender.send(msg)
        self.sent = True

    def on_accepted(self, event):
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
        ann = event.message.annotations or {}
        headers = ann.get(TRACE_KEY) or {}
        print(json.dumps({"headers": {str(k): str(v) for k, v in headers.items()}}))
        sys.stdout.flush()
        self.status = 0
        event.connection.close()


def main():
    mode = sys.argv[1]
    if mode == "send":
        h = Send(sys.argv[2], sys.argv[3], sys.argv[4])
    elif mode == "recv":
        h = Recv(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: proton_trace.py send URL ADDRESS TRACEPARENT | recv URL ADDRESS")
    Container(h).run()
    sys.exit(h.status)


if __name__ == "__main__":
    main()
