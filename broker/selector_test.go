package broker

import (
	"strings"
	"testing"
)

// selectorMsg is the message selectorTable's selectors are evaluated
// against.
var selectorMsg = props{
	"color": "red", "size": 10, "weight": 2.5, "urgent": true,
	"name": "50%_off", "empty": "", "u": uint64(7),
}

// selectorTable are selectors and whether they select selectorMsg; they
// seed FuzzSelector too.
var selectorTable = []struct {
	sel  string
	want bool
}{
	{"color = 'red'", true},
	{"color = 'blue'", false},
	{"color <> 'blue'", true},
	{"size = 10", true},
	{"size > 9 AND size < 11", true},
	{"size >= 10 AND size <= 10", true},
	{"size < 10", false},
	{"size = 10.0", true},
	{"weight > 2", true},
	{"weight * 2 = 5", true},
	{"size + 1 = 11", true},
	{"size / 4 = 2", true}, // integer division
	{"-size < 0", true},
	{"u = 7", true},
	{"urgent", true},
	{"urgent = TRUE", true},
	{"NOT urgent", false},
	{"urgent AND color = 'red'", true},
	{"color = 'blue' OR size = 10", true},
	{"color = 'blue' OR size = 11", false},
	{"NOT (color = 'blue')", true},
	{"color IN ('green', 'red')", true},
	{"color NOT IN ('green', 'red')", false},
	{"size IN (1, 10)", true},
	{"color LIKE 'r%'", true},
	{"color LIKE 'r_d'", true},
	{"color LIKE '_'", false},
	{"color NOT LIKE 'b%'", true},
	{"name LIKE '50\\%\\_off' ESCAPE '\\'", true},
	{"name LIKE '50!%x' ESCAPE '!'", false},
	{"empty LIKE '%'", true},
	{"missing IS NULL", true},
	{"color IS NOT NULL", true},
	{"missing IS NOT NULL", false},
	{"size BETWEEN 5 AND 10", true},
	{"size NOT BETWEEN 5 AND 10", false},
	// Three-valued logic: comparisons with a missing field are unknown.
	{"missing = 1", false},
	{"NOT (missing = 1)", false},
	{"missing = 1 OR size = 10", true},
	{"missing = 1 AND size = 10", false},
	{"missing IN ('a')", false},
	{"missing LIKE '%'", false},
	// NOT over AND and OR tells UNKNOWN from FALSE: a message is
	// selected only when the whole selector is TRUE, so UNKNOWN and
	// FALSE look alike until a NOT turns FALSE into TRUE and leaves
	// UNKNOWN as it is. Each operand order, as the evaluator
	// short-circuits on the left.
	{"NOT (missing = 1 AND size = 10)", false},   // NOT (UNKNOWN AND TRUE) = NOT UNKNOWN
	{"NOT (size = 10 AND missing = 1)", false},   // NOT (TRUE AND UNKNOWN)
	{"NOT (missing = 1 AND size = 11)", true},    // NOT (UNKNOWN AND FALSE) = NOT FALSE
	{"NOT (size = 11 AND missing = 1)", true},    // NOT (FALSE AND UNKNOWN)
	{"NOT (missing = 1 AND missing = 2)", false}, // NOT (UNKNOWN AND UNKNOWN)
	{"NOT (missing = 1 OR size = 10)", false},    // NOT (UNKNOWN OR TRUE) = NOT TRUE
	{"NOT (size = 10 OR missing = 1)", false},    // NOT (TRUE OR UNKNOWN)
	{"NOT (missing = 1 OR size = 11)", false},    // NOT (UNKNOWN OR FALSE) = NOT UNKNOWN
	{"NOT (size = 11 OR missing = 1)", false},    // NOT (FALSE OR UNKNOWN)
	{"NOT (missing = 1 OR missing = 2)", false},  // NOT (UNKNOWN OR UNKNOWN)
	{"NOT (NOT (missing = 1 AND size = 10))", false},
	{"NOT (missing = 1 AND size = 10) OR size = 10", true},
	{"NOT (missing = 1 OR size = 11) OR NOT (size = 11)", true},
	// Mismatched types are unknown, not errors.
	{"color = 1", false},
	{"size = 'ten'", false},
	{"and_x IS NULL", true}, // keyword prefix is still an identifier
	{"color='red'and size=10", true},
	{"\"color\" = 'red'", true},
	{"'it''s' = 'it''s'", true},
	{"cOLoR = 'red'", false}, // identifiers are case-sensitive
	{"color = 'red' and NOT urgent = false", true},
	// Chains are evaluated left to right, as if folded two by two.
	{"size - 2 - 3 = 5", true},
	{"size / 5 * 2 = 4", true},
	{"size - 4 / 2 * 3 + 1 = 5", true},
	{"missing = 1 OR size = 11 OR color = 'red'", true},
	{"missing = 1 OR size = 11 OR color = 'blue'", false},
	{"NOT (missing = 1 OR size = 11 OR color = 'blue')", false},
	{"NOT (size = 11 OR color = 'blue' OR weight = 1)", true},
	{"urgent AND size = 10 AND missing = 1", false},
	{"NOT (urgent AND size = 10 AND missing = 1)", false},
	{"NOT (urgent AND missing = 1 AND size = 11)", true},
}

