package codec

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// h decodes a hex string with optional spaces.
func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// equalValues is reflect.DeepEqual, except that NaNs equal NaNs with the
// same bits.
func equalValues(a, b any) bool {
	switch x := a.(type) {
	case float32:
		y, ok := b.(float32)
		return ok && math.Float32bits(x) == math.Float32bits(y)
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case []float32:
		y, ok := b.([]float32)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				return false
			}
		}
		return true
	case []float64:
		y, ok := b.([]float64)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
				return false
			}
		}
		return true
	case List:
		y, ok := b.(List)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValues(x[i], y[i]) {
				return false
			}
		}
		return true
	case Map:
		y, ok := b.(Map)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValues(x[i].Key, y[i].Key) || !equalValues(x[i].Value, y[i].Value) {
				return false
			}
		}
		return true
	case Described:
		y, ok := b.(Described)
		return ok && equalValues(x.Descriptor, y.Descriptor) && equalValues(x.Value, y.Value)
	case Array:
		y, ok := b.(Array)
		if !ok || !equalValues(x.Descriptor, y.Descriptor) || family(x.Elem) != family(y.Elem) || len(x.Values) != len(y.Values) {
			return false
		}
		for i := range x.Values {
			if !equalValues(x.Values[i], y.Values[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func ts(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

var (
	long300 = strings.Repeat("x", 300)
	bin300  = bytes.Repeat([]byte{0xff, 0x00}, 150)
	list300 = func() List {
		l := make(List, 300)
		for i := range l {
			l[i] = uint32(0)
		}
		return l
	}()
	nested   = List{List{List{Map{{Key: Symbol("k"), Value: List{}}}}}}
	mapLarge = func() Map {
		m := Map{}
		for i := range 100 {
			m = append(m, MapEntry{Key: int32(i * 1000), Value: "v"})
		}
		return m
	}()
)

// TestPrimitiveRoundTrip checks the exact compact encoding chosen for every
// type and that it decodes back to the same value.
func TestPrimitiveRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string // hex of the encoding; "" to only round-trip
		out  any    // decoded value when it differs from in
	}{
		{"null", nil, "40", nil},
		{"true", true, "41", nil},
		{"false", false, "42", nil},
		{"ubyte 0", uint8(0), "50 00", nil},
		{"ubyte max", uint8(255), "50 ff", nil},
		{"ushort max", uint16(65535), "60 ffff", nil},
		{"uint0", uint32(0), "43", nil},
		{"smalluint", uint32(255), "52 ff", nil},
		{"uint 256", uint32(256), "70 00000100", nil},
		{"uint max", uint32(math.MaxUint32), "70 ffffffff", nil},
		{"ulong0", uint64(0), "44", nil},
		{"smallulong", uint64(255), "53 ff", nil},
		{"ulong 256", uint64(256), "80 0000000000000100", nil},
		{"ulong max", uint64(math.MaxUint64), "80 ffffffffffffffff", nil},
		{"go uint", uint(7), "53 07", uint64(7)},
		{"byte min", int8(math.MinInt8), "51 80", nil},
		{"byte max", int8(math.MaxInt8), "51 7f", nil},
		{"short min", int16(math.MinInt16), "61 8000", nil},
		{"short max", int16(math.MaxInt16), "61 7fff", nil},
		{"smallint -128", int32(-128), "54 80", nil},
		{"smallint 127", int32(127), "54 7f", nil},
		{"int 128", int32(128), "71 00000080", nil},
		{"int -129", int32(-129), "71 ffffff7f", nil},
		{"int min", int32(math.MinInt32), "71 80000000", nil},
		{"int max", int32(math.MaxInt32), "71 7fffffff", nil},
		{"smalllong -1", int64(-1), "55 ff", nil},
		{"long 128", int64(128), "81 0000000000000080", nil},
		{"long min", int64(math.MinInt64), "81 8000000000000000", nil},
		{"long max", int64(math.MaxInt64), "81 7fffffffffffffff", nil},
		{"go int", -5, "55 fb", int64(-5)},
		{"float 1.5", float32(1.5), "72 3fc00000", nil},
		{"float NaN", float32(math.NaN()), "72 7fc00000", nil},
		{"float +Inf", float32(math.Inf(1)), "72 7f800000", nil},
		{"float -Inf", float32(math.Inf(-1)), "72 ff800000", nil},
		{"float max", float32(math.MaxFloat32), "72 7f7fffff", nil},
		{"float -0", float32(math.Copysign(0, -1)), "72 80000000", nil},
		{"double", float64(-2.5), "82 c004000000000000", nil},
		{"double NaN", math.NaN(), "82 7ff8000000000001", nil},
		{"double +Inf", math.Inf(1), "82 7ff0000000000000", nil},
		{"double -Inf", math.Inf(-1), "82 fff0000000000000", nil},
		{"double smallest", math.SmallestNonzeroFloat64, "82 0000000000000001", nil},
		{"decimal32", Decimal32{1, 2, 3, 4}, "74 01020304", nil},
		{"decimal64", Decimal64{1, 2, 3, 4, 5, 6, 7, 8}, "84 0102030405060708", nil},
		{"decimal128", Decimal128{15: 9}, "94 00000000000000000000000000000009", nil},
		{"char", Char('é'), "73 000000e9", nil},
		{"char emoji", Char(0x1F600), "73 0001f600", nil},
		{"timestamp epoch", ts(0), "83 0000000000000000", nil},
		{"timestamp", ts(1311704463521), "83 0000013167adb8a1", nil},
		{"timestamp negative", ts(-1), "83 ffffffffffffffff", nil},
		{"timestamp min", ts(math.MinInt64), "83 8000000000000000", nil},
		{"timestamp max", ts(math.MaxInt64), "83 7fffffffffffffff", nil},
		{"timestamp sub-ms truncated", time.Unix(1, 999999), "83 00000000000003e8", ts(1000)},
		{"uuid", UUID{0: 0xde, 15: 0xad}, "98 de0000000000000000000000000000ad", nil},
		{"vbin8 empty", []byte{}, "a0 00", nil},
		{"vbin8 non-utf8", []byte{0xff, 0xfe, 0x00}, "a0 03 fffe00", nil},
		{"vbin32", bin300, "", nil},
		{"str8 empty", "", "a1 00", nil},
		{"str8", "héllo", "a1 06 68c3a96c6c6f", nil},
		{"str32", long300, "b1 0000012c " + hex.EncodeToString([]byte(long300)), nil},
		{"sym8", Symbol("amqp:link:stolen"), "a3 10 616d71703a6c696e6b3a73746f6c656e", nil},
		{"sym8 empty", Symbol(""), "a3 00", nil},
		{"sym32", Symbol(long300), "", nil},
		{"list0", List{}, "45", nil},
		{"[]any", []any{true}, "c0 02 01 41", List{true}},
		{"list8", List{uint32(1), "a", nil}, "c0 07 03 52 01 a1 01 61 40", nil},
		{"list32", list300, "d0 00000130 0000012c " + strings.Repeat("43", 300), nil},
		{"nested", nested, "", nil},
		{"map8 empty", Map{}, "c1 01 00", nil},
		{"map8", Map{{Key: Symbol("a"), Value: int64(1)}, {Key: "a", Value: nil}}, "c1 0a 04 a3 01 61 55 01 a1 01 61 40", nil},
		{"map32", mapLarge, "", nil},
		{"map binary key", Map{{Key: []byte{1}, Value: List{}}}, "c1 05 02 a0 01 01 45", nil},
		{"go map sorted", map[string]any{"b": uint8(2), "a": uint8(1)}, "c1 0b 04 a1 01 61 50 01 a1 01 62 50 02", Map{{Key: "a", Value: uint8(1)}, {Key: "b", Value: uint8(2)}}},
		{"go symbol map", map[Symbol]any{"x": nil}, "c1 05 02 a3 01 78 40", Map{{Key: Symbol("x"), Value: nil}}},
		{"described ulong", Described{Descriptor: uint64(0x77), Value: "v"}, "00 53 77 a1 01 76", nil},
		{"described symbol", Described{Descriptor: Symbol("x:y"), Value: List{}}, "00 a3 03 783a79 45", nil},
		{"described pointer", &Described{Descriptor: uint64(1), Value: nil}, "00 53 01 40", Described{Descriptor: uint64(1), Value: nil}},
		{"described in described", Described{Descriptor: uint64(1), Value: Described{Descriptor: uint64(2), Value: true}}, "00 53 01 00 53 02 41", nil},
		{"array bool", []bool{true, false}, "e0 04 02 56 01 00", nil},
		{"array empty int", []int32{}, "e0 02 00 71", nil},
		{"array int8", []int8{-1, 2}, "e0 04 02 51 ff 02", nil},
		{"array int16", []int16{-1}, "e0 04 01 61 ffff", nil},
		{"array int32", []int32{1, -1}, "e0 0a 02 71 00000001 ffffffff", nil},
		{"array int64", []int64{math.MinInt64}, "", nil},
		{"array uint16", []uint16{1}, "e0 04 01 60 0001", nil},
		{"array uint32", []uint32{0, math.MaxUint32}, "e0 0a 02 70 00000000 ffffffff", nil},
		{"array uint64", []uint64{math.MaxUint64}, "", nil},
		{"array float32", []float32{float32(math.Inf(1))}, "", nil},
		{"array float64", []float64{math.NaN(), 0}, "", nil},
		{"array char", []Char{'a'}, "e0 06 01 73 00000061", nil},
		{"array timestamp", []time.Time{ts(0), ts(-5)}, "", nil},
		{"array uuid", []UUID{{1}, {2}}, "", nil},
		{"array binary", [][]byte{{1}, {}}, "e0 05 02 a0 01 01 00", nil},
		{"array binary wide", [][]byte{bin300}, "", nil},
		{"array string", []string{"a", "bc"}, "e0 07 02 a1 01 61 02 62 63", nil},
		{"array symbol", []Symbol{"queue"}, "e0 08 01 a3 05 7175657565", nil},
		{"array symbol wide", []Symbol{"a", Symbol(long300)}, "", nil},
		{"array32 symbol", func() []Symbol {
			s := make([]Symbol, 100)
			for i := range s {
				s[i] = "abc"
			}
			return s
		}(), "", nil},
		{"array ubyte", Array{Elem: TypeUbyte, Values: []any{uint8(1), uint8(2)}}, "e0 04 02 50 01 02", nil},
		{"array inferred", Array{Values: []any{Decimal32{}}}, "e0 06 01 74 00000000", Array{Elem: TypeDecimal32, Values: []any{Decimal32{}}}},
		{"array empty generic", Array{}, "e0 02 00 40", Array{Elem: TypeNull, Values: []any{}}},
		{"array of nulls", Array{Elem: TypeNull, Values: []any{nil, nil}}, "e0 02 02 40", nil},
		{"array of lists", Array{Elem: TypeList0, Values: []any{List{}, List{true}}}, "e0 13 02 d0 00000004 00000000 00000005 00000001 41", Array{Elem: TypeList32, Values: []any{List{}, List{true}}}},
		{"array of maps", Array{Elem: TypeMap8, Values: []any{Map{{Key: "k", Value: "v"}}}}, "", nil},
		{"array of arrays", Array{Elem: TypeArray8, Values: []any{[]int32{1}, []string{"x"}}}, "", nil},
		{"array described", Array{Descriptor: Symbol("d"), Elem: TypeStr8, Values: []any{"a", long300}}, "", Array{Descriptor: Symbol("d"), Elem: TypeStr32, Values: []any{"a", long300}}},
		{"array described ulong", Array{Descriptor: uint64(0x28), Elem: TypeList32, Values: []any{List{"q"}}}, "", nil},
		{"array uint generic", Array{Elem: TypeSmallUint, Values: []any{uint32(7)}}, "e0 06 01 70 00000007", []uint32{7}},
		{"array long generic", Array{Elem: TypeLong, Values: []any{int64(7), 8}}, "", []int64{7, 8}},
		{"array symbol generic", Array{Elem: TypeSym8, Values: []any{Symbol("a")}}, "e0 04 01 a3 01 61", []Symbol{"a"}},
		{"array bool generic", Array{Elem: TypeTrue, Values: []any{true, false}}, "e0 04 02 56 01 00", []bool{true, false}},
		{"array ulong generic", Array{Elem: TypeUlong0, Values: []any{uint64(1), uint(2)}}, "", []uint64{1, 2}},
		{"array int generic", Array{Elem: TypeSmallInt, Values: []any{int32(-1)}}, "e0 06 01 71 ffffffff", []int32{-1}},
		{"array ushort generic", Array{Elem: TypeUshort, Values: []any{uint16(1)}}, "e0 04 01 60 0001", []uint16{1}},
		{"array binary generic", Array{Elem: TypeVbin32, Values: []any{[]byte{1}, bin300}}, "", [][]byte{{1}, bin300}},
		{"array string generic", Array{Elem: TypeStr32, Values: []any{"a"}}, "e0 04 01 a1 01 61", []string{"a"}},
		{"array pointer", &Array{Elem: TypeUbyte, Values: []any{uint8(1)}}, "e0 03 01 50 01", Array{Elem: TypeUbyte, Values: []any{uint8(1)}}},
		{"array inferred everything", List{
			Array{Values: []any{nil}}, Array{Values: []any{true}}, Array{Values: []any{uint8(1)}}, Array{Values: []any{uint16(1)}},
			Array{Values: []any{uint32(1)}}, Array{Values: []any{uint64(1)}}, Array{Values: []any{int8(1)}}, Array{Values: []any{int16(1)}},
			Array{Values: []any{int32(1)}}, Array{Values: []any{int64(1)}}, Array{Values: []any{float32(1)}}, Array{Values: []any{float64(1)}},
			Array{Values: []any{Decimal64{}}}, Array{Values: []any{Decimal128{}}}, Array{Values: []any{Char('a')}}, Array{Values: []any{ts(1)}},
			Array{Values: []any{UUID{}}}, Array{Values: []any{[]byte{}}}, Array{Values: []any{""}}, Array{Values: []any{Symbol("")}},
			Array{Values: []any{List{}}}, Array{Values: []any{Map{}}}, Array{Values: []any{[]int32{}}},
		}, "", List{
			Array{Elem: TypeNull, Values: []any{nil}}, []bool{true}, Array{Elem: TypeUbyte, Values: []any{uint8(1)}}, []uint16{1},
			[]uint32{1}, []uint64{1}, []int8{1}, []int16{1},
			[]int32{1}, []int64{1}, []float32{1}, []float64{1},
			Array{Elem: TypeDecimal64, Values: []any{Decimal64{}}}, Array{Elem: TypeDecimal128, Values: []any{Decimal128{}}}, []Char{'a'}, []time.Time{ts(1)},
			[]UUID{{}}, [][]byte{{}}, []string{""}, []Symbol{""},
			Array{Elem: TypeList32, Values: []any{List{}}}, Array{Elem: TypeMap32, Values: []any{Map{}}}, Array{Elem: TypeArray32, Values: []any{[]int32{}}},
		}},
		{"list of everything", List{nil, true, uint8(1), int16(-2), float64(3), ts(4), UUID{}, []byte("b"), "s", Symbol("y"), Map{}, []int32{5}, Described{Descriptor: uint64(9), Value: List{}}}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := Marshal(tt.in)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if tt.want != "" && !bytes.Equal(enc, h(tt.want)) {
				t.Errorf("Marshal = % x\nwant      % x", enc, h(tt.want))
			}
			// Append must extend, not overwrite.
			app, err := Append([]byte{0xAA}, tt.in)
			if err != nil || app[0] != 0xAA || !bytes.Equal(app[1:], enc) {
				t.Errorf("Append = % x, %v", app, err)
			}
			got, n, err := Unmarshal(append(enc, 0xEE)) // trailing byte must be left alone
			if err != nil {
				t.Fatalf("Unmarshal(% x): %v", enc, err)
			}
			if n != len(enc) {
				t.Errorf("Unmarshal consumed %d bytes, want %d", n, len(enc))
			}
			want := tt.out
			if want == nil {
				want = tt.in
			}
			if !equalValues(got, want) {
				t.Errorf("Unmarshal = %#v\nwant        %#v", got, want)
			}
			// Re-encoding what was decoded gives the same bytes (when the
			// input was already in decoded form).
			if tt.out == nil {
				again, err := Marshal(got)
				if err != nil || !bytes.Equal(again, enc) {
					t.Errorf("re-Marshal = % x, %v; want % x", again, err, enc)
				}
			}
		})
	}
}

// TestDecodeAlternativeEncodings feeds every non-compact (or otherwise
// alternative) encoding the spec allows, as raw bytes.
func TestDecodeAlternativeEncodings(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want any
	}{
		{"boolean true", "56 01", true},
		{"boolean false", "56 00", false},
		{"uint wide 0", "70 00000000", uint32(0)},
		{"uint wide small", "70 00000001", uint32(1)},
		{"smalluint 0", "52 00", uint32(0)},
		{"ulong wide 0", "80 0000000000000000", uint64(0)},
		{"smallulong 0", "53 00", uint64(0)},
		{"int wide small", "71 ffffffff", int32(-1)},
		{"long wide small", "81 0000000000000001", int64(1)},
		{"vbin32 short", "b0 00000002 0102", []byte{1, 2}},
		{"vbin32 empty", "b0 00000000", []byte{}},
		{"str32 short", "b1 00000001 61", "a"},
		{"str8 non-utf8 kept", "a1 01 ff", "\xff"},
		{"sym32 short", "b3 00000001 61", Symbol("a")},
		{"list8 empty", "c0 01 00", List{}},
		{"list32 empty", "d0 00000004 00000000", List{}},
		{"list32 short", "d0 00000005 00000001 40", List{nil}},
		{"map32 empty", "d1 00000004 00000000", Map{}},
		{"map32", "d1 00000008 00000002 43 a1 01 62", Map{{Key: uint32(0), Value: "b"}}},
		{"array32", "f0 00000007 00000002 51 01 02", []int8{1, 2}},
		{"array true ctor", "e0 02 03 41", []bool{true, true, true}},
		{"array false ctor", "e0 02 02 42", []bool{false, false}},
		{"array uint0", "e0 02 02 43", []uint32{0, 0}},
		{"array smalluint", "e0 04 02 52 01 02", []uint32{1, 2}},
		{"array ulong0", "e0 02 01 44", []uint64{0}},
		{"array smallulong", "e0 03 01 53 05", []uint64{5}},
		{"array smallint", "e0 03 01 54 ff", []int32{-1}},
		{"array smalllong", "e0 03 01 55 ff", []int64{-1}},
		{"array list0", "e0 02 02 45", Array{Elem: TypeList0, Values: []any{List{}, List{}}}},
		{"array list8", "e0 07 02 c0 01 00 02 01 41", Array{Elem: TypeList8, Values: []any{List{}, List{true}}}},
		{"array map8", "e0 04 01 c1 01 00", Array{Elem: TypeMap8, Values: []any{Map{}}}},
		{"array array8", "e0 07 01 e0 04 02 51 01 02", Array{Elem: TypeArray8, Values: []any{[]int8{1, 2}}}},
		{"array sym32", "e0 07 01 b3 00000001 61", []Symbol{"a"}},
		{"array str32", "f0 0000000a 00000001 b1 00000001 61", []string{"a"}},
		{"array vbin32", "e0 07 01 b0 00000001 61", [][]byte{{'a'}}},
		{"array described", "e0 05 01 00 53 07 40", Array{Descriptor: uint64(7), Elem: TypeNull, Values: []any{nil}}},
		{"array described symbol", "e0 07 01 00 a3 01 64 52 09", Array{Descriptor: Symbol("d"), Elem: TypeSmallUint, Values: []any{uint32(9)}}},
		{"array ubyte", "e0 03 01 50 09", Array{Elem: TypeUbyte, Values: []any{uint8(9)}}},
		{"array decimal64", "e0 0a 01 84 0000000000000001", Array{Elem: TypeDecimal64, Values: []any{Decimal64{7: 1}}}},
		{"array decimal128", "e0 12 01 94 00000000000000000000000000000001", Array{Elem: TypeDecimal128, Values: []any{Decimal128{15: 1}}}},
		{"described ulong0 descriptor", "00 44 45", Described{Descriptor: uint64(0), Value: List{}}},
		{"described ulong descriptor", "00 80 0000000000000010 45", Described{Descriptor: uint64(0x10), Value: List{}}},
		{"described sym32 descriptor", "00 b3 00000001 78 40", Described{Descriptor: Symbol("x"), Value: nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := h(tt.in)
			got, n, err := Unmarshal(in)
			if err != nil {
				t.Fatalf("Unmarshal(% x): %v", in, err)
			}
			if n != len(in) {
				t.Errorf("consumed %d of %d bytes", n, len(in))
			}
			if !equalValues(got, tt.want) {
				t.Errorf("Unmarshal = %#v\nwant        %#v", got, tt.want)
			}
		})
	}
}

