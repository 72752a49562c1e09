package frametrace

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/amqgo/amq/internal/codec"
)

const (
	// maxLine bounds a trace line; a longer one is cut and ends in "...".
	maxLine = 16 << 10
	// maxValue bounds the bytes shown of one string, symbol or binary.
	maxValue = 1024
	// payloadShown is how many payload bytes follow a transfer.
	payloadShown = 64
)

// printer builds one trace line in Proton's notation.
type printer struct {
	b strings.Builder
}

func (p *printer) s(s string) { p.b.WriteString(s) }

// full reports whether the line is already as long as it may be; loops over
// elements stop then.
func (p *printer) full() bool { return p.b.Len() >= maxLine }

// line returns the line, cut to maxLine bytes at a character boundary.
func (p *printer) line() string {
	s := p.b.String()
	if len(s) <= maxLine {
		return s
	}
	cut := maxLine
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func (p *printer) value(v any) {
	if p.full() {
		return
	}
	switch v := v.(type) {
	case nil:
		p.s("null")
	case bool:
		p.s(strconv.FormatBool(v))
	case uint8:
		p.hex(uint64(v))
	case uint16:
		p.hex(uint64(v))
	case uint32:
		p.hex(uint64(v))
	case uint64:
		p.hex(v)
	case int8:
		p.s(strconv.FormatInt(int64(v), 10))
	case int16:
		p.s(strconv.FormatInt(int64(v), 10))
	case int32:
		p.s(strconv.FormatInt(int64(v), 10))
	case int64:
		p.s(strconv.FormatInt(v, 10))
	case float32:
		p.s(strconv.FormatFloat(float64(v), 'g', -1, 32))
	case float64:
		p.s(strconv.FormatFloat(v, 'g', -1, 64))
	case codec.Char:
		p.s(fmt.Sprintf("U+%04X", uint32(v)))
	case time.Time:
		// Milliseconds since the epoch, as Proton prints a timestamp.
		p.s(strconv.FormatInt(v.UnixMilli(), 10))
	case codec.UUID:
		p.s(fmt.Sprintf("UUID(%x-%x-%x-%x-%x)", v[0:4], v[4:6], v[6:8], v[8:10], v[10:16]))
	case codec.Decimal32:
		p.s("D32(0x" + hex.EncodeToString(v[:]) + ")")
	case codec.Decimal64:
		p.s("D64(0x" + hex.EncodeToString(v[:]) + ")")
	case codec.Decimal128:
		p.s("D128(0x" + hex.EncodeToString(v[:]) + ")")
	case []byte:
		p.s("b")
		p.quoteBytes(v, maxValue)
	case string:
		p.quoteString(v)
	case codec.Symbol:
		p.symbol(v)
	case codec.Described:
		p.described(v)
	case codec.List:
		p.s("[")
		for i, e := range v {
			if p.full() {
				break
			}
			if i > 0 {
				p.s(", ")
			}
			p.value(e)
		}
		p.s("]")
	case codec.Map:
		p.s("{")
		for i, e := range v {
			if p.full() {
				break
			}
			if i > 0 {
				p.s(", ")
			}
			p.value(e.Key)
			p.s("=")
			p.value(e.Value)
		}
		p.s("}")
	case codec.Array:
		p.array(v)
	case []bool:
		arrayOf(p, "PN_BOOL", v)
	case []int8:
		arrayOf(p, "PN_BYTE", v)
	case []int16:
		arrayOf(p, "PN_SHORT", v)
	case []int32:
		arrayOf(p, "PN_INT", v)
	case []int64:
		arrayOf(p, "PN_LONG", v)
	case []uint16:
		arrayOf(p, "PN_USHORT", v)
	case []uint32:
		arrayOf(p, "PN_UINT", v)
	case []uint64:
		arrayOf(p, "PN_ULONG", v)
	case []float32:
		arrayOf(p, "PN_FLOAT", v)
	case []float64:
		arrayOf(p, "PN_DOUBLE", v)
	case []codec.Char:
		arrayOf(p, "PN_CHAR", v)
	case []time.Time:
		arrayOf(p, "PN_TIMESTAMP", v)
	case []codec.UUID:
		arrayOf(p, "PN_UUID", v)
	case [][]byte:
		arrayOf(p, "PN_BINARY", v)
	case []string:
		arrayOf(p, "PN_STRING", v)
	case []codec.Symbol:
		arrayOf(p, "PN_SYMBOL", v)
	default:
		// codec.Unmarshal returns none other; say so rather than guess.
		p.s(fmt.Sprintf("<%T>", v))
	}
}

func (p *printer) hex(v uint64) { p.s("0x" + strconv.FormatUint(v, 16)) }

func arrayOf[T any](p *printer, typ string, v []T) {
	p.s("@" + typ + "[")
	for i, e := range v {
		if p.full() {
			break
		}
		if i > 0 {
			p.s(", ")
		}
		p.value(e)
	}
	p.s("]")
}

func (p *printer) array(a codec.Array) {
	typ, ok := arrayTypeNames[a.Elem]
	if !ok {
		typ = fmt.Sprintf("0x%02x", byte(a.Elem))
	}
	if a.Descriptor != nil {
		// Every element is described by the same descriptor.
		p.s("@PN_DESCRIBED[")
		for i, e := range a.Values {
			if p.full() {
				break
			}
			if i > 0 {
				p.s(", ")
			}
			p.described(codec.Described{Descriptor: a.Descriptor, Value: e})
		}
		p.s("]")
		return
	}
	arrayOf(p, typ, a.Values)
}

// described prints @name(code) [field=value, ...] for the composites of
// the specification, leaving out absent fields as Proton does, and
// @descriptor value for any other described value.
func (p *printer) described(d codec.Described) {
	code, known := descriptorCode(d.Descriptor)
	c, named := composites[code]
	if !known || !named {
		p.s("@")
		p.value(d.Descriptor)
		p.s(" ")
		p.value(d.Value)
		return
	}
	p.s("@" + c.name + "(" + strconv.FormatUint(code, 10) + ") ")
	l, isList := d.Value.(codec.List)
	switch {
	case !isList && (code == codec.DescSASLInit || code == codec.DescSASLResponse):
		// Not the list the spec wants: whatever it is may be a credential.
		p.s(redacted)
	case !isList || c.fields == nil:
		p.value(d.Value)
	default:
		p.fields(code, c.fields, l)
	}
}

func (p *printer) fields(code uint64, names []string, l codec.List) {
	p.s("[")
	first := true
	for i, v := range l {
		if p.full() {
			break
		}
		if v == nil {
			continue
		}
		if !first {
			p.s(", ")
		}
		first = false
		if i < len(names) {
			p.s(names[i] + "=")
		}
		if redactField(code, i, l) {
			p.s(redacted)
		} else {
			p.value(v)
		}
	}
	p.s("]")
}

// payload prints what follows a transfer: its size, then its first bytes
// unless they are secret (SASL frames carry no payload; if a broken peer
// sends bytes there anyway they are not shown).
func (p *printer) payload(secret bool, size uint64, have []byte) {
	p.s(" (" + strconv.FormatUint(size, 10) + ")")
	if secret {
		return
	}
	p.s(" ")
	p.quoteBytes(have[:min(len(have), payloadShown)], payloadShown)
	if size > payloadShown {
		p.s("...")
	}
}

// rawBody shows a frame body that could not be decoded: in hex, or not at
// all if it is secret.
func (p *printer) rawBody(secret bool, body []byte) {
	if secret {
		p.s(" " + strconv.Itoa(len(body)) + " bytes not shown")
		return
	}
	p.s(" " + hex.EncodeToString(body[:min(len(body), hexShown)]))
	if len(body) > hexShown {
		p.s("...")
	}
}

// quoteBytes prints b in double quotes, printable ASCII as itself and any
// other byte as \xNN; past limit bytes it stops and appends "...".
func (p *printer) quoteBytes(b []byte, limit int) {
	p.s(`"`)
	for i, c := range b {
		if i == limit {
			p.s(`"...`)
			return
		}
		switch {
		case c == '"' || c == '\\':
			p.b.WriteByte('\\')
			p.b.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			p.b.WriteByte(c)
		default:
			p.s(`\x`)
			p.s(hex.EncodeToString([]byte{c}))
		}
	}
	p.s(`"`)
}

// quoteString prints s in double quotes, printable characters as
// themselves, control characters and invalid UTF-8 escaped.
func (p *printer) quoteString(s string) {
	p.s(`"`)
	p.escapeString(s)
	p.s(`"`)
	if len(s) > maxValue {
		p.s("...")
	}
}

func (p *printer) escapeString(s string) {
	for i := 0; i < len(s) && i < maxValue; {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			p.s(`\x` + hex.EncodeToString([]byte{s[i]}))
		case r == '"' || r == '\\':
			p.b.WriteByte('\\')
			p.b.WriteRune(r)
		case r < 0x80 && (r < 0x20 || r == 0x7f), r >= 0x80 && !unicode.IsPrint(r):
			// \xNN for ASCII controls; \u for the rest, so that \xNN
			// past 0x7f always means a byte that is not UTF-8.
			if r < 0x80 {
				p.s(fmt.Sprintf(`\x%02x`, r))
			} else {
				p.s(fmt.Sprintf(`\u%04x`, r))
			}
		default:
			p.b.WriteString(s[i : i+n])
		}
		i += n
	}
}

// symbol prints :name, or :"name" when it holds anything but letters,
// digits, '_', '-' and '.'.
func (p *printer) symbol(s codec.Symbol) {
	p.s(":")
	bare := len(s) > 0 && len(s) <= maxValue
	for i := 0; i < len(s) && bare; i++ {
		c := s[i]
		bare = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
	}
	if bare {
		p.s(string(s))
		return
	}
	p.quoteString(string(s))
}
