#!/usr/bin/python3
"""Qpid Proton Python in an AMQP 1.0 local transaction (chapter 4): the
reference client's side of amq's transaction interop tests.

  proton_tx.py send URL ADDRESS COUNT [--timeout S]
  proton_tx.py recv URL ADDRESS COUNT [--rollback] [--timeout S]

send: declares a transaction (Container.declare_transaction), sends COUNT
durable messages in it (body "proton-tx N", id "proton-tx-N", properties
seq = N), and waits until the broker has taken every one into the
transaction. Then, before the commit, it sends one message outside the
transaction (body "proton-tx marker", id "proton-tx-marker") and waits for
it to be accepted: a consumer of ADDRESS must get the marker first, since
the transaction's messages do not exist for it until the commit. Then it
commits, prints "committed" on stdout, and exits 0.

recv: declares a transaction, grants COUNT credit, accepts each message it
receives in the transaction (Transaction.accept) and prints one JSON object
per message on stdout: {"id","body","delivery_count"}. It prints "ready" on
stderr once its receiving link is attached and the transaction declared.
With COUNT messages received it commits (with --rollback: aborts), prints
"committed" (or "rolled back") and exits 0.

Any refusal (declare, discharge, a send's outcome), a link or connection
error, or the deadline (--timeout, 60 s by default) makes the exit status
non-zero, with the reason on stderr. Runs under Proton Python 0.37 (Debian
python3-qpid-proton) and 0.40 (PyPI).
"""

import json
import sys

from proton import Delivery, Message
from proton.handlers import MessagingHandler, TransactionHandler
from proton.reactor import Container

# The transactional-state delivery state (AMQP 1.0 section 4.5.5): a
# broker's outcome of a message sent in a transaction comes wrapped in it.
TRANSACTIONAL_STATE = 0x34


class Base(MessagingHandler, TransactionHandler):
    """Connection, deadline, exit status and errors shared by both modes."""

    def __init__(self, url, address, count, timeout, prefetch=0):
        super(Base, self).__init__(prefetch=prefetch, auto_accept=False, auto_settle=True)
        self.url = url
        self.address = address
        self.count = count
        self.timeout = timeout
        self.status = 1
        self.conn = None
        self.timer = None
        self.txn = None

    def on_start(self, event):
        self.container = event.container
        self.timer = event.container.schedule(self.timeout, self)
        self.conn = event.container.connect(self.url, allowed_mechs="ANONYMOUS PLAIN",
                                            allow_insecure_mechs=True, reconnect=False)
        self.started()
        event.container.declare_transaction(self.conn, handler=self)

    def on_timer_task(self, event):
        self.done(3, "proton_tx: deadline of %s s passed" % self.timeout)

    def done(self, status, why=None):
        if self.conn is None:
            return  # done already: the first reason stands
        if why:
            sys.stderr.write(why + "\n")
            sys.stderr.flush()
        self.status = status
        if self.timer:
            self.timer.cancel()
            self.timer = None
        if self.conn:
            self.conn.close()
            self.conn = None

    def on_transaction_declare_failed(self, event):
        self.done(1, "proton_tx: declare refused: %s" % event.delivery.remote.condition)

    def on_transaction_commit_failed(self, event):
        self.done(1, "proton_tx: commit refused: %s" % event.delivery.remote.condition)

    def on_transport_error(self, event):
        self.done(1, "proton_tx: transport error: %s" % event.transport.condition)

    def on_connection_error(self, event):
        self.done(1, "proton_tx: connection error: %s" % event.connection.remote_condition)

    def on_session_error(self, event):
        self.done(1, "proton_tx: session error: %s" % event.session.remote_condition)

    def on_link_error(self, event):
        self.done(1, "proton_tx: link error: %s" % event.link.remote_condition)


# The accepted outcome's descriptor (AMQP 1.0 section 3.4.2), as a code
# and as a name.
ACCEPTED = (0x24, "amqp:accepted:list")


