#!/usr/bin/python3
"""A Qpid Proton Python sender/receiver: the reference client in interop tests.

  proton_client.py send URL ADDRESS COUNT [--presettled] [--timeout S]
  proton_client.py recv URL ADDRESS COUNT [--timeout S]
  proton_client.py serve URL ADDRESS COUNT [--timeout S]
  proton_client.py request URL ADDRESS COUNT [--timeout S]
  proton_client.py types URL ADDRESS COUNT [--timeout S]

send: sends COUNT messages (body "proton N", id "proton-N", subject
"interop", content type text/plain, properties seq = N (int), kind =
"proton") and waits until every one is accepted; any other outcome fails.
recv: receives COUNT messages, accepts each, and prints one JSON object per
message on stdout: {"id","body","subject","content_type","props"}. It prints
"ready" on stderr once the receiving link is attached.
serve: answers COUNT requests received on ADDRESS, each with its body
upper-cased, sent on an anonymous-relay sender to the request's reply-to
with correlation id = the request's id (the shape of Proton's server.py).
It prints "ready" on stderr once the request receiver is attached.
request: opens a receiver with a dynamic source, then sends COUNT requests
("request N", id "req-N", reply-to the dynamic address) to ADDRESS and
checks each reply ("REQUEST N", correlation id "req-N"); it prints one JSON
object per reply: {"reply_to","body","correlation_id"}.
types: sends one message per AMQP type to ADDRESS (the body is a value of
that type, the subject its name), receives them back on the same
connection and compares type and value; it prints "TYPE ok" per match and
fails on any mismatch. COUNT is ignored (one message per type).
Exit status 0 only when all COUNT messages went through; a deadline
(--timeout, 60 s by default) fails the run instead of hanging.
Run it with /usr/bin/python3 (Debian's python3-qpid-proton).
"""

import json
import sys
import uuid

from proton import (Array, Data, Described, Message, UNDESCRIBED, byte, char,
                    decimal32, decimal64, decimal128, float32, int32, short,
                    symbol, timestamp, ubyte, uint, ulong, ushort)
from proton.handlers import MessagingHandler
from proton.reactor import AtMostOnce, Container


class Client(MessagingHandler):
    def __init__(self, mode, url, address, count, presettled, timeout):
        super(Client, self).__init__(prefetch=100 if mode == "recv" else 0,
                                     auto_accept=True)
        self.mode = mode
        self.url = url
        self.address = address
        self.count = count
        self.presettled = presettled
        self.timeout = timeout
        self.sent = 0
        self.settled = 0
        self.got = 0
        self.status = 1
        self.conn = None
        self.timer = None

    def on_start(self, event):
        self.timer = event.container.schedule(self.timeout, self)
        self.conn = event.container.connect(self.url, allowed_mechs="ANONYMOUS PLAIN",
                                            allow_insecure_mechs=True, reconnect=False)
        if self.mode == "send":
            opts = [AtMostOnce()] if self.presettled else None
            event.container.create_sender(self.conn, self.address, options=opts)
        else:
            event.container.create_receiver(self.conn, self.address)
        if self.count == 0:
            self.done(0)

    def on_timer_task(self, event):
        self.done(3, "proton_client: deadline of %s s passed" % self.timeout)

    def done(self, status, why=None):
        if why:
            sys.stderr.write(why + "\n")
        self.status = status
        if self.timer:
            self.timer.cancel()
            self.timer = None
        if self.conn:
            self.conn.close()

    def on_link_opened(self, event):
        if self.mode == "recv" and event.receiver:
            sys.stderr.write("ready\n")
            sys.stderr.flush()

    def on_sendable(self, event):
        while self.sent < self.count and event.sender.credit > 0:
            self.sent += 1
            n = self.sent
            event.sender.send(Message(id="proton-%d" % n, subject="interop",
                                      content_type="text/plain", body="proton %d" % n,
                                      properties={"seq": n, "kind": "proton"}))
            if self.presettled:
                self.settled += 1
        if self.presettled and self.settled == self.count:
            self.done(0)

    def on_accepted(self, event):
        self.settled += 1
        if self.settled == self.count:
            self.done(0)

    def on_rejected(self, event):
        self.done(1, "proton_client: rejected: %s" % event.delivery.remote.condition)

    def on_released(self, event):
        self.done(1, "proton_client: released/modified")

    def on_message(self, event):
        m = event.message
        self.got += 1
        body = m.body
        if isinstance(body, (bytes, memoryview)):
            body = bytes(body).decode("utf-8", "replace")
        print(json.dumps({
            "id": None if m.id is None else str(m.id),
            "body": body,
            "subject": m.subject,
            "content_type": None if m.content_type is None else str(m.content_type),
            "props": dict(m.properties or {}),
        }, default=str))
        sys.stdout.flush()
        if self.got == self.count:
            self.done(0)

    def on_transport_error(self, event):
        self.done(1, "proton_client: transport error: %s" % event.transport.condition)

    def on_connection_error(self, event):
        self.done(1, "proton_client: connection error: %s" % event.connection.remote_condition)

    def on_link_error(self, event):
        self.done(1, "proton_client: link error: %s" % event.link.remote_condition)


