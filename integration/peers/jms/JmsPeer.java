// JmsPeer is the integration suite's Qpid JMS (AMQ JMS upstream) peer: it
// sends and receives JMS messages of every type so that the Go tests can
// check what amq makes of them and what JMS makes of amq's messages
// (reference 14.2). The tests compile it with javac against the jars that
// fetch.sh copies into integration/.peers/jms/lib.
//
//   JmsPeer send URL QUEUE KIND... [--timeout S] [--user U] [--password P]
//   JmsPeer recv URL QUEUE N       [--timeout S] [--user U] [--password P]
//
// URL is amqp://[user:password@]host:port; --user and --password override
// its credentials. KIND is text, bytes, map, stream, object or message.
//
// send sends one message per KIND, in order, each with the string property
// "kind" (the KIND) and the int property "seq" (its position from 0):
//
//   text     TextMessage "hello jms"
//   bytes    BytesMessage {1, 2, 3}
//   map      MapMessage {"k": "v" (String), "n": 7 (int)}
//   stream   StreamMessage "s" (String), 42 (int)
//   object   ObjectMessage java.util.ArrayList ["a", "b"], Java-serialized
//   message  Message with no body and the string property "note" = "plain"
//
// recv prints "ready" on stderr once its consumer exists, then one JSON
// object per received message on stdout, one a line:
//
//   class  the JMS interface the message implements: "TextMessage",
//          "BytesMessage", "MapMessage", "StreamMessage", "ObjectMessage"
//          or "Message"
//   props  the JMS properties, name to value
//   body   TextMessage: the text (or null); BytesMessage: the bytes as
//          numbers 0..255; MapMessage: an object of the entries;
//          StreamMessage: an array of the elements in order;
//          ObjectMessage: the object (or null); Message: null
//   types  MapMessage: entry name to the Java class (simple name) of its
//          value; StreamMessage: an array of the elements' classes;
//          ObjectMessage: the object's class (null for no object)
//   error  instead of body and types when JMS could not read the body
//          ("ExceptionClass: message")
//
// Values are written as JSON: strings and chars as strings, numbers (AMQP
// unsigned types too) as numbers, NaN and infinities as strings, booleans,
// null, byte[] and AMQP binary as arrays of numbers 0..255, lists and
// arrays as arrays, maps as objects (keys as strings), anything else as
// its toString. The output is ASCII: any other character is escaped in
// JSON's backslash-u form.
//
// Either command exits 0 when done, 1 with a message on stderr on any
// error or when --timeout seconds (default 30) pass first, 2 on bad usage.

import jakarta.jms.BytesMessage;
import jakarta.jms.Connection;
import jakarta.jms.JMSException;
import jakarta.jms.MapMessage;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageEOFException;
import jakarta.jms.MessageProducer;
import jakarta.jms.ObjectMessage;
import jakarta.jms.Queue;
import jakarta.jms.Session;
import jakarta.jms.StreamMessage;
import jakarta.jms.TextMessage;

import java.lang.reflect.Array;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;

import org.apache.qpid.jms.JmsConnectionFactory;
import org.apache.qpid.proton.amqp.Binary;

public final class JmsPeer {

    private static final String USAGE =
        "usage: JmsPeer send URL QUEUE KIND... [--timeout S] [--user U] [--password P]\n"
        + "       JmsPeer recv URL QUEUE N       [--timeout S] [--user U] [--password P]\n"
        + "KIND: text, bytes, map, stream, object, message";