// TestDecodeErrors checks that malformed input is a *DecodeError, never a
// panic, and never an allocation the input doesn't pay for.
func TestDecodeErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"unknown code", "ff"},
		{"reserved code", "01"},
		{"truncated ubyte", "50"},
		{"truncated uint", "70 0000"},
		{"truncated ulong", "80 00000000000000"},
		{"truncated uuid", "98 00"},
		{"bad boolean", "56 02"},
		{"str8 short", "a1 05 61"},
		{"str32 huge", "b1 ffffffff 61"},
		{"vbin32 huge", "b0 7fffffff"},
		{"sym8 missing length", "a3"},
		{"list8 size beyond input", "c0 05 01 40"},
		{"list8 size zero", "c0 00"},
		{"list8 count beyond size", "c0 02 05 40"},
		{"list8 trailing bytes in size", "c0 03 01 40 40"},
		{"list8 element beyond size", "c0 02 01 a1 01 61"},
		{"list32 huge count", "d0 00000004 ffffffff"},
		{"list32 huge size", "d0 ffffffff 00000001 40"},
		{"map8 odd count", "c1 02 01 40"},
		{"map32 huge count", "d1 00000008 fffffffe 40 40 40 40"},
		{"array missing ctor", "e0 01 01"},
		{"array bad ctor", "e0 02 01 ff"},
		{"array huge count fixed", "f0 00000009 7fffffff 70 00000001"},
		{"array huge count zero width", "f0 00000005 7fffffff 40"},
		{"array truncated elem", "e0 03 02 51 01"},
		{"array double described", "e0 05 01 00 53 01 00"},
		{"array bad descriptor", "e0 04 01 00 41 40"},
		{"described bad descriptor", "00 41 40"},
		{"described list descriptor", "00 45 40"},
		{"described truncated", "00 53"},
		{"described missing value", "00 53 01"},
		{"deep nesting", strings.Repeat("c0 ff 01 ", 200)},
		{"deep described", strings.Repeat("00 53 01 ", 200) + "40"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := h(tt.in)
			v, _, err := Unmarshal(in)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Unmarshal(% x) = %#v, %v; want *DecodeError", in, v, err)
			}
			if de.Condition() != ErrCondDecodeError {
				t.Errorf("Condition = %v", de.Condition())
			}
			if de.Offset > len(in) {
				t.Errorf("offset %d beyond input %d", de.Offset, len(in))
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	deep := any(nil)
	for range maxDepth + 5 {
		deep = List{deep}
	}
	for name, v := range map[string]any{
		"unsupported type":        struct{}{},
		"chan":                    make(chan int),
		"nested unsupported":      List{1, struct{}{}},
		"map key unsupported":     Map{{Key: struct{}{}, Value: 1}},
		"map value unsupported":   Map{{Key: 1, Value: struct{}{}}},
		"bad descriptor":          Described{Descriptor: "string", Value: nil},
		"array mixed types":       Array{Elem: TypeInt, Values: []any{int32(1), "x"}},
		"array inferred mixed":    Array{Values: []any{"x", Symbol("y")}},
		"array described element": Array{Values: []any{Described{Descriptor: uint64(1), Value: nil}}},
		"array bad descriptor":    Array{Descriptor: 1, Elem: TypeNull},
		"too deep":                deep,
	} {
		t.Run(name, func(t *testing.T) {
			dst := []byte{1, 2}
			out, err := Append(dst, v)
			if err == nil {
				t.Fatalf("Append(%#v) succeeded: % x", v, out)
			}
			if !bytes.Equal(out, dst) {
				t.Errorf("Append returned % x on error, want dst unchanged", out)
			}
		})
	}
}

