#!/usr/bin/python3
"""Sends the messages that go-amqp v1.7 cannot decode, between ordinary ones.

  proton_poison.py URL ADDRESS

Sends seven messages to ADDRESS and waits until each is accepted:
"before", a char body u"\u20ac", "middle", a decimal128 body (16 bytes
0x01..0x10), an array of lists ([1]), a value described by AMQP's
"accepted" descriptor (0x24, []), and "after" carrying a char and a
decimal32 as application properties. Run it with /usr/bin/python3 (Debian's python3-qpid-proton).
"""

import sys

from proton import UNDESCRIBED, Array, Data, Described, Message, char, decimal32, decimal128, ulong
from proton.handlers import MessagingHandler
from proton.reactor import Container


class Send(MessagingHandler):
    def __init__(self, url, address):
        super(Send, self).__init__()
        self.url, self.address = url, address
        self.msgs = [
            Message(body=u"before"),
            Message(body=char(u"\u20ac")),
            Message(body=u"middle"),
            Message(body=decimal128(bytes(range(1, 17)))),
            Message(body=Array(UNDESCRIBED, Data.LIST, [1])),
            Message(body=Described(ulong(0x24), [])),
            Message(body=u"after", properties={u"c": char(u"x"), u"d": decimal32(7)}),
        ]
        self.sent = 0
        self.accepted = 0
        self.status = 1

    def on_start(self, event):
        conn = event.container.connect(self.url)
        event.container.create_sender(conn, self.address)

    def on_sendable(self, event):
        while event.sender.credit and self.sent < len(self.msgs):
            event.sender.send(self.msgs[self.sent])
            self.sent += 1

    def on_accepted(self, event):
        self.accepted += 1
        if self.accepted == len(self.msgs):
            self.status = 0
            event.connection.close()

    def on_rejected(self, event):
        event.connection.close()


if __name__ == "__main__":
    h = Send(sys.argv[1], sys.argv[2])
    Container(h).run()
    sys.exit(h.status)
