package broker

import "math"

// selNode is one node of a parsed selector. eval returns nil (SQL NULL or
// unknown), bool, int64, float64 or string.
type selNode interface {
	eval(p fieldSource) any
	// boolean reports whether the node can yield a truth value, so that
	// "a + 1" is refused as a whole selector while "flag" is allowed.
	boolean() bool
}

type (
	litNode    struct{ v any }
	identNode  struct{ name string }
	andNode    struct{ xs []selNode } // two or more
	orNode     struct{ xs []selNode } // two or more
	notNode    struct{ x selNode }
	negNode    struct{ x selNode }
	isNullNode struct {
		x   selNode
		not bool
	}
	cmpNode struct {
		op   string
		l, r selNode
	}
	// arithNode is x ops[0] ys[0] ops[1] ys[1] ..., evaluated left to
	// right: a chain of operators of one precedence.
	arithNode struct {
		x   selNode
		ops []byte // '+', '-', '*' or '/'
		ys  []selNode
	}
	inNode struct {
		x   selNode
		set []any
		not bool
	}
	likeNode struct {
		x       selNode
		pattern *likePattern
		not     bool
	}
	betweenNode struct {
		x, lo, hi selNode
		not       bool
	}
)

func (n *litNode) eval(fieldSource) any { return n.v }
func (n *litNode) boolean() bool {
	_, ok := n.v.(bool)
	return ok
}

func (n *identNode) eval(p fieldSource) any {
	v, ok := p.field(n.name)
	if !ok {
		return nil
	}
	return v
}
func (n *identNode) boolean() bool { return true }

// AND and OR over a chain, in SQL's three-valued logic: the chain is
// false (for OR, true) as soon as one term is, true (false) when all are,
// and unknown otherwise. The same as folding it two by two from the left.
func (n *andNode) eval(p fieldSource) any {
	all := true
	for _, x := range n.xs {
		switch x.eval(p) {
		case false:
			return false
		case true:
		default:
			all = false
		}
	}
	if all {
		return true
	}
	return nil
}
func (n *andNode) boolean() bool { return true }

func (n *orNode) eval(p fieldSource) any {
	all := true
	for _, x := range n.xs {
		switch x.eval(p) {
		case true:
			return true
		case false:
		default:
			all = false
		}
	}
	if all {
		return false
	}
	return nil
}
func (n *orNode) boolean() bool { return true }

func (n *notNode) eval(p fieldSource) any { return not3(n.x.eval(p)) }
func (n *notNode) boolean() bool          { return true }

func not3(v any) any {
	if b, ok := v.(bool); ok {
		return !b
	}
	return nil
}

func (n *negNode) eval(p fieldSource) any { return negate(n.x.eval(p)) }
func (n *negNode) boolean() bool          { return false }

func (n *isNullNode) eval(p fieldSource) any { return (n.x.eval(p) == nil) != n.not }
func (n *isNullNode) boolean() bool          { return true }

func (n *cmpNode) eval(p fieldSource) any {
	l, r := n.l.eval(p), n.r.eval(p)
	if l == nil || r == nil {
		return nil
	}
	c, ok := compareValues(l, r)
	if !ok {
		if _, lb := l.(bool); lb && (n.op == "=" || n.op == "<>") {
			// bool compared with a non-bool: unequal, as JMS says.
			return n.op == "<>"
		}
		return nil
	}
	switch n.op {
	case "=":
		return c == 0
	case "<>":
		return c != 0
	case "<":
		return c < 0 && c != cmpUnordered
	case ">":
		return c > 0 && c != cmpUnordered
	case "<=":
		return c <= 0 && c != cmpUnordered
	case ">=":
		return c >= 0 && c != cmpUnordered
	}
	return nil
}
func (n *cmpNode) boolean() bool { return true }

// cmpUnordered is compareValues' answer for bools that differ: unequal but
// neither less nor greater.
const cmpUnordered = math.MinInt

