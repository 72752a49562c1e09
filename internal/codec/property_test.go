package codec

import (
	"bytes"
	"math"
	"math/rand"
	"reflect"
	"testing"
	"time"
)

// gen produces random values in the form Unmarshal returns them, so that
// Unmarshal(Marshal(v)) must equal v.
type gen struct{ r *rand.Rand }

func (g gen) bytes(max int) []byte {
	b := make([]byte, g.r.Intn(max+1))
	g.r.Read(b)
	return b
}

func (g gen) str(max int) string {
	// Sometimes long enough for the 32-bit encodings.
	if g.r.Intn(10) == 0 {
		max = 400
	}
	return string(g.bytes(max))
}

func (g gen) scalar() any {
	switch g.r.Intn(22) {
	case 0:
		return nil
	case 1:
		return g.r.Intn(2) == 0
	case 2:
		return uint8(g.r.Uint32())
	case 3:
		return uint16(g.r.Uint32())
	case 4:
		return g.r.Uint32() >> uint(g.r.Intn(32))
	case 5:
		return g.r.Uint64() >> uint(g.r.Intn(64))
	case 6:
		return int8(g.r.Uint32())
	case 7:
		return int16(g.r.Uint32())
	case 8:
		return int32(g.r.Uint32()) >> uint(g.r.Intn(32))
	case 9:
		return int64(g.r.Uint64()) >> uint(g.r.Intn(64))
	case 10:
		return math.Float32frombits(g.r.Uint32())
	case 11:
		return math.Float64frombits(g.r.Uint64())
	case 12:
		var d Decimal32
		g.r.Read(d[:])
		return d
	case 13:
		var d Decimal64
		g.r.Read(d[:])
		return d
	case 14:
		var d Decimal128
		g.r.Read(d[:])
		return d
	case 15:
		return Char(g.r.Int31n(0x110000))
	case 16:
		return ts(int64(g.r.Uint64()) >> uint(g.r.Intn(64)))
	case 17:
		var u UUID
		g.r.Read(u[:])
		return u
	case 18:
		return g.bytes(20)
	case 19:
		return g.str(20)
	case 20:
		return Symbol(g.str(10))
	default:
		return uint64(g.r.Intn(3))
	}
}

func (g gen) typedArray() any {
	n := g.r.Intn(5)
	switch g.r.Intn(8) {
	case 0:
		a := make([]bool, n)
		for i := range a {
			a[i] = g.r.Intn(2) == 0
		}
		return a
	case 1:
		a := make([]int32, n)
		for i := range a {
			a[i] = int32(g.r.Uint32())
		}
		return a
	case 2:
		a := make([]uint64, n)
		for i := range a {
			a[i] = g.r.Uint64()
		}
		return a
	case 3:
		a := make([]float64, n)
		for i := range a {
			a[i] = math.Float64frombits(g.r.Uint64())
		}
		return a
	case 4:
		a := make([]string, n)
		for i := range a {
			a[i] = g.str(5)
		}
		return a
	case 5:
		a := make([]Symbol, n)
		for i := range a {
			a[i] = Symbol(g.str(5))
		}
		return a
	case 6:
		a := make([][]byte, n)
		for i := range a {
			a[i] = g.bytes(5)
		}
		return a
	default:
		a := make([]time.Time, n)
		for i := range a {
			a[i] = ts(int64(g.r.Uint64()))
		}
		return a
	}
}

func (g gen) descriptor() any {
	if g.r.Intn(2) == 0 {
		return g.r.Uint64() >> uint(g.r.Intn(64))
	}
	return Symbol(g.str(8))
}

func (g gen) value(depth int) any {
	if depth <= 0 {
		return g.scalar()
	}
	switch g.r.Intn(8) {
	case 0:
		l := make(List, g.r.Intn(6))
		for i := range l {
			l[i] = g.value(depth - 1)
		}
		return l
	case 1:
		m := make(Map, g.r.Intn(5))
		for i := range m {
			m[i] = MapEntry{Key: g.value(depth - 2), Value: g.value(depth - 1)}
		}
		return m
	case 2:
		return Described{Descriptor: g.descriptor(), Value: g.value(depth - 1)}
	case 3:
		return g.typedArray()
	case 4:
		// A generic array: ubyte or compound elements, maybe described.
		a := Array{Values: []any{}}
		if g.r.Intn(2) == 0 {
			a.Descriptor = g.descriptor()
		}
		n := g.r.Intn(4)
		if g.r.Intn(2) == 0 {
			a.Elem = TypeUbyte
			for range n {
				a.Values = append(a.Values, uint8(g.r.Uint32()))
			}
		} else {
			a.Elem = TypeList32
			for range n {
				l := List{}
				for range g.r.Intn(3) {
					l = append(l, g.value(depth-2))
				}
				a.Values = append(a.Values, l)
			}
		}
		return a
	default:
		return g.scalar()
	}
}

// TestPropertyRoundTrip encodes random nested values and decodes them back.
func TestPropertyRoundTrip(t *testing.T) {
	g := gen{rand.New(rand.NewSource(1))}
	for i := range 20000 {
		v := g.value(1 + i%6)
		if l, ok := v.(List); ok && i%2 == 0 {
			v = l // keep lists frequent at the top
		}
		enc, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%#v): %v", v, err)
		}
		got, n, err := Unmarshal(enc)
		if err != nil {
			t.Fatalf("Unmarshal(Marshal(%#v)) = %v\n% x", v, err, enc)
		}
		if n != len(enc) || !equalValues(got, v) {
			t.Fatalf("round trip of %#v\n got %#v (n=%d of %d)", v, got, n, len(enc))
		}
		// The encoding is canonical: re-encoding gives the same bytes.
		if again, _ := Marshal(got); !bytes.Equal(again, enc) {
			t.Fatalf("re-encoding differs for %#v", v)
		}
		// Every strict prefix is an error, never a panic or a success.
		if i%20 == 0 {
			for cut := 0; cut < len(enc); cut++ {
				if _, _, err := Unmarshal(enc[:cut]); err == nil {
					t.Fatalf("prefix %d of % x decoded", cut, enc)
				}
			}
		}
	}
}