func TestSelectorTable(t *testing.T) {
	msg := selectorMsg
	for _, tt := range selectorTable {
		s, err := ParseSelector(tt.sel)
		if err != nil {
			t.Errorf("ParseSelector(%q): %v", tt.sel, err)
			continue
		}
		if got := s.match(msg); got != tt.want {
			t.Errorf("%q: got %v, want %v", tt.sel, got, tt.want)
		}
	}
}

func TestSelectorErrors(t *testing.T) {
	for _, sel := range []string{
		"",
		"color =",
		"color = 'red",
		"color == 'red'",
		"(color = 'red'",
		"color IN ()",
		"color IN ('a',)",
		"color LIKE 5",
		"color LIKE 'x' ESCAPE 'ab'",
		"size + 1",
		"'just a string'",
		"42",
		"color NOT 'x'",
		"color IS 5",
		"a BETWEEN 1 OR 2",
		"color = 'red' #",
		"\"unterminated",
	} {
		if _, err := ParseSelector(sel); err == nil {
			t.Errorf("ParseSelector(%q) succeeded, want an error", sel)
		}
	}
}

func TestSelectorMatchFunc(t *testing.T) {
	s, err := ParseSelector("n > 3")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Match(func(string) (any, bool) { return int32(4), true }) {
		t.Fatal("int32 4 > 3 did not match")
	}
	if s.Match(func(string) (any, bool) { return nil, false }) {
		t.Fatal("missing field matched")
	}
	if s.String() != "n > 3" {
		t.Fatalf("String() = %q", s.String())
	}
}

func TestLikeMatchNoBlowup(t *testing.T) {
	pat := compileLike("%a%a%a%a%a%a%a%b", -1)
	s := []rune("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	if likeMatch(pat, s) {
		t.Fatal("matched")
	}
}

// likeWorstCases are patterns as long as a selector allows against a
// long string of the rune they repeat: a backtracking matcher takes
// time in the product of their lengths (seconds, for a 100 KB string).
func likeWorstCases() (pats []string, s []rune) {
	n := MaxSelectorLength - 20
	return []string{
		"%" + strings.Repeat("a", n) + "b%",
		"%" + strings.Repeat("_", n) + "b%",
		strings.Repeat("%a", n/2) + "b%",
		"%" + strings.Repeat("a_", n/2) + "%b%",
	}, []rune(strings.Repeat("a", 100_000))
}

func TestLikeMatchLongRuns(t *testing.T) {
	pats, s := likeWorstCases()
	for _, p := range pats {
		if likeMatch(compileLike(p, -1), s) {
			t.Errorf("%.20q... matched", p)
		}
		// The same with the b the patterns want at the end.
		s2 := append(s[:len(s):len(s)], 'b')
		if !likeMatch(compileLike(p, -1), s2) {
			t.Errorf("%.20q... did not match", p)
		}
	}
	// Runs longer than one 64-rune block, matched across blocks.
	run := compileLike("%"+strings.Repeat("ab_", 50)+"%", -1)
	if !likeMatch(run, []rune("zzab"+strings.Repeat("abx", 49)+"abyzz")) {
		t.Error("run of 150 runes not found")
	}
	if likeMatch(run, []rune("zzab"+strings.Repeat("abx", 49)+"babzz")) {
		t.Error("run of 150 runes found in a string without it")
	}
}

