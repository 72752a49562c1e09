#!/usr/bin/python3
"""A small AMQP 1.0 broker on Qpid Proton Python's Container.listen.

It is a test peer for the amq integration suite, not a product:

  * nodes are keyed by address and created on first use; a node is a queue
    unless a link to it carries the "topic" capability;
  * queues have competing consumers served round-robin, only while a
    consumer has link credit;
  * messages are kept as the encoded bytes the sender sent, so what a
    consumer gets is exactly what the producer wrote (interop tests depend
    on that);
  * incoming deliveries are accepted and settled (unsettled) or just taken
    (pre-settled); outgoing deliveries are pre-settled when the consumer
    asked for snd-settle-mode settled, otherwise kept until the consumer
    settles them: accepted/rejected drop the message, released re-queues it,
    modified re-queues it (delivery-failed bumps the delivery-count,
    undeliverable-here keeps it away from that link), and unsettled
    deliveries of a link or connection that goes away are re-queued;
  * a receiver asking for a dynamic source gets a fresh queue address;
  * topic subscribers each get their own queue; a subscriber whose source is
    durable (and whose expiry policy is "never") keeps its queue, keyed by
    container-id and link name, across a detach (closed=false) and gets it
    back on re-attach; a close (closed=true) deletes it;
  * a message sent to an address starting with "reject." is rejected with
    amqp:precondition-failed, so clients can test the rejected outcome;
  * a message sent to "suspend.TOPIC" makes the broker detach every
    subscriber link of topic TOPIC without closing it (closed=false), after
    putting a message "kept across the detach" on each durable subscription:
    a client that answers with a non-closing detach and re-attaches finds
    it; an answer that closes the link (closed=true) ends the subscription,
    and the message with it;
  * there is no transaction coordinator: a link to one (a coordinator
    target, AMQP 1.0 section 4.2) is refused with a closing detach,
    amqp:not-implemented, as a broker without transactions does.

Usage: proton_broker.py HOST PORT   (prints "listening on PORT" when ready;
PORT 0 picks a free port).
"""

import collections
import itertools
import sys
import uuid

from proton import Condition, Delivery, Endpoint, Link, Message, Terminus
from proton.reactor import Container

try:
    from proton import Handler
except ImportError:  # older layouts
    from proton.handlers import Handler

WINDOW = 200  # credit kept open on every incoming link


class Entry(object):
    __slots__ = ("data", "excluded")

    def __init__(self, data, excluded=None):
        self.data = data
        self.excluded = excluded or set()


class Queue(object):
    def __init__(self, name):
        self.name = name
        self.entries = collections.deque()
        self.consumers = []
        self.turn = 0

    def dispatch(self, broker):
        """Hand queued messages to consumers with credit, round-robin."""
        while self.entries and self.consumers:
            n = len(self.consumers)
            sent = False
            for _ in range(n):
                link = self.consumers[self.turn % n]
                self.turn += 1
                if link.credit <= 0:
                    continue
                entry = self._take_for(link)
                if entry is None:
                    continue
                broker.deliver(self, link, entry)
                sent = True
                break
            if not sent:
                return

    def _take_for(self, link):
        for i, entry in enumerate(self.entries):
            if id(link) not in entry.excluded:
                del self.entries[i]
                return entry
        return None


class Topic(object):
    def __init__(self, name):
        self.name = name
        self.subscriptions = {}  # key -> Queue

    def publish(self, broker, data):
        for q in list(self.subscriptions.values()):
            q.entries.append(Entry(data))
            q.dispatch(broker)


def has_capability(terminus, cap):
    """Whether the terminus lists capability cap (a symbol or an array)."""
    data = terminus.capabilities
    data.rewind()
    if not data.next():
        return False
    obj = data.get_object()
    data.rewind()
    if hasattr(obj, "elements"):
        values = obj.elements
    elif isinstance(obj, (list, tuple)):
        values = obj
    else:
        values = [obj]
    return cap in [str(v) for v in values]


