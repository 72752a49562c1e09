#!/usr/bin/python3
"""One message per AMQP type, in both directions: the type-matrix interop peer.

  proton_types.py send URL ADDRESS [--timeout S]
  proton_types.py recv URL ADDRESS COUNT [--timeout S]
  proton_types.py rows

send: sends one message per row of ROWS with direction "send" (Python to
Go) to ADDRESS: subject = the row's name, the row's value as the body (an amqp-value section), as application
property "v" when the type is simple, and as message annotation "x-opt-v";
waits until every message is accepted (any other outcome fails).
recv: receives COUNT messages from ADDRESS and checks, per message, the
Python type and value of the body, property "v" (simple types) and
annotation "x-opt-v" against the row named by the subject; it prints
"NAME ok" per matching message and exits 1 with the mismatch on stderr at
the first one that does not match.
rows: prints the row names (one a line, with "simple" or "-" and the
directions "send"/"recv" the row takes part in), for the Go test to check
that its table is the same.

A deadline (--timeout, 60 s by default) fails the run instead of hanging.
integration/types_interop_test.go holds the Go side of the same table; the
two must be kept in step. Run with /usr/bin/python3 (python3-qpid-proton).
"""

import sys
import uuid

from cproton import pn_message_body
from proton import (Array, Data, Described, Message, UNDESCRIBED, byte, char,
                    decimal32, decimal64, decimal128, float32, int32, short,
                    symbol, timestamp, ubyte, uint, ulong, ushort)
from proton.handlers import MessagingHandler
from proton.reactor import Container

BOTH = ("send", "recv")

# name, value, simple (also an application property), directions.
# A Python int is an AMQP long, a float a double, a str a string, bytes
# binary, a list a list and a dict a map; the proton classes name the rest.
ROWS = [
    ("null", None, True, BOTH),
    ("boolean", True, True, BOTH),
    ("ubyte", ubyte(255), True, BOTH),
    ("ushort", ushort(65535), True, BOTH),
    ("uint", uint(2**32 - 1), True, BOTH),
    ("ulong", ulong(2**64 - 1), True, BOTH),
    ("byte", byte(-128), True, BOTH),
    ("short", short(-32768), True, BOTH),
    ("int", int32(-2**31), True, BOTH),
    ("long", -2**63, True, BOTH),
    ("float", float32(1.5), True, BOTH),
    ("double", sys.float_info.max, True, BOTH),
    ("char", char(u"x"), True, BOTH),
    ("decimal32", decimal32(0x22500007), True, BOTH),
    ("decimal64", decimal64(0x223800000000002a), True, BOTH),
    ("decimal128", decimal128(bytes([0x30, 0x40] + [0] * 13 + [0x2a])), True, BOTH),
    ("timestamp", timestamp(1700000000123), True, BOTH),
    ("uuid", uuid.UUID(bytes=bytes(range(1, 17))), True, BOTH),
    ("binary", b"\xff\xfe\x00\x80", True, BOTH),
    ("string", u"gr\u00fc\u00dfe, \u4e16\u754c", True, BOTH),
    ("symbol", symbol(u"amq:sym"), True, BOTH),
    ("list", [1, u"two", True, None, int32(-3), char(u"\u20ac"), symbol(u"s"),
              decimal64(0x223800000000002a), [ubyte(1)]], False, BOTH),
    ("map", {u"k": u"v", u"n": int32(7), u"c": char(u"y"),
             u"nested": {u"x": ulong(1)}}, False, BOTH),
    ("map-mixed-keys", {1: u"one", u"two": int32(2)}, False, BOTH),
    ("map-symbol-keys", {symbol(u"a"): 1}, False, BOTH),
    # One key of each type a Python dict can hold; the binary key makes amq
    # hand the map out as an ordered amq.Map, which must come back in order.
    ("map-key-types", {10: u"long", ubyte(11): u"ubyte", int32(12): u"int",
                       ulong(13): u"ulong", True: u"boolean", None: u"null",
                       1.5: u"double", char(u"c"): u"char",
                       uuid.UUID(bytes=bytes(range(16))): u"uuid",
                       timestamp(1700000000000): u"timestamp",
                       symbol(u"sym"): u"symbol", u"str": u"string",
                       b"\x00\xff": u"binary"}, False, BOTH),
    ("list-map-binary-key", [{b"\x01": u"v"}], False, BOTH),
    ("array-map-binary-key", Array(UNDESCRIBED, Data.MAP, {b"\x01": u"v"}, {u"k": u"w"}), False, BOTH),
    ("map-empty", {}, False, BOTH),
    ("list-empty", [], False, BOTH),
    ("array", Array(UNDESCRIBED, Data.INT, int32(1), int32(2), int32(3)), False, BOTH),
    ("array-string", Array(UNDESCRIBED, Data.STRING, u"a", u"b"), False, BOTH),
    ("array-symbol", Array(UNDESCRIBED, Data.SYMBOL, symbol(u"a"), symbol(u"b")), False, BOTH),
    ("array-char", Array(UNDESCRIBED, Data.CHAR, char(u"a"), char(u"\u20ac")), False, BOTH),
    ("array-decimal32", Array(UNDESCRIBED, Data.DECIMAL32, decimal32(1),
                              decimal32(0x22500007)), False, BOTH),
    ("described", Described(symbol(u"x-amq:thing"), u"v"), False, BOTH),
    ("described-char", Described(ulong(0x123), char(u"z")), False, BOTH),
    # Described by one of AMQP's own descriptors (accepted): go-amqp alone
    # would decode it as its own outcome type.
    ("described-amqp", Described(ulong(0x24), []), False, BOTH),
    ("array-ubyte", Array(UNDESCRIBED, Data.UBYTE, ubyte(1), ubyte(2)), False, BOTH),
    # Arrays go-amqp alone cannot decode at all.
    ("array-list", Array(UNDESCRIBED, Data.LIST, [1], [u"x", symbol(u"s")]), False, BOTH),
    ("array-described", Array(symbol(u"x:pt"), Data.INT, int32(1), int32(2)), False, BOTH),
    # Empty arrays keep their element type both ways.
    ("array-empty-ubyte", Array(UNDESCRIBED, Data.UBYTE), False, BOTH),
    ("array-empty-list", Array(UNDESCRIBED, Data.LIST), False, BOTH),
    ("array-empty-map", Array(UNDESCRIBED, Data.MAP), False, BOTH),
    ("array-empty-int", Array(UNDESCRIBED, Data.INT), False, BOTH),
    ("array-empty-string", Array(UNDESCRIBED, Data.STRING), False, BOTH),
    ("array-empty-symbol", Array(UNDESCRIBED, Data.SYMBOL), False, BOTH),
    ("array-empty-described", Array(symbol(u"x:pt"), Data.INT), False, BOTH),
]