    public static void main(String[] args) {
        List<String> pos = new ArrayList<>();
        long timeoutSeconds = 30;
        String user = null;
        String password = null;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--timeout":
                        timeoutSeconds = Long.parseLong(flagValue(args, ++i));
                        break;
                    case "--user":
                        user = flagValue(args, ++i);
                        break;
                    case "--password":
                        password = flagValue(args, ++i);
                        break;
                    default:
                        pos.add(args[i]);
                }
            }
            if (pos.size() < 4 || timeoutSeconds <= 0) {
                throw new IllegalArgumentException("missing arguments");
            }
        } catch (IllegalArgumentException e) {
            System.err.println("JmsPeer: " + e.getMessage() + "\n" + USAGE);
            System.exit(2);
        }

        // A watchdog bounds everything, connecting included; it fires a
        // little after recv's own deadline, which says how far it got.
        final long timeout = timeoutSeconds;
        final long deadline = System.currentTimeMillis() + timeout * 1000;
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(timeout * 1000 + 500);
            } catch (InterruptedException e) {
                return;
            }
            System.err.println("JmsPeer: timed out after " + timeout + "s");
            System.out.flush();
            Runtime.getRuntime().halt(1);
        }, "watchdog");
        watchdog.setDaemon(true);
        watchdog.start();

        try {
            URI url = URI.create(pos.get(1));
            if (url.getRawUserInfo() != null) {
                String[] userInfo = url.getRawUserInfo().split(":", 2);
                if (user == null) {
                    user = URLDecoder.decode(userInfo[0], StandardCharsets.UTF_8);
                }
                if (password == null && userInfo.length == 2) {
                    password = URLDecoder.decode(userInfo[1], StandardCharsets.UTF_8);
                }
            }
            if (url.getHost() == null || url.getPort() < 0) {
                throw new IllegalArgumentException("URL " + pos.get(1) + " has no host:port");
            }
            String remote = url.getScheme() + "://" + url.getHost() + ":" + url.getPort();
            JmsConnectionFactory factory = new JmsConnectionFactory(remote);
            if (user != null) {
                factory.setUsername(user);
            }
            if (password != null) {
                factory.setPassword(password);
            }
            try (Connection connection = factory.createConnection()) {
                connection.start();
                Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
                Queue queue = session.createQueue(pos.get(2));
                switch (pos.get(0)) {
                    case "send":
                        send(session, queue, pos.subList(3, pos.size()));
                        break;
                    case "recv":
                        recv(session, queue, Integer.parseInt(pos.get(3)), deadline);
                        break;
                    default:
                        throw new IllegalArgumentException("unknown command " + pos.get(0));
                }
            }
        } catch (Exception e) {
            System.out.flush();
            System.err.println("JmsPeer: " + e);
            System.exit(1);
        }
        System.out.flush();
        System.exit(0);
    }

    private static String flagValue(String[] args, int i) {
        if (i >= args.length) {
            throw new IllegalArgumentException(args[i - 1] + " needs a value");
        }
        return args[i];
    }

    private static void send(Session session, Queue queue, List<String> kinds) throws JMSException {
        try (MessageProducer producer = session.createProducer(queue)) {
            for (int seq = 0; seq < kinds.size(); seq++) {
                String kind = kinds.get(seq);
                Message m;
                switch (kind) {
                    case "text":
                        m = session.createTextMessage("hello jms");
                        break;
                    case "bytes": {
                        BytesMessage b = session.createBytesMessage();
                        b.writeBytes(new byte[] {1, 2, 3});
                        m = b;
                        break;
                    }
                    case "map": {
                        MapMessage mm = session.createMapMessage();
                        mm.setString("k", "v");
                        mm.setInt("n", 7);
                        m = mm;
                        break;
                    }
                    case "stream": {
                        StreamMessage s = session.createStreamMessage();
                        s.writeString("s");
                        s.writeInt(42);
                        m = s;
                        break;
                    }
                    case "object":
                        m = session.createObjectMessage(new ArrayList<>(List.of("a", "b")));
                        break;
                    case "message":
                        m = session.createMessage();
                        m.setStringProperty("note", "plain");
                        break;
                    default:
                        throw new IllegalArgumentException("unknown message kind " + kind);
                }
                m.setStringProperty("kind", kind);
                m.setIntProperty("seq", seq);
                producer.send(m);
            }
        }
        System.err.println("sent " + kinds.size());
    }

    private static void recv(Session session, Queue queue, int n, long deadline) throws JMSException {
        try (MessageConsumer consumer = session.createConsumer(queue)) {
            System.err.println("ready");
            for (int i = 0; i < n; i++) {
                long left = deadline - System.currentTimeMillis();
                Message m = left > 0 ? consumer.receive(left) : null;
                if (m == null) {
                    throw new IllegalStateException("timed out: received " + i + " of " + n + " messages");
                }
                System.out.println(describe(m));
            }
        }
    }

    // describe renders one received message as the JSON object documented
    // at the top.
    private static String describe(Message m) throws JMSException {
        StringBuilder out = new StringBuilder("{\"class\":");
        String cls;
        if (m instanceof TextMessage) {
            cls = "TextMessage";
        } else if (m instanceof BytesMessage) {
            cls = "BytesMessage";
        } else if (m instanceof MapMessage) {
            cls = "MapMessage";
        } else if (m instanceof StreamMessage) {
            cls = "StreamMessage";
        } else if (m instanceof ObjectMessage) {
            cls = "ObjectMessage";
        } else {
            cls = "Message";
        }
        writeString(out, cls);

        out.append(",\"props\":{");
        List<String> names = new ArrayList<>();
        for (Enumeration<?> e = m.getPropertyNames(); e.hasMoreElements();) {
            names.add((String) e.nextElement());
        }
        Collections.sort(names);
        for (int i = 0; i < names.size(); i++) {
            if (i > 0) {
                out.append(',');
            }
            writeString(out, names.get(i));
            out.append(':');
            writeValue(out, m.getObjectProperty(names.get(i)));
        }
        out.append('}');

        // Read the body into its own buffer: a failure half-way leaves the
        // line well-formed with an error instead.
        StringBuilder body = new StringBuilder();
        try {
            describeBody(body, m);
        } catch (Exception e) {
            body.setLength(0);
            body.append(",\"error\":");
            writeString(body, e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        out.append(body);
        return out.append('}').toString();
    }

    private static void describeBody(StringBuilder out, Message m) throws JMSException {
        out.append(",\"body\":");
        if (m instanceof TextMessage) {
            writeValue(out, ((TextMessage) m).getText());
        } else if (m instanceof BytesMessage) {
            BytesMessage b = (BytesMessage) m;
            byte[] bytes = new byte[(int) b.getBodyLength()];
            b.readBytes(bytes);
            writeValue(out, bytes);
        } else if (m instanceof MapMessage) {
            MapMessage mm = (MapMessage) m;
            List<String> names = new ArrayList<>();
            for (Enumeration<?> e = mm.getMapNames(); e.hasMoreElements();) {
                names.add((String) e.nextElement());
            }
            Collections.sort(names);
            StringBuilder types = new StringBuilder("{");
            out.append('{');
            for (int i = 0; i < names.size(); i++) {
                if (i > 0) {
                    out.append(',');
                    types.append(',');
                }
                Object v = mm.getObject(names.get(i));
                writeString(out, names.get(i));
                out.append(':');
                writeValue(out, v);
                writeString(types, names.get(i));
                types.append(':');
                writeType(types, v);
            }
            out.append('}');
            out.append(",\"types\":").append(types).append('}');
        } else if (m instanceof StreamMessage) {
            StreamMessage s = (StreamMessage) m;
            StringBuilder types = new StringBuilder("[");
            out.append('[');
            for (int i = 0;; i++) {
                Object v;
                try {
                    v = s.readObject();
                } catch (MessageEOFException end) {
                    break;
                }
                if (i > 0) {
                    out.append(',');
                    types.append(',');
                }
                writeValue(out, v);
                writeType(types, v);
            }
            out.append(']');
            out.append(",\"types\":").append(types).append(']');
        } else if (m instanceof ObjectMessage) {
            Object v = ((ObjectMessage) m).getObject();
            writeValue(out, v);
            out.append(",\"types\":");
            writeType(out, v);
        } else {
            out.append("null");
        }
    }

    private static void writeType(StringBuilder out, Object v) {
        if (v == null) {
            out.append("null");
        } else {
            writeString(out, v.getClass().getSimpleName());
        }
    }

    private static void writeValue(StringBuilder out, Object v) {
        if (v == null) {
            out.append("null");
        } else if (v instanceof String || v instanceof Character) {
            writeString(out, v.toString());
        } else if (v instanceof Boolean) {
            out.append(v);
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                writeString(out, v.toString());
            } else {
                out.append(v);
            }
        } else if (v instanceof Number) {
            // Integer, Long, ..., and Proton's UnsignedInteger and friends,
            // whose toString is the decimal value.
            out.append(v);
        } else if (v instanceof byte[]) {
            writeBytes(out, (byte[]) v, 0, ((byte[]) v).length);
        } else if (v instanceof Binary) {
            Binary b = (Binary) v;
            writeBytes(out, b.getArray(), b.getArrayOffset(), b.getLength());
        } else if (v instanceof Map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                writeString(out, String.valueOf(e.getKey()));
                out.append(':');
                writeValue(out, e.getValue());
            }
            out.append('}');
        } else if (v instanceof Collection) {
            out.append('[');
            boolean first = true;
            for (Object e : (Collection<?>) v) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                writeValue(out, e);
            }
            out.append(']');
        } else if (v.getClass().isArray()) {
            out.append('[');
            for (int i = 0; i < Array.getLength(v); i++) {
                if (i > 0) {
                    out.append(',');
                }
                writeValue(out, Array.get(v, i));
            }
            out.append(']');
        } else {
            writeString(out, v.toString());
        }
    }

    private static void writeBytes(StringBuilder out, byte[] b, int off, int len) {
        out.append('[');
        for (int i = 0; i < len; i++) {
            if (i > 0) {
                out.append(',');
            }
            out.append(b[off + i] & 0xff);
        }
        out.append(']');
    }

    // writeString writes s as a JSON string of ASCII characters: quotes,
    // backslashes, control characters and everything past 0x7e escaped
    // (UTF-16 units one by one, so a surrogate pair stays a pair).
    private static void writeString(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"':
                    out.append("\\\"");
                    break;
                case '\\':
                    out.append("\\\\");
                    break;
                case '\n':
                    out.append("\\n");
                    break;
                case '\r':
                    out.append("\\r");
                    break;
                case '\t':
                    out.append("\\t");
                    break;
                default:
                    if (c < 0x20 || c > 0x7e) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        out.append('"');
    }
}
