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
	andNode    struct{ l, r selNode }
	orNode     struct{ l, r selNode }
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
	arithNode struct {
		op   byte
		l, r selNode
	}
	inNode struct {
		x   selNode
		set []any
		not bool
	}
	likeNode struct {
		x       selNode
		pattern []likeElem
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

func (n *andNode) eval(p fieldSource) any {
	l := n.l.eval(p)
	if l == false {
		return false
	}
	r := n.r.eval(p)
	switch {
	case r == false:
		return false
	case l == true && r == true:
		return true
	}
	return nil
}
func (n *andNode) boolean() bool { return true }

func (n *orNode) eval(p fieldSource) any {
	l := n.l.eval(p)
	if l == true {
		return true
	}
	r := n.r.eval(p)
	switch {
	case r == true:
		return true
	case l == false && r == false:
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
	l, r := n.l.eval(p), n.r.eval(p)
	li, lInt := l.(int64)
	ri, rInt := r.(int64)
	if lInt && rInt {
		switch n.op {
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
	switch n.op {
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

// likeElem is one element of a compiled LIKE pattern: a literal rune, any
// one rune (_), or any run of runes (%).
type likeElem struct {
	kind byte // 'l' literal, '_' one, '%' many
	r    rune
}

func compileLike(pat string, esc rune) []likeElem {
	var out []likeElem
	escaped := false
	for _, r := range pat {
		switch {
		case escaped:
			out = append(out, likeElem{'l', r})
			escaped = false
		case esc >= 0 && r == esc:
			escaped = true
		case r == '%':
			out = append(out, likeElem{'%', 0})
		case r == '_':
			out = append(out, likeElem{'_', 0})
		default:
			out = append(out, likeElem{'l', r})
		}
	}
	return out
}

// likeMatch matches greedily with backtracking to the last %, which is
// linear for patterns with one % and never exponential.
func likeMatch(pat []likeElem, s []rune) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		switch {
		case pi < len(pat) && pat[pi].kind == '%':
			starP, starS = pi, si
			pi++
		case pi < len(pat) && (pat[pi].kind == '_' || pat[pi].r == s[si]):
			pi++
			si++
		case starP >= 0:
			starS++
			pi, si = starP+1, starS
		default:
			return false
		}
	}
	for pi < len(pat) && pat[pi].kind == '%' {
		pi++
	}
	return pi == len(pat)
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
