package broker

import "testing"

func TestSelectorTable(t *testing.T) {
	msg := props{
		"color": "red", "size": 10, "weight": 2.5, "urgent": true,
		"name": "50%_off", "empty": "", "u": uint64(7),
	}
	tests := []struct {
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
	}
	for _, tt := range tests {
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