def accepted(delivery):
    """Whether the broker accepted one of our sends, looking inside a
    transactional state ([txn-id, outcome]) when it answered with one."""
    state = delivery.remote_state
    if state == Delivery.ACCEPTED:
        return True
    if state != TRANSACTIONAL_STATE:
        return False
    data = delivery.remote.data or []
    if len(data) < 2 or data[1] is None:
        return False
    descriptor = getattr(data[1], "descriptor", None)
    try:
        return int(descriptor) == ACCEPTED[0]
    except (TypeError, ValueError):
        return str(descriptor) == ACCEPTED[1]


class Sender(Base):
    def started(self):
        self.sender = self.container.create_sender(self.conn, self.address)
        self.sent = 0
        self.taken = 0
        self.marker = None

    def on_transaction_declared(self, event):
        self.txn = event.transaction
        self.send()

    def on_sendable(self, event):
        self.send()

    def send(self):
        while self.txn and self.sent < self.count and self.sender.credit > 0:
            self.sent += 1
            n = self.sent
            self.txn.send(self.sender, Message(id="proton-tx-%d" % n, body="proton-tx %d" % n,
                                               durable=True, properties={"seq": n}))
        if self.count == 0 and self.txn and self.marker is None:
            self.send_marker()

    def send_marker(self):
        self.marker = self.sender.send(Message(id="proton-tx-marker", body="proton-tx marker"))

    def on_settled(self, event):
        d = event.delivery
        if d.link != self.sender:
            return
        if d == self.marker:
            if d.remote_state != Delivery.ACCEPTED:
                self.done(1, "proton_tx: the marker's outcome is %s" % d.remote_state)
                return
            self.txn.commit()
            return
        # A transactional send: the broker answers with a transactional
        # state holding the outcome, or with the outcome alone.
        if not accepted(d):
            self.done(1, "proton_tx: a transactional send's outcome is %s %s" % (d.remote_state, d.remote.data))
            return
        self.taken += 1
        if self.taken == self.count:
            self.send_marker()

    def on_transaction_committed(self, event):
        print("committed")
        sys.stdout.flush()
        self.done(0)


class Receiver(Base):
    def __init__(self, url, address, count, timeout, rollback):
        super(Receiver, self).__init__(url, address, count, timeout)
        self.rollback = rollback
        self.got = 0
        self.attached = False

    def started(self):
        self.receiver = self.container.create_receiver(self.conn, self.address)

    def on_link_opened(self, event):
        if event.link == self.receiver:
            self.attached = True
            self.ready()

    def on_transaction_declared(self, event):
        self.txn = event.transaction
        self.ready()

    def ready(self):
        if self.attached and self.txn:
            sys.stderr.write("ready\n")
            sys.stderr.flush()
            self.receiver.flow(self.count)

    def on_message(self, event):
        m = event.message
        self.got += 1
        print(json.dumps({"id": None if m.id is None else str(m.id), "body": m.body,
                          "delivery_count": m.delivery_count}, default=str))
        sys.stdout.flush()
        self.txn.accept(event.delivery)
        if self.got == self.count:
            if self.rollback:
                self.txn.abort()
            else:
                self.txn.commit()

    def on_transaction_committed(self, event):
        print("committed")
        sys.stdout.flush()
        self.done(0)

    def on_transaction_aborted(self, event):
        print("rolled back")
        sys.stdout.flush()
        self.done(0)


def main():
    args = sys.argv[1:]
    if len(args) < 4 or args[0] not in ("send", "recv"):
        sys.stderr.write(__doc__)
        return 2
    mode, url, address, count = args[0], args[1], args[2], int(args[3])
    rollback, timeout = False, 60.0
    rest = args[4:]
    while rest:
        a = rest.pop(0)
        if a == "--rollback" and mode == "recv":
            rollback = True
        elif a == "--timeout" and rest:
            timeout = float(rest.pop(0))
        else:
            sys.stderr.write(__doc__)
            return 2
    if mode == "send":
        h = Sender(url, address, count, timeout)
    else:
        h = Receiver(url, address, count, timeout, rollback)
    Container(h).run()
    return h.status


if __name__ == "__main__":
    sys.exit(main())