ROW = dict((r[0], r) for r in ROWS)
ANNOTATION = symbol(u"x-opt-v")


class NullBodyMessage(Message):
    """A Message whose None body travels as an amqp-value null (Message
    leaves the body section out when the body is None)."""

    def _pre_encode(self):
        super(NullBodyMessage, self)._pre_encode()
        if self.body is None:
            Data(pn_message_body(self._msg)).put_null()


def message(name):
    _, value, simple, _ = ROW[name]
    props = {u"v": value} if simple else None
    cls = NullBodyMessage if value is None else Message
    return cls(subject=name, body=value, properties=props,
               annotations={ANNOTATION: value})


def show(v):
    return "%r (%s)" % (v, type(v).__name__)


def mismatch(want, got):
    """Returns why got differs from want in type or value, or None."""
    if isinstance(got, memoryview):
        # Proton 0.40's cffi binding hands a decoded AMQP binary out as a
        # memoryview (0.37 and its own docstring: bytes); either way the
        # AMQP type is binary.
        got = bytes(got)
    if type(got) is not type(want):
        return "got %s, want %s" % (show(got), show(want))
    if isinstance(want, Array):
        if got.descriptor != want.descriptor or got.type != want.type:
            return "got %r, want %r" % (got, want)
        return mismatch(list(want.elements), list(got.elements))
    if isinstance(want, list):
        if len(got) != len(want):
            return "got %d elements %r, want %d %r" % (len(got), got, len(want), want)
        for i, (w, g) in enumerate(zip(want, got)):
            why = mismatch(w, g)
            if why:
                return "element %d: %s" % (i, why)
        return None
    if isinstance(want, dict):
        # Keys are matched by type and value: a symbol and a str with the
        # same text are equal in Python but different AMQP keys.
        # Proton 0.40 hands a binary key out as a memoryview, as a value.
        items = [(bytes(k) if isinstance(k, memoryview) else k, v) for k, v in got.items()]
        gotkeys = dict(((type(k), k), v) for k, v in items)
        if len(gotkeys) != len(want):
            return "got keys %r, want %r" % (list(got), list(want))
        if any(isinstance(k, bytes) for k in want):
            # Sent back from an ordered amq.Map: the order must hold too.
            order = [(type(k), k) for k, _ in items]
            if order != [(type(k), k) for k in want]:
                return "got keys in the order %r, want %r" % ([k for k, _ in items], list(want))
        for k, w in want.items():
            if (type(k), k) not in gotkeys:
                return "key %s missing (got keys %r)" % (show(k), [show(x) for x in got])
            why = mismatch(w, gotkeys[(type(k), k)])
            if why:
                return "key %r: %s" % (k, why)
        return None
    if got != want:
        return "got %s, want %s" % (show(got), show(want))
    return None