// compareValues orders two non-nil values of comparable types: numbers with
// numbers (int64 and float64 mix), strings with strings, bools with bools
// (equality only). ok is false for other pairs.
func compareValues(a, b any) (c int, ok bool) {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmpOrdered(x, y), true
		case float64:
			return cmpFloat(float64(x), y)
		}
	case float64:
		switch y := b.(type) {
		case int64:
			return cmpFloat(x, float64(y))
		case float64:
			return cmpFloat(x, y)
		}
	case string:
		if y, ok := b.(string); ok {
			return cmpOrdered(x, y), true
		}
	case bool:
		if y, ok := b.(bool); ok {
			if x == y {
				return 0, true
			}
			return cmpUnordered, true
		}
	}
	return 0, false
}

func cmpOrdered[T int64 | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) (int, bool) {
	if math.IsNaN(a) || math.IsNaN(b) {
		return 0, false
	}
	switch {
	case a < b:
		return -1, true
	case a > b:
		return 1, true
	}
	return 0, true
}

func (n *arithNode) eval(p fieldSource) any {
	v := n.x.eval(p)
	for i, y := range n.ys {
		v = arith(n.ops[i], v, y.eval(p))
	}
	return v
}

// arith applies a binary operator: int64 arithmetic when both operands
// are int64, float64 when both are numbers, NULL otherwise (and for a
// division by zero).
func arith(op byte, l, r any) any {
	li, lInt := l.(int64)
	ri, rInt := r.(int64)
	if lInt && rInt {
		switch op {
		case '+':
			return li + ri
		case '-':
			return li - ri
		case '*':
			return li * ri
		case '/':
			if ri == 0 {
				return nil
			}
			return li / ri
		}
	}
	lf, lok := toFloat(l)
	rf, rok := toFloat(r)
	if !lok || !rok {
		return nil
	}
	switch op {
	case '+':
		return lf + rf
	case '-':
		return lf - rf
	case '*':
		return lf * rf
	case '/':
		if rf == 0 {
			return nil
		}
		return lf / rf
	}
	return nil
}
func (n *arithNode) boolean() bool { return false }

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func (n *inNode) eval(p fieldSource) any {
	v := n.x.eval(p)
	if v == nil {
		return nil
	}
	for _, s := range n.set {
		if c, ok := compareValues(v, s); ok && c == 0 {
			return !n.not
		}
	}
	return n.not
}
func (n *inNode) boolean() bool { return true }

func (n *betweenNode) eval(p fieldSource) any {
	v, lo, hi := n.x.eval(p), n.lo.eval(p), n.hi.eval(p)
	if v == nil || lo == nil || hi == nil {
		return nil
	}
	c1, ok1 := compareValues(v, lo)
	c2, ok2 := compareValues(v, hi)
	if !ok1 || !ok2 || c1 == cmpUnordered || c2 == cmpUnordered {
		return nil
	}
	return (c1 >= 0 && c2 <= 0) != n.not
}
func (n *betweenNode) boolean() bool { return true }

func (n *likeNode) eval(p fieldSource) any {
	s, ok := n.x.eval(p).(string)
	if !ok {
		return nil
	}
	return likeMatch(n.pattern, []rune(s)) != n.not
}
func (n *likeNode) boolean() bool { return true }

// likeElem is one element of a LIKE pattern: a literal rune, any one
// rune (_), or any run of runes (%).
type likeElem struct {
	kind byte // 'l' literal, '_' one, '%' many
	r    rune
}

// likePattern is a compiled LIKE pattern: the runs of literals and _
// between its %s. A string matches when it starts with the first run,
// ends with the last, and holds the others in order between them; each
// of those is found leftmost, which is never wrong, so matching takes one
// pass over the string per run searched (see likeFinder) and never
// backtracks.
type likePattern struct {
	segs    [][]likeElem // len(segs)-1 is the number of %s
	finders []*likeFinder
}

