#!/usr/bin/python3
"""A Qpid Proton Python sender/receiver: the reference client in interop tests.

  proton_client.py send URL ADDRESS COUNT [--presettled] [--timeout S]
  proton_client.py recv URL ADDRESS COUNT [--timeout S]

send: sends COUNT messages (body "proton N", id "proton-N", subject
"interop", content type text/plain, properties seq = N (int), kind =
"proton") and waits until every one is accepted; any other outcome fails.
recv: receives COUNT messages, accepts each, and prints one JSON object per
message on stdout: {"id","body","subject","content_type","props"}. It prints
"ready" on stderr once the receiving link is attached.
Exit status 0 only when all COUNT messages went through; a deadline
(--timeout, 60 s by default) fails the run instead of hanging.
Run it with /usr/bin/python3 (Debian's python3-qpid-proton).
"""

import json
import sys

from proton import Message
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


def main():
    args = sys.argv[1:]
    if len(args) < 4 or args[0] not in ("send", "recv"):
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
    c = Client(mode, url, address, count, presettled, timeout)
    Container(c).run()
    return c.status


if __name__ == "__main__":
    sys.exit(main())