def check(m):
    """Returns why message m does not carry its row's value, or None."""
    if m.subject not in ROW:
        return "unknown subject %r" % (m.subject,)
    _, want, simple, _ = ROW[m.subject]
    why = mismatch(want, m.body)
    if why:
        return "body: " + why
    if simple:
        props = m.properties or {}
        if u"v" not in props:
            return "application property v missing (properties %r)" % (props,)
        why = mismatch(want, props[u"v"])
        if why:
            return "application property v: " + why
    ann = m.annotations or {}
    if ANNOTATION not in ann:
        return "annotation x-opt-v missing (annotations %r)" % (ann,)
    why = mismatch(want, ann[ANNOTATION])
    if why:
        return "annotation x-opt-v: " + why
    return None


class Peer(MessagingHandler):
    def __init__(self, mode, url, address, count, timeout):
        super(Peer, self).__init__(prefetch=100 if mode == "recv" else 0, auto_accept=True)
        self.mode, self.url, self.address = mode, url, address
        self.count, self.timeout = count, timeout
        self.todo = [r[0] for r in ROWS if "send" in r[3]]
        if mode == "send":
            self.count = len(self.todo)
        self.sent = self.settled = self.got = 0
        self.status = 1
        self.conn = self.timer = None

    def on_start(self, event):
        self.timer = event.container.schedule(self.timeout, self)
        self.conn = event.container.connect(self.url, allowed_mechs="ANONYMOUS PLAIN",
                                            allow_insecure_mechs=True, reconnect=False)
        if self.mode == "send":
            event.container.create_sender(self.conn, self.address)
        else:
            event.container.create_receiver(self.conn, self.address)
        if self.count == 0:
            self.done(0)

    def done(self, status, why=None):
        if why:
            sys.stderr.write("proton_types: %s\n" % why)
        self.status = status
        if self.timer:
            self.timer.cancel()
            self.timer = None
        if self.conn:
            self.conn.close()
            self.conn = None

    def on_timer_task(self, event):
        self.done(3, "deadline of %s s passed (%d of %d messages)" %
                  (self.timeout, self.settled if self.mode == "send" else self.got, self.count))

    def on_sendable(self, event):
        while self.sent < self.count and event.sender.credit > 0:
            event.sender.send(message(self.todo[self.sent]))
            self.sent += 1

    def on_accepted(self, event):
        self.settled += 1
        if self.settled == self.count:
            self.done(0)

    def on_rejected(self, event):
        self.done(1, "rejected: %s" % event.delivery.remote.condition)

    def on_released(self, event):
        self.done(1, "released or modified")

    def on_message(self, event):
        if self.conn is None:
            return
        m = event.message
        why = check(m)
        if why:
            self.done(1, "MISMATCH %s: %s" % (m.subject, why))
            return
        print("%s ok" % m.subject)
        sys.stdout.flush()
        self.got += 1
        if self.got == self.count:
            self.done(0)

    def on_transport_error(self, event):
        self.done(1, "transport error: %s" % event.transport.condition)

    def on_connection_error(self, event):
        self.done(1, "connection error: %s" % event.connection.remote_condition)

    def on_link_error(self, event):
        self.done(1, "link error: %s" % event.link.remote_condition)


def main(argv):
    args = list(argv)
    timeout = 60.0
    if "--timeout" in args:
        i = args.index("--timeout")
        timeout = float(args[i + 1])
        del args[i:i + 2]
    if args[:1] == ["rows"]:
        for name, _, simple, dirs in ROWS:
            print("%s %s %s" % (name, "simple" if simple else "-", ",".join(dirs)))
        return 0
    if len(args) < 3 or args[0] not in ("send", "recv") or (args[0] == "recv" and len(args) < 4):
        sys.stderr.write(__doc__)
        return 2
    count = int(args[3]) if args[0] == "recv" else 0
    h = Peer(args[0], args[1], args[2], count, timeout)
    Container(h).run()
    return h.status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
