package broker

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Bounds of a selector, which ParseSelector enforces so that no selector
// can exhaust the stack or the memory of the process parsing it (over the
// wire, a receiver's attach carries it: a selector past them refuses the
// attach with amqp:invalid-field).
const (
	// MaxSelectorLength is the longest selector, in bytes, ParseSelector
	// accepts. Hand-written selectors are a line or two; this leaves room
	// for generated ones, such as an IN list of a few hundred ids (Azure
	// Service Bus allows SQL filters of 1,024 characters). Parsing takes
	// memory and time linear in the length, and evaluating against a
	// message time linear in the length times the size of the fields it
	// reads.
	MaxSelectorLength = 4096

	// MaxSelectorDepth is the deepest nesting ParseSelector accepts,
	// counting each parenthesis, NOT and unary sign that encloses a
	// term: "NOT (a = -1)" nests 3 deep. Real selectors nest a few
	// levels; the bound keeps the recursion of parsing and evaluation
	// short. Chains of AND, OR, +, -, * and / do not nest: "a = 1 OR
	// a = 2 OR ..." is one level however long.
	MaxSelectorDepth = 64
)

// Selector is a parsed JMS-style message selector, the value of the filter
// apache.org:selector-filter:string (descriptor 0x0000468C00000004) on a
// receiver's source.
//
// The grammar is the SQL-92 subset of JMS message selectors:
//
//	expr     = or
//	or       = and { OR and }
//	and      = not { AND not }
//	not      = NOT not | cmp
//	cmp      = sum [ op sum | [NOT] IN ( literal {, literal} )
//	               | [NOT] LIKE 'pattern' [ESCAPE 'c'] | IS [NOT] NULL
//	               | [NOT] BETWEEN sum AND sum ]
//	op       = "=" | "<>" | "<" | ">" | "<=" | ">="
//	sum      = product { (+|-) product }
//	product  = unary { (*|/) unary }
//	unary    = - unary | + unary | ( expr ) | literal | identifier
//	literal  = 'string' | integer | decimal | TRUE | FALSE | NULL
//
// Keywords are case-insensitive; identifiers are case-sensitive and may be
// double-quoted to use characters a bare name cannot (such as "message-id").
// An identifier names an application property, or one of the message fields
// JMSMessageID, JMSCorrelationID, JMSPriority, JMSDeliveryMode
// ('PERSISTENT' or 'NON_PERSISTENT'), JMSTimestamp, JMSType (the subject),
// JMSReplyTo, JMSDestination and their AMQP spellings message-id,
// correlation-id, priority, durable, creation-time, subject, reply-to, to,
// user-id, content-type, group-id, absolute-expiry-time.
//
// Evaluation uses SQL's three-valued logic: a missing property is NULL, any
// comparison with NULL is unknown, and a message is selected only when the
// selector is true.
type Selector struct {
	src  string
	root selNode
}

// ParseSelector parses a selector. The error names the offset of the
// problem. A selector longer than MaxSelectorLength bytes, or nested
// deeper than MaxSelectorDepth, is refused.
func ParseSelector(src string) (*Selector, error) {
	if len(src) > MaxSelectorLength {
		return nil, fmt.Errorf("selector %s: %d bytes, longer than the limit of %d", quoteShort(src), len(src), MaxSelectorLength)
	}
	toks, err := lexSelector(src)
	if err != nil {
		return nil, fmt.Errorf("selector: %w", err)
	}
	p := &selParser{toks: toks}
	root, err := p.parseOr()
	if err == nil && p.peek().kind != tokEOF {
		err = p.errorf("unexpected %s", quoteShort(p.peek().text))
	}
	if err == nil && !root.boolean() {
		err = fmt.Errorf("selector is not a condition")
	}
	if err != nil {
		return nil, fmt.Errorf("selector %s: %w", quoteShort(src), err)
	}
	return &Selector{src: src, root: root}, nil
}