func compileLike(pat string, esc rune) *likePattern {
	var elems []likeElem
	escaped := false
	for _, r := range pat {
		switch {
		case escaped:
			elems = append(elems, likeElem{'l', r})
			escaped = false
		case esc >= 0 && r == esc:
			escaped = true
		case r == '%':
			elems = append(elems, likeElem{'%', 0})
		case r == '_':
			elems = append(elems, likeElem{'_', 0})
		default:
			elems = append(elems, likeElem{'l', r})
		}
	}
	lp := &likePattern{}
	from := 0
	for i, e := range elems {
		if e.kind == '%' {
			lp.segs = append(lp.segs, elems[from:i])
			from = i + 1
		}
	}
	lp.segs = append(lp.segs, elems[from:])
	for i := 1; i < len(lp.segs)-1; i++ {
		if len(lp.segs[i]) > 0 {
			lp.finders = append(lp.finders, newLikeFinder(lp.segs[i]))
		}
	}
	return lp
}

// likeMatch reports whether s matches the pattern, in time linear in
// len(s) times the number of 64-rune blocks of the pattern.
func likeMatch(p *likePattern, s []rune) bool {
	first := p.segs[0]
	if len(p.segs) == 1 {
		return len(s) == len(first) && likeAt(first, s)
	}
	last := p.segs[len(p.segs)-1]
	if len(s) < len(first)+len(last) || !likeAt(first, s) || !likeAt(last, s[len(s)-len(last):]) {
		return false
	}
	mid := s[len(first) : len(s)-len(last)]
	for _, f := range p.finders {
		end := f.find(mid)
		if end < 0 {
			return false
		}
		mid = mid[end:]
	}
	return true
}

// likeAt reports whether s starts with the run seg.
func likeAt(seg []likeElem, s []rune) bool {
	for i, e := range seg {
		if e.kind == 'l' && e.r != s[i] {
			return false
		}
	}
	return true
}

// likeFinder finds a run of literals and _ in a string with the shift-and
// algorithm: the bits of a state word say which prefixes of the run end
// at the current rune, so each rune of the string costs one step per
// 64-rune block of the run, whatever the run and the string hold. Its
// tables take memory linear in the run: per block, the positions of _
// and, for each literal rune of the block, its positions.
type likeFinder struct {
	n    int               // runes in the run, > 0
	wild []uint64          // per block: positions of _
	lits []map[rune]uint64 // per block: positions of each literal
}

func newLikeFinder(seg []likeElem) *likeFinder {
	blocks := (len(seg) + 63) / 64
	f := &likeFinder{n: len(seg), wild: make([]uint64, blocks), lits: make([]map[rune]uint64, blocks)}
	for i, e := range seg {
		k, bit := i/64, uint64(1)<<(i%64)
		if e.kind == '_' {
			f.wild[k] |= bit
			continue
		}
		if f.lits[k] == nil {
			f.lits[k] = make(map[rune]uint64)
		}
		f.lits[k][e.r] |= bit
	}
	return f
}

// find returns the index just past the leftmost match of the run in s,
// or -1 when there is none.
func (f *likeFinder) find(s []rune) int {
	var small [4]uint64
	state := small[:]
	if len(f.wild) > len(small) {
		state = make([]uint64, len(f.wild))
	}
	state = state[:len(f.wild)]
	last := len(f.wild) - 1
	done := uint64(1) << ((f.n - 1) % 64)
	for i, c := range s {
		carry := uint64(1) // a match may start at every rune
		for k := range state {
			if carry == 0 && state[k] == 0 {
				continue // no prefix reaches this block: it stays empty
			}
			out := state[k] >> 63
			state[k] = (state[k]<<1 | carry) & (f.wild[k] | f.lits[k][c])
			carry = out
		}
		if state[last]&done != 0 {
			return i + 1
		}
	}
	return -1
}

// normalizeValue converts a field value to the types a selector compares:
// int64, float64, string or bool.
func normalizeValue(v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, false
	case int64, float64, string, bool:
		return x, true
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), true
		}
		return float64(x), true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
		return float64(x), true
	case float32:
		return float64(x), true
	}
	return nil, false
}