class Base(MessagingHandler):
    """Deadline, exit status and error handling shared by the modes below."""

    def __init__(self, url, address, count, timeout, prefetch=100):
        super(Base, self).__init__(prefetch=prefetch, auto_accept=True)
        self.url = url
        self.address = address
        self.count = count
        self.timeout = timeout
        self.status = 1
        self.conn = None
        self.timer = None

    def on_start(self, event):
        self.timer = event.container.schedule(self.timeout, self)
        self.conn = event.container.connect(self.url, allowed_mechs="ANONYMOUS PLAIN",
                                            allow_insecure_mechs=True, reconnect=False)
        self.started(event.container)

    def on_timer_task(self, event):
        self.done(3, "proton_client: deadline of %s s passed" % self.timeout)

    def done(self, status, why=None):
        if why:
            sys.stderr.write(why + "\n")
        self.status = status
        if self.timer:
            self.timer.cancel()
            self.timer = None
        if self.conn:
            self.conn.close()

    def on_rejected(self, event):
        self.done(1, "proton_client: rejected: %s" % event.delivery.remote.condition)

    def on_released(self, event):
        self.done(1, "proton_client: released/modified")

    def on_transport_error(self, event):
        self.done(1, "proton_client: transport error: %s" % event.transport.condition)

    def on_connection_error(self, event):
        self.done(1, "proton_client: connection error: %s" % event.connection.remote_condition)

    def on_link_error(self, event):
        self.done(1, "proton_client: link error: %s" % event.link.remote_condition)


class Server(Base):
    """Proton's server.py: upper-cases each request to its reply-to."""

    def started(self, container):
        self.receiver = container.create_receiver(self.conn, self.address)
        self.relay = container.create_sender(self.conn, None)
        self.served = 0
        self.acked = 0

    def on_link_opened(self, event):
        if event.receiver and event.receiver.name == self.receiver.name:
            sys.stderr.write("ready\n")
            sys.stderr.flush()

    def on_message(self, event):
        m = event.message
        self.relay.send(Message(address=m.reply_to, body=m.body.upper(),
                                correlation_id=m.id))
        self.served += 1

    def on_accepted(self, event):
        self.acked += 1
        if self.acked == self.count:
            self.done(0)


class Requester(Base):
    """Proton's client.py: requests with a dynamic reply address."""

    def started(self, container):
        self.container = container
        self.receiver = container.create_receiver(self.conn, None, dynamic=True)
        self.sender = None
        self.reply_to = None
        self.sent = 0
        self.got = 0

    def on_link_opened(self, event):
        if event.receiver and event.receiver.name == self.receiver.name:
            self.reply_to = event.receiver.remote_source.address
            if not self.reply_to:
                self.done(1, "proton_client: the dynamic source has no address")
                return
            self.sender = self.container.create_sender(self.conn, self.address)

    def on_sendable(self, event):
        while self.sent < self.count and event.sender.credit > 0:
            self.sent += 1
            event.sender.send(Message(id="req-%d" % self.sent, reply_to=self.reply_to,
                                      body="request %d" % self.sent))

    def on_message(self, event):
        m = event.message
        self.got += 1
        print(json.dumps({"reply_to": self.reply_to, "body": m.body,
                          "correlation_id": None if m.correlation_id is None else str(m.correlation_id)}))
        sys.stdout.flush()
        want = ("REQUEST %d" % self.got, "req-%d" % self.got)
        if (m.body, m.correlation_id) != want:
            self.done(1, "proton_client: reply %d is %r / %r, want %r" % (self.got, m.body, m.correlation_id, want))
        elif self.got == self.count:
            self.done(0)