func TestMapHelpers(t *testing.T) {
	var m Map
	m.Set(Symbol("a"), 1)
	m.Set("a", 2)
	m.Set([]byte("k"), 3)
	m.Set(Symbol("a"), 4)
	m.Set(List{1}, 5)
	if len(m) != 4 {
		t.Fatalf("len = %d: %#v", len(m), m)
	}
	for _, c := range []struct {
		key  any
		want any
	}{{Symbol("a"), 4}, {"a", 2}, {[]byte("k"), 3}, {List{1}, 5}} {
		if v, ok := m.Get(c.key); !ok || v != c.want {
			t.Errorf("Get(%#v) = %v, %v; want %v", c.key, v, ok, c.want)
		}
	}
	if _, ok := m.Get(uint32(1)); ok {
		t.Error("Get of a missing key succeeded")
	}
	m.Delete("a")
	if _, ok := m.Get("a"); ok || len(m) != 3 || m[0].Key != Symbol("a") || m[1].Value != 3 {
		t.Errorf("after Delete: %#v", m)
	}
	m.Delete("missing")
	if len(m) != 3 {
		t.Error("Delete of a missing key changed the map")
	}
}

// TestZeroWidthBudget checks that nested arrays of zero-width elements
// cannot make the decoder produce more values than the input justifies.
func TestZeroWidthBudget(t *testing.T) {
	// An array32 of 100 array32 elements, each claiming 1<<20 nulls.
	inner := h("00000005 00100000 40")
	in := append(h("f0 00000000 00000064 f0"), bytes.Repeat(inner, 100)...)
	binary.BigEndian.PutUint32(in[1:], uint32(len(in)-5))
	if _, _, err := Unmarshal(in); err == nil {
		t.Fatal("decoded 100M nulls from a kilobyte")
	}
	// A reasonable number of them is fine.
	if v, _, err := Unmarshal(h("e0 02 ff 41")); err != nil || len(v.([]bool)) != 255 {
		t.Fatalf("= %v, %v", v, err)
	}
}

func TestNilPointersEncodeAsNull(t *testing.T) {
	for _, v := range []any{(*Array)(nil), (*Described)(nil), (*Error)(nil), (*Source)(nil), (*Accepted)(nil), (*Open)(nil)} {
		b, err := Marshal(v)
		if err != nil || !bytes.Equal(b, []byte{0x40}) {
			t.Errorf("Marshal(%T nil) = % x, %v", v, b, err)
		}
	}
}