class Broker(Handler):
    def __init__(self, host, port):
        super(Broker, self).__init__()
        self.host = host
        self.port = port
        self.queues = {}
        self.topics = {}
        self.tags = itertools.count(1)
        self.unsettled = {}  # outgoing Delivery -> (Queue, Entry)
        self.buffers = {}  # incoming partial Delivery -> [bytes]
        self.link_info = {}  # Link -> dict(queue=..., topic=..., sub_key=..., durable=...)
        self.suspended = {}  # Link the broker detached -> (Topic, sub_key)

    # --- setup ---------------------------------------------------------
    def on_reactor_init(self, event):
        acceptor = event.container.listen("%s:%s" % (self.host, self.port))
        sock = acceptor._selectable._delegate
        print("listening on %d" % sock.getsockname()[1])
        sys.stdout.flush()

    def on_connection_bound(self, event):
        sasl = event.transport.sasl()
        sasl.allowed_mechs("ANONYMOUS")

    # --- endpoint life cycle -----------------------------------------
    def on_connection_remote_open(self, event):
        if event.connection.state & Endpoint.LOCAL_UNINIT:
            event.connection.container = "proton-python-test-broker"
            event.connection.open()

    def on_session_remote_open(self, event):
        if event.session.state & Endpoint.LOCAL_UNINIT:
            event.session.open()

    def on_link_remote_open(self, event):
        link = event.link
        if not link.state & Endpoint.LOCAL_UNINIT:
            return
        if link.is_sender:
            self.open_consumer(link)
        else:
            self.open_producer(link)

    def open_producer(self, link):
        target = link.remote_target
        if target.type == Terminus.COORDINATOR:
            link.source.copy(link.remote_source)
            # An attach with a null target and then the detach: the refusal
            # of AMQP 1.0 section 2.6.3.
            link.target.type = Terminus.UNSPECIFIED
            link.condition = Condition("amqp:not-implemented", "no transaction coordinator")
            link.open()
            link.close()
            return
        link.target.copy(target)
        link.source.copy(link.remote_source)
        address = target.address
        if target.dynamic:
            address = "dynamic.%s" % uuid.uuid4()
            link.target.address = address
            link.target.dynamic = True
        if address and has_capability(target, "topic"):
            self.topics.setdefault(address, Topic(address))
        link.rcv_settle_mode = Link.RCV_FIRST
        link.snd_settle_mode = link.remote_snd_settle_mode
        link.open()
        link.flow(WINDOW)

    def open_consumer(self, link):
        source = link.remote_source
        link.source.copy(source)
        link.target.copy(link.remote_target)
        link.snd_settle_mode = link.remote_snd_settle_mode
        link.rcv_settle_mode = Link.RCV_FIRST
        address = source.address
        if source.dynamic:
            address = "dynamic.%s" % uuid.uuid4()
            link.source.address = address
            link.source.dynamic = True
        if not address:
            link.source.address = None
            link.open()
            link.close()
            link.condition = Condition("amqp:invalid-field", "source address required")
            return
        info = {}
        if has_capability(source, "topic") or address in self.topics:
            topic = self.topics.setdefault(address, Topic(address))
            durable = (source.durability != Terminus.NONDURABLE
                       and source.expiry_policy == Terminus.EXPIRE_NEVER)
            if durable:
                key = "%s/%s" % (link.connection.remote_container, link.name)
            else:
                key = "volatile/%s" % uuid.uuid4()
            q = topic.subscriptions.get(key)
            if q is None:
                q = Queue("%s#%s" % (address, key))
                topic.subscriptions[key] = q
            info.update(topic=topic, sub_key=key, durable=durable)
        else:
            q = self.queues.setdefault(address, Queue(address))
        info["queue"] = q
        self.link_info[link] = info
        q.consumers.append(link)
        link.open()

    def on_link_flow(self, event):
        info = self.link_info.get(event.link)
        if info:
            info["queue"].dispatch(self)

    def on_link_remote_detach(self, event):
        # detach with closed=false: the terminus (a durable subscription) stays.
        if self.suspended.pop(event.link, None) is not None:
            return  # the answer to the broker's own detach
        self.drop_link(event.link, end_subscription=False)
        event.link.detach()

    def on_link_remote_close(self, event):
        suspended = self.suspended.pop(event.link, None)
        if suspended is not None:
            # A closing answer to the broker's non-closing detach: the
            # client closed the terminus, so the subscription ends.
            topic, key = suspended
            topic.subscriptions.pop(key, None)
            return
        self.drop_link(event.link, end_subscription=True)
        event.link.close()

    def suspend(self, address):
        topic = self.topics.get(address)
        if topic is None:
            return
        kept = Message(body="kept across the detach").encode()
        for link, info in list(self.link_info.items()):
            if info.get("topic") is not topic:
                continue
            key = info["sub_key"]
            self.drop_link(link, end_subscription=False)
            if info.get("durable"):
                topic.subscriptions[key].entries.append(Entry(kept))
            self.suspended[link] = (topic, key)
            link.detach()

    def on_session_remote_close(self, event):
        for link in list(self.link_info):
            if link.session == event.session:
                self.drop_link(link, end_subscription=False)
        event.session.close()

    def on_connection_remote_close(self, event):
        self.drop_connection(event.connection)
        event.connection.close()

    def on_transport_closed(self, event):
        if event.connection is not None:
            self.drop_connection(event.connection)

    def drop_connection(self, conn):
        for link in list(self.link_info):
            if link.connection == conn:
                self.drop_link(link, end_subscription=False)

    def drop_link(self, link, end_subscription):
        info = self.link_info.pop(link, None)
        if info is None:
            return
        q = info["queue"]
        if link in q.consumers:
            q.consumers.remove(link)
        # re-queue what this consumer held unsettled, in order
        held = [d for d in self.unsettled if d.link == link]
        held.sort(key=lambda d: int(d.tag))
        for d in reversed(held):
            _, entry = self.unsettled.pop(d)
            q.entries.appendleft(entry)
        topic = info.get("topic")
        if topic is not None and (end_subscription or not info.get("durable")):
            topic.subscriptions.pop(info["sub_key"], None)
        else:
            q.dispatch(self)

    # --- transfers -----------------------------------------------------
    def deliver(self, queue, link, entry):
        tag = str(next(self.tags))
        dlv = link.delivery(tag)
        link.send(entry.data)
        link.advance()
        if link.snd_settle_mode == Link.SND_SETTLED:
            dlv.settle()
        else:
            self.unsettled[dlv] = (queue, entry)

    def on_delivery(self, event):
        dlv = event.delivery
        if dlv.link.is_receiver:
            self.incoming(dlv)
        else:
            self.outcome(dlv)

    def incoming(self, dlv):
        link = dlv.link
        if dlv.aborted:
            self.buffers.pop(dlv, None)
            dlv.settle()
            link.flow(1)
            return
        if not dlv.readable:
            return
        chunks = self.buffers.setdefault(dlv, [])
        while True:
            data = link.recv(max(dlv.pending, 1))
            if not data:
                break
            chunks.append(data)
        if dlv.partial:
            return
        data = b"".join(self.buffers.pop(dlv))
        link.advance()
        address = link.target.address
        if not address:
            msg = Message()
            msg.decode(data)
            address = msg.address
        if address and address.startswith("suspend."):
            self.suspend(address[len("suspend."):])
            dlv.update(Delivery.ACCEPTED)
        elif address and address.startswith("reject."):
            dlv.local.condition = Condition("amqp:precondition-failed",
                                            "address %s rejects every message" % address)
            dlv.update(Delivery.REJECTED)
        elif not address:
            dlv.local.condition = Condition("amqp:not-found", "no address")
            dlv.update(Delivery.REJECTED)
        else:
            self.publish(address, data)
            dlv.update(Delivery.ACCEPTED)
        dlv.settle()
        link.flow(1)

    def publish(self, address, data):
        topic = self.topics.get(address)
        if topic is not None:
            topic.publish(self, data)
            return
        q = self.queues.setdefault(address, Queue(address))
        q.entries.append(Entry(data))
        q.dispatch(self)

    def outcome(self, dlv):
        if not (dlv.updated or dlv.remote_settled):
            return
        held = self.unsettled.pop(dlv, None)
        state = dlv.remote_state
        if held is not None:
            q, entry = held
            if state == Delivery.RELEASED:
                q.entries.appendleft(entry)
            elif state == Delivery.MODIFIED:
                remote = dlv.remote
                if remote.failed or remote.annotations:
                    msg = Message()
                    msg.decode(entry.data)
                    if remote.failed:
                        msg.delivery_count = (msg.delivery_count or 0) + 1
                    if remote.annotations:
                        ann = dict(msg.annotations or {})
                        ann.update(remote.annotations)
                        msg.annotations = ann
                    entry.data = msg.encode()
                if remote.undeliverable:
                    entry.excluded.add(id(dlv.link))
                q.entries.appendleft(entry)
            elif state in (Delivery.ACCEPTED, Delivery.REJECTED):
                pass
            elif dlv.remote_settled:
                pass  # settled with no outcome: treat as consumed
            else:
                self.unsettled[dlv] = held  # not final yet
                return
        dlv.settle()
        if held is not None:
            held[0].dispatch(self)


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: %s HOST PORT\n" % sys.argv[0])
        return 2
    host, port = sys.argv[1], sys.argv[2]
    if ":" in host:
        # Proton Python 0.37's IO.listen makes AF_INET sockets only.
        sys.stderr.write("IPv6 listening is not supported by Proton Python 0.37\n")
        return 2
    Container(Broker(host, port)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