// fill sets the exported fields of the struct pointed to by p to random
// values that survive a round trip under this package's conventions.
func (g gen) fill(p any) {
	g.fillValue(reflect.ValueOf(p).Elem(), 3)
}

var (
	stateType = reflect.TypeOf((*DeliveryState)(nil)).Elem()
	anyType   = reflect.TypeOf((*any)(nil)).Elem()
)

func (g gen) fillValue(v reflect.Value, depth int) {
	if g.r.Intn(3) == 0 && v.Kind() != reflect.Struct {
		return // leave zero: absent
	}
	switch v.Type() {
	case stateType:
		states := []DeliveryState{&Accepted{}, &Released{}, &Received{SectionNumber: g.r.Uint32(), SectionOffset: g.r.Uint64()},
			&Rejected{Error: &Error{Condition: Symbol(g.str(10)), Description: g.str(10)}}, &Modified{DeliveryFailed: true, MessageAnnotations: Map{}},
			&Declared{TxnID: g.bytes(4)}, &TransactionalState{TxnID: g.bytes(4), Outcome: &Accepted{}}}
		v.Set(reflect.ValueOf(states[g.r.Intn(len(states))]))
		return
	case anyType:
		if x := g.value(depth); x != nil {
			v.Set(reflect.ValueOf(x))
		}
		return
	case reflect.TypeOf(Map(nil)):
		m := Map{}
		for range g.r.Intn(3) {
			m = append(m, MapEntry{Key: Symbol(g.str(5)), Value: g.value(depth)})
		}
		v.Set(reflect.ValueOf(m))
		return
	case reflect.TypeOf(time.Time{}):
		v.Set(reflect.ValueOf(ts(int64(g.r.Uint64()))))
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(g.r.Intn(2) == 0)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(g.r.Uint64() >> uint(g.r.Intn(64)))
	case reflect.String:
		v.SetString(g.str(12))
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes(g.bytes(10))
			return
		}
		n := g.r.Intn(3)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			g.fillValue(s.Index(i), depth-1)
			if s.Index(i).Kind() == reflect.Slice && s.Index(i).IsNil() {
				s.Index(i).Set(reflect.MakeSlice(s.Index(i).Type(), 0, 0))
			}
		}
		v.Set(s)
	case reflect.Pointer:
		if depth <= 0 {
			return
		}
		p := reflect.New(v.Type().Elem())
		g.fillValue(p.Elem(), depth-1)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				g.fillValue(v.Field(i), depth)
			}
		}
	}
}

// TestPropertyPerformatives fills every performative with random field
// values (absent or not) and round-trips it through a frame.
func TestPropertyPerformatives(t *testing.T) {
	g := gen{rand.New(rand.NewSource(2))}
	for range 3000 {
		for _, p := range minimalPerformatives() {
			g.fill(p)
			if a, ok := p.(*Attach); ok && a.Coordinator != nil {
				a.Target = nil // a link has one target
			}
			if o, ok := p.(*SASLOutcome); ok {
				o.Code %= 5
			}
			f := Frame{Type: p.FrameType(), Channel: uint16(g.r.Uint32()), Body: p}
			enc, err := AppendFrame(nil, f)
			if err != nil {
				t.Fatalf("%#v: %v", p, err)
			}
			got, err := ReadFrame(bytes.NewReader(enc), 0)
			if err != nil {
				t.Fatalf("%#v: ReadFrame: %v", p, err)
			}
			if !reflect.DeepEqual(normalize(got.Body), normalize(p)) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", got.Body, p)
			}
		}
	}
}

// TestPropertyMessages round-trips random messages.
func TestPropertyMessages(t *testing.T) {
	g := gen{rand.New(rand.NewSource(3))}
	for range 3000 {
		m := &Message{}
		g.fill(m)
		if !m.HasValue {
			m.Value = nil
		}
		// Zero body sections of a kind are the same as none.
		if len(m.Data) == 0 {
			m.Data = nil
		}
		if len(m.Sequence) == 0 {
			m.Sequence = nil
		}
		enc, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("%#v: %v", m, err)
		}
		got, err := UnmarshalMessage(enc)
		if err != nil {
			t.Fatalf("%#v: UnmarshalMessage: %v", m, err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(m)) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, m)
		}
	}
}

// normalize re-encodes a value through its generic form so that NaNs
// compare equal (reflect.DeepEqual says NaN != NaN).
func normalize(v any) any {
	return replaceNaN(reflect.ValueOf(v)).Interface()
}

func replaceNaN(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		if math.IsNaN(v.Float()) {
			out := reflect.New(v.Type()).Elem()
			out.SetFloat(0.125)
			return out
		}
	case reflect.Interface:
		if !v.IsNil() {
			out := reflect.New(v.Type()).Elem()
			out.Set(replaceNaN(v.Elem()))
			return out
		}
	case reflect.Pointer:
		if !v.IsNil() {
			p := reflect.New(v.Type().Elem())
			p.Elem().Set(replaceNaN(v.Elem()))
			return p
		}
	case reflect.Slice:
		if !v.IsNil() {
			s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			for i := range v.Len() {
				s.Index(i).Set(replaceNaN(v.Index(i)))
			}
			return s
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range v.NumField() {
			if out.Field(i).CanSet() {
				out.Field(i).Set(replaceNaN(v.Field(i)))
			}
		}
		return out
	}
	return v
}
