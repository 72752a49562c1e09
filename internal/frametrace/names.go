package frametrace

import "github.com/amqgo/amq/internal/codec"

// composite names a described type of the specification and, for the
// list-based ones, its fields in order.
type composite struct {
	name   string
	fields []string // nil: the value is not a field list (a map, binary, ...)
}

// composites are the described types a trace line names, by descriptor
// code: performatives (§2.7, §5.3.3), error, delivery states (§3.4),
// terminus and lifetime policies (§3.5), transactions (§4), and message
// sections (§3.2), which may appear inside other values.
var composites = map[uint64]composite{
	0x10: {"open", []string{"container-id", "hostname", "max-frame-size", "channel-max", "idle-time-out", "outgoing-locales", "incoming-locales", "offered-capabilities", "desired-capabilities", "properties"}},
	0x11: {"begin", []string{"remote-channel", "next-outgoing-id", "incoming-window", "outgoing-window", "handle-max", "offered-capabilities", "desired-capabilities", "properties"}},
	0x12: {"attach", []string{"name", "handle", "role", "snd-settle-mode", "rcv-settle-mode", "source", "target", "unsettled", "incomplete-unsettled", "initial-delivery-count", "max-message-size", "offered-capabilities", "desired-capabilities", "properties"}},
	0x13: {"flow", []string{"next-incoming-id", "incoming-window", "next-outgoing-id", "outgoing-window", "handle", "delivery-count", "link-credit", "available", "drain", "echo", "properties"}},
	0x14: {"transfer", []string{"handle", "delivery-id", "delivery-tag", "message-format", "settled", "more", "rcv-settle-mode", "state", "resume", "aborted", "batchable"}},
	0x15: {"disposition", []string{"role", "first", "last", "settled", "state", "batchable"}},
	0x16: {"detach", []string{"handle", "closed", "error"}},
	0x17: {"end", []string{"error"}},
	0x18: {"close", []string{"error"}},
	0x1d: {"error", []string{"condition", "description", "info"}},
	0x23: {"received", []string{"section-number", "section-offset"}},
	0x24: {"accepted", []string{}},
	0x25: {"rejected", []string{"error"}},
	0x26: {"released", []string{}},
	0x27: {"modified", []string{"delivery-failed", "undeliverable-here", "message-annotations"}},
	0x28: {"source", []string{"address", "durable", "expiry-policy", "timeout", "dynamic", "dynamic-node-properties", "distribution-mode", "filter", "default-outcome", "outcomes", "capabilities"}},
	0x29: {"target", []string{"address", "durable", "expiry-policy", "timeout", "dynamic", "dynamic-node-properties", "capabilities"}},
	0x2b: {"delete-on-close", []string{}},
	0x2c: {"delete-on-no-links", []string{}},
	0x2d: {"delete-on-no-messages", []string{}},
	0x2e: {"delete-on-no-links-or-messages", []string{}},
	0x30: {"coordinator", []string{"capabilities"}},
	0x31: {"declare", []string{"global-id"}},
	0x32: {"discharge", []string{"txn-id", "fail"}},
	0x33: {"declared", []string{"txn-id"}},
	0x34: {"transactional-state", []string{"txn-id", "outcome"}},
	0x40: {"sasl-mechanisms", []string{"sasl-server-mechanisms"}},
	0x41: {"sasl-init", []string{"mechanism", "initial-response", "hostname"}},
	0x42: {"sasl-challenge", []string{"challenge"}},
	0x43: {"sasl-response", []string{"response"}},
	0x44: {"sasl-outcome", []string{"code", "additional-data"}},
	0x70: {"header", []string{"durable", "priority", "ttl", "first-acquirer", "delivery-count"}},
	0x71: {"delivery-annotations", nil},
	0x72: {"message-annotations", nil},
	0x73: {"properties", []string{"message-id", "user-id", "to", "subject", "reply-to", "correlation-id", "content-type", "content-encoding", "absolute-expiry-time", "creation-time", "group-id", "group-sequence", "reply-to-group-id"}},
	0x74: {"application-properties", nil},
	0x75: {"data", nil},
	0x76: {"amqp-sequence", nil},
	0x77: {"amqp-value", nil},
	0x78: {"footer", nil},
}

// symbolicDescriptors maps the symbolic descriptors of the specification
// ("amqp:open:list") to their codes, for peers that send those.
var symbolicDescriptors = func() map[codec.Symbol]uint64 {
	m := make(map[codec.Symbol]uint64, len(composites))
	for code, c := range composites {
		suffix := ":list"
		switch code {
		case 0x71, 0x72, 0x74, 0x78:
			suffix = ":map"
		case 0x75:
			suffix = ":binary"
		case 0x77:
			suffix = ":*"
		}
		m[codec.Symbol("amqp:"+c.name+suffix)] = code
	}
	return m
}()

// descriptorCode returns the numeric code of a descriptor, numeric or symbolic.
func descriptorCode(desc any) (uint64, bool) {
	switch d := desc.(type) {
	case uint64:
		return d, true
	case codec.Symbol:
		c, ok := symbolicDescriptors[d]
		return c, ok
	}
	return 0, false
}

// arrayTypeNames are Proton's names for array element types, as it prints
// them: @PN_SYMBOL[:a, :b].
var arrayTypeNames = map[codec.TypeCode]string{
	codec.TypeNull: "PN_NULL", codec.TypeBool: "PN_BOOL", codec.TypeTrue: "PN_BOOL", codec.TypeFalse: "PN_BOOL",
	codec.TypeUbyte: "PN_UBYTE", codec.TypeUshort: "PN_USHORT",
	codec.TypeUint: "PN_UINT", codec.TypeSmallUint: "PN_UINT", codec.TypeUint0: "PN_UINT",
	codec.TypeUlong: "PN_ULONG", codec.TypeSmallUlong: "PN_ULONG", codec.TypeUlong0: "PN_ULONG",
	codec.TypeByte: "PN_BYTE", codec.TypeShort: "PN_SHORT",
	codec.TypeInt: "PN_INT", codec.TypeSmallInt: "PN_INT", codec.TypeLong: "PN_LONG", codec.TypeSmallLong: "PN_LONG",
	codec.TypeFloat: "PN_FLOAT", codec.TypeDouble: "PN_DOUBLE",
	codec.TypeDecimal32: "PN_DECIMAL32", codec.TypeDecimal64: "PN_DECIMAL64", codec.TypeDecimal128: "PN_DECIMAL128",
	codec.TypeChar: "PN_CHAR", codec.TypeTimestamp: "PN_TIMESTAMP", codec.TypeUUID: "PN_UUID",
	codec.TypeVbin8: "PN_BINARY", codec.TypeVbin32: "PN_BINARY", codec.TypeStr8: "PN_STRING", codec.TypeStr32: "PN_STRING",
	codec.TypeSym8: "PN_SYMBOL", codec.TypeSym32: "PN_SYMBOL",
	codec.TypeList0: "PN_LIST", codec.TypeList8: "PN_LIST", codec.TypeList32: "PN_LIST",
	codec.TypeMap8: "PN_MAP", codec.TypeMap32: "PN_MAP", codec.TypeArray8: "PN_ARRAY", codec.TypeArray32: "PN_ARRAY",
}