// quoteShort quotes s for an error message, cut short when long: the
// message may travel in a detach, whose frame can be as small as 512
// bytes.
func quoteShort(s string) string {
	const limit = 64
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

// String returns the selector's source text.
func (s *Selector) String() string { return s.src }

// Match reports whether a message whose fields are looked up by field is
// selected. field returns int64, float64, string or bool values (other
// integer and float types are accepted too), and ok false for a missing
// field.
func (s *Selector) Match(field func(name string) (v any, ok bool)) bool {
	return s.match(funcPayload(field))
}

func (s *Selector) match(p fieldSource) bool {
	v, _ := s.root.eval(p).(bool)
	return v
}

type funcPayload func(string) (any, bool)

func (f funcPayload) field(name string) (any, bool) {
	v, ok := f(name)
	if !ok {
		return nil, false
	}
	return normalizeValue(v)
}

type selParser struct {
	toks  []token
	i     int
	depth int // nesting of the term being parsed, up to MaxSelectorDepth
}

// enter counts one more level of nesting, refusing to pass
// MaxSelectorDepth; leave undoes it. Every recursion of the parser goes
// through enter, so its depth is bounded too.
func (p *selParser) enter() error {
	if p.depth >= MaxSelectorDepth {
		return p.errorf("nested deeper than the limit of %d", MaxSelectorDepth)
	}
	p.depth++
	return nil
}

func (p *selParser) leave() { p.depth-- }

func (p *selParser) peek() token { return p.toks[p.i] }

func (p *selParser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *selParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at offset %d: %s", p.peek().pos, fmt.Sprintf(format, args...))
}

// accept consumes the next token if it is the keyword or operator s.
func (p *selParser) accept(s string) bool {
	t := p.peek()
	if (t.kind == tokKeyword || t.kind == tokOp) && t.text == s {
		p.i++
		return true
	}
	return false
}

func (p *selParser) expect(s string) error {
	if !p.accept(s) {
		return p.errorf("expected %s, found %s", s, quoteShort(p.peek().text))
	}
	return nil
}

// parseOr and parseAnd gather a chain into one node, so that a long
// chain does not make a deep tree.
func (p *selParser) parseOr() (selNode, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	var or *orNode
	for p.accept("OR") {
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		if or == nil {
			or = &orNode{xs: []selNode{l}}
		}
		or.xs = append(or.xs, r)
	}
	if or != nil {
		return or, nil
	}
	return l, nil
}

func (p *selParser) parseAnd() (selNode, error) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	var and *andNode
	for p.accept("AND") {
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		if and == nil {
			and = &andNode{xs: []selNode{l}}
		}
		and.xs = append(and.xs, r)
	}
	if and != nil {
		return and, nil
	}
	return l, nil
}

func (p *selParser) parseNot() (selNode, error) {
	if p.accept("NOT") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &notNode{x}, nil
	}
	return p.parseCmp()
}

func (p *selParser) parseCmp() (selNode, error) {
	l, err := p.parseSum()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind == tokOp {
		switch t.text {
		case "=", "<>", "<", ">", "<=", ">=":
			p.next()
			r, err := p.parseSum()
			if err != nil {
				return nil, err
			}
			return &cmpNode{op: t.text, l: l, r: r}, nil
		}
	}
	if p.accept("IS") {
		not := p.accept("NOT")
		if err := p.expect("NULL"); err != nil {
			return nil, err
		}
		return &isNullNode{x: l, not: not}, nil
	}
	not := p.accept("NOT")
	switch {
	case p.accept("IN"):
		return p.parseIn(l, not)
	case p.accept("LIKE"):
		return p.parseLike(l, not)
	case p.accept("BETWEEN"):
		lo, err := p.parseSum()
		if err != nil {
			return nil, err
		}
		if err := p.expect("AND"); err != nil {
			return nil, err
		}
		hi, err := p.parseSum()
		if err != nil {
			return nil, err
		}
		return &betweenNode{x: l, lo: lo, hi: hi, not: not}, nil
	}
	if not {
		return nil, p.errorf("expected IN, LIKE or BETWEEN after NOT")
	}
	return l, nil
}