# One value of every AMQP 1.0 type (AMQP 1.0 part 1, section 1.6), as
# Proton Python represents it.
TYPED_VALUES = [
    ("null", None),
    ("boolean", True),
    ("ubyte", ubyte(255)),
    ("ushort", ushort(65535)),
    ("uint", uint(4294967295)),
    ("ulong", ulong(18446744073709551615)),
    ("byte", byte(-128)),
    ("short", short(-32768)),
    ("int", int32(-2147483648)),
    ("long", -9223372036854775808),
    ("float", float32(1.5)),
    ("double", 2.718281828459045),
    ("decimal32", decimal32(0x22500001)),
    ("decimal64", decimal64(0x2238000000000001)),
    ("decimal128", decimal128(b"\x22\x08" + b"\x00" * 13 + b"\x01")),
    ("char", char("\u20ac")),
    ("timestamp", timestamp(1700000000123)),
    ("uuid", uuid.UUID("0f0e0d0c-0b0a-0908-0706-050403020100")),
    ("binary", b"\x00\x01\xfe\xff"),
    ("string", "gr\u00fc\u00dfe \u4e16\u754c"),
    ("symbol", symbol("amq:symbol")),
    ("list", [1, "two", None, True, [ubyte(3)]]),
    ("map", {"k": "v", symbol("s"): 1, 2: [None]}),
    ("array", Array(UNDESCRIBED, Data.INT, 1, 2, 3)),
    ("described", Described(symbol("amq:described"), "inner")),
]


class Types(Base):
    """Sends one message per AMQP type and checks each comes back intact."""

    def started(self, container):
        self.sender = container.create_sender(self.conn, self.address)
        self.receiver = container.create_receiver(self.conn, self.address)
        self.sent = 0
        self.got = 0
        self.bad = 0

    def on_sendable(self, event):
        while self.sent < len(TYPED_VALUES) and event.sender.credit > 0:
            name, value = TYPED_VALUES[self.sent]
            self.sent += 1
            event.sender.send(Message(subject=name, body=value))

    def on_message(self, event):
        m = event.message
        expected = dict(TYPED_VALUES)
        name = m.subject
        if name not in expected:
            self.bad += 1
            print("%s UNKNOWN body %r" % (name, m.body))
        else:
            want = expected[name]
            if type(m.body) is type(want) and m.body == want:
                print("%s ok" % name)
            else:
                self.bad += 1
                print("%s MISMATCH sent %s %r, got %s %r" % (name, type(want).__name__, want,
                                                             type(m.body).__name__, m.body))
        sys.stdout.flush()
        self.got += 1
        if self.got == len(TYPED_VALUES):
            self.done(1 if self.bad else 0, "proton_client: %d type(s) changed" % self.bad if self.bad else None)


def main():
    args = sys.argv[1:]
    if len(args) < 4 or args[0] not in ("send", "recv", "serve", "request", "types"):
        sys.stderr.write(__doc__)
        return 2
    mode, url, address, count = args[0], args[1], args[2], int(args[3])
    presettled, timeout = False, 60.0
    rest = args[4:]
    while rest:
        a = rest.pop(0)
        if a == "--presettled":
            presettled = True
        elif a == "--timeout":
            timeout = float(rest.pop(0))
        else:
            sys.stderr.write(__doc__)
            return 2
    if mode == "serve":
        c = Server(url, address, count, timeout)
    elif mode == "request":
        c = Requester(url, address, count, timeout)
    elif mode == "types":
        c = Types(url, address, count, timeout)
    else:
        c = Client(mode, url, address, count, presettled, timeout)
    Container(c).run()
    return c.status


if __name__ == "__main__":
    sys.exit(main())