func BenchmarkLikeWorstCase(b *testing.B) {
	pats, s := likeWorstCases()
	for _, p := range pats {
		lp := compileLike(p, -1)
		b.Run(p[:6], func(b *testing.B) {
			for b.Loop() {
				likeMatch(lp, s)
			}
		})
	}
}

// nested wraps "a = 1" in n parentheses.
func nested(n int) string {
	return strings.Repeat("(", n) + "a = 1" + strings.Repeat(")", n)
}

func TestSelectorDeepNestingRefused(t *testing.T) {
	for _, sel := range []string{
		strings.Repeat("(", 1_000_000), // issue #17: overflowed the stack
		nested(1_000_000),
		strings.Repeat("NOT ", 1_000_000) + "a",
		strings.Repeat("-", 1_000_000) + "a = 1",
		strings.Repeat("+", 1_000_000) + "a = 1",
	} {
		_, err := ParseSelector(sel)
		if err == nil || !strings.Contains(err.Error(), "longer than the limit") {
			t.Errorf("ParseSelector of %d bytes: err = %v, want the length limit", len(sel), err)
		}
		if err != nil && len(err.Error()) > 200 {
			t.Errorf("error of %d bytes: %.200s...", len(err.Error()), err)
		}
	}
	// Within the length limit, past the depth limit.
	for _, sel := range []string{
		nested(MaxSelectorDepth + 1),
		strings.Repeat("NOT ", MaxSelectorDepth+1) + "a",
		"a = " + strings.Repeat("-", MaxSelectorDepth+1) + "1",
		"a = " + strings.Repeat("- (", MaxSelectorDepth/2+1) + "1" + strings.Repeat(")", MaxSelectorDepth/2+1),
		strings.Repeat("NOT (", MaxSelectorDepth/2+1) + "a" + strings.Repeat(")", MaxSelectorDepth/2+1),
	} {
		_, err := ParseSelector(sel)
		if err == nil || !strings.Contains(err.Error(), "nested deeper than the limit") {
			t.Errorf("ParseSelector(%.40q...): err = %v, want the depth limit", sel, err)
		}
	}
}

func TestSelectorWithinLimits(t *testing.T) {
	msg := props{"a": 1}
	for _, sel := range []string{
		nested(MaxSelectorDepth),
		strings.Repeat("NOT ", MaxSelectorDepth-2) + "(a = 1)", // NOT^62 (a = 1): even, true
		"a = " + strings.Repeat("-", MaxSelectorDepth) + "1",   // an even count of signs
		// A chain is one level, however long, and a selector may be
		// MaxSelectorLength bytes long.
		"a = 2" + strings.Repeat(" OR a = 2", (MaxSelectorLength-14)/9) + " OR a = 1",
		"a IN (" + strings.Repeat("0, ", (MaxSelectorLength-10)/3) + "1)",
	} {
		if len(sel) > MaxSelectorLength || len(sel) < MaxSelectorLength-10 && len(sel) > 1000 {
			t.Fatalf("test selector of %d bytes", len(sel))
		}
		s, err := ParseSelector(sel)
		if err != nil {
			t.Errorf("ParseSelector(%.40q...): %v", sel, err)
			continue
		}
		if !s.match(msg) {
			t.Errorf("%.40q... did not select a = 1", sel)
		}
	}
	exact := "a = '" + strings.Repeat("x", MaxSelectorLength-6) + "'"
	if _, err := ParseSelector(exact); err != nil || len(exact) != MaxSelectorLength {
		t.Errorf("selector of %d bytes: %v", len(exact), err)
	}
	if _, err := ParseSelector(exact + " "); err == nil {
		t.Errorf("selector of %d bytes parsed", len(exact)+1)
	}
}

func TestSelectorLongChainEvaluates(t *testing.T) {
	// A chain as long as the length limit allows is one node, not a
	// deep tree: it evaluates without deep recursion, left to right.
	n := MaxSelectorLength / 4
	sum := "a" + strings.Repeat(" + 1", n-1)
	s, err := ParseSelector(sum[:len(sum)-4*5] + " = 1")
	if err != nil {
		t.Fatal(err)
	}
	chain, ok := s.root.(*cmpNode).l.(*arithNode)
	if !ok || len(chain.ys) < n/2 {
		t.Fatalf("sum parsed as %T, want one chain", s.root.(*cmpNode).l)
	}
	if !s.match(props{"a": 1 - len(chain.ys)}) {
		t.Fatal("chain evaluated wrong")
	}
}