func (p *selParser) parseIn(x selNode, not bool) (selNode, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	n := &inNode{x: x, not: not}
	for {
		v, err := p.parseLiteral()
		if err != nil {
			return nil, err
		}
		n.set = append(n.set, v)
		if p.accept(")") {
			return n, nil
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
	}
}

func (p *selParser) parseLike(x selNode, not bool) (selNode, error) {
	t := p.next()
	if t.kind != tokString {
		return nil, p.errorf("LIKE needs a string pattern")
	}
	var esc rune = -1
	if p.accept("ESCAPE") {
		e := p.next()
		r := []rune(e.text)
		if e.kind != tokString || len(r) != 1 {
			return nil, p.errorf("ESCAPE needs a one-character string")
		}
		esc = r[0]
	}
	return &likeNode{x: x, pattern: compileLike(t.text, esc), not: not}, nil
}

// parseLiteral reads one literal, for IN lists.
func (p *selParser) parseLiteral() (any, error) {
	neg := p.accept("-")
	t := p.next()
	switch t.kind {
	case tokString:
		if !neg {
			return t.text, nil
		}
	case tokInt, tokFloat:
		v, err := numberLiteral(t)
		if err != nil {
			return nil, err
		}
		if neg {
			return negate(v), nil
		}
		return v, nil
	case tokKeyword:
		switch t.text {
		case "TRUE":
			return true, nil
		case "FALSE":
			return false, nil
		}
	}
	return nil, fmt.Errorf("at offset %d: expected a literal, found %s", t.pos, quoteShort(t.text))
}

// parseSum and parseProduct gather a chain of operators of one precedence
// into one node, evaluated left to right.
func (p *selParser) parseSum() (selNode, error) {
	return p.parseChain("+", "-", p.parseProduct)
}

func (p *selParser) parseProduct() (selNode, error) {
	return p.parseChain("*", "/", p.parseUnary)
}

func (p *selParser) parseChain(op1, op2 string, operand func() (selNode, error)) (selNode, error) {
	l, err := operand()
	if err != nil {
		return nil, err
	}
	var chain *arithNode
	for {
		t := p.peek()
		if t.kind != tokOp || t.text != op1 && t.text != op2 {
			break
		}
		p.next()
		r, err := operand()
		if err != nil {
			return nil, err
		}
		if chain == nil {
			chain = &arithNode{x: l}
		}
		chain.ops = append(chain.ops, t.text[0])
		chain.ys = append(chain.ys, r)
	}
	if chain != nil {
		return chain, nil
	}
	return l, nil
}

func (p *selParser) parseUnary() (selNode, error) {
	if t := p.peek(); t.kind == tokOp && (t.text == "-" || t.text == "+" || t.text == "(") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
	}
	if p.accept("-") {
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if lit, ok := x.(*litNode); ok {
			if v := negate(lit.v); v != nil {
				return &litNode{v}, nil
			}
		}
		return &negNode{x}, nil
	}
	if p.accept("+") {
		return p.parseUnary()
	}
	if p.accept("(") {
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return x, nil
	}
	t := p.next()
	switch t.kind {
	case tokIdent:
		return &identNode{t.text}, nil
	case tokString:
		return &litNode{t.text}, nil
	case tokInt, tokFloat:
		v, err := numberLiteral(t)
		if err != nil {
			return nil, err
		}
		return &litNode{v}, nil
	case tokKeyword:
		switch t.text {
		case "TRUE":
			return &litNode{true}, nil
		case "FALSE":
			return &litNode{false}, nil
		case "NULL":
			return &litNode{nil}, nil
		}
	case tokEOF:
		return nil, fmt.Errorf("at offset %d: unexpected end of selector", t.pos)
	}
	return nil, fmt.Errorf("at offset %d: unexpected %s", t.pos, quoteShort(t.text))
}

func numberLiteral(t token) (any, error) {
	if t.kind == tokInt {
		if v, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			return v, nil
		}
	}
	v, err := strconv.ParseFloat(t.text, 64)
	if err != nil {
		return nil, fmt.Errorf("at offset %d: bad number %s", t.pos, quoteShort(t.text))
	}
	return v, nil
}

func negate(v any) any {
	switch n := v.(type) {
	case int64:
		return -n
	case float64:
		return -n
	}
	return nil
}
