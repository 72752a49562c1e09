package broker

import (
	"strings"
	"testing"
)

// FuzzSelector checks that ParseSelector never panics, refuses what
// passes its limits, and that what it accepts evaluates, the same way
// twice, against messages with fields of every type a selector reads.
func FuzzSelector(f *testing.F) {
	for _, tt := range selectorTable {
		f.Add(tt.sel)
	}
	for _, s := range []string{
		nested(MaxSelectorDepth),
		nested(MaxSelectorDepth + 1),
		strings.Repeat("(", MaxSelectorLength+1),
		strings.Repeat("NOT ", MaxSelectorDepth) + "a",
		"a = " + strings.Repeat("-", MaxSelectorDepth+1) + "1",
		"a" + strings.Repeat(" + 1", 500) + " > 0",
		"a = 1" + strings.Repeat(" OR a = 1", 400),
		"s LIKE '" + strings.Repeat("%a", 100) + "b'",
		"s LIKE '%\x00_%' ESCAPE '\x00'",
		"a IN (" + strings.Repeat("'x', ", 300) + "-1)",
		"9223372036854775807 + 1 > a",
		"-9223372036854775808 / -1 = a",
		"1e400 > a OR a / 0 = 1 OR a BETWEEN 1 AND 'x'",
		"\"message-id\" = 'id' AND JMSPriority > 3 AND JMSDeliveryMode = 'PERSISTENT'",
		"'unterminated",
		"\"unterminated",
		"a = 1 \xff",
	} {
		f.Add(s)
	}
	msgs := []props{
		{},
		selectorMsg,
		{"a": int64(-1 << 63), "s": strings.Repeat("a", 300), "b": false, "f": 1e300, "n": nil},
		{"a": uint64(1 << 63), "s": "", "color": 1.5, "size": "10", "urgent": 0},
	}
	f.Fuzz(func(t *testing.T, src string) {
		s, err := ParseSelector(src)
		if len(src) > MaxSelectorLength && err == nil {
			t.Fatalf("a selector of %d bytes parsed", len(src))
		}
		if err != nil {
			if len(err.Error()) > 700 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		if s.String() != src {
			t.Fatalf("String() = %q", s.String())
		}
		for _, m := range msgs {
			if s.match(m) != s.match(m) {
				t.Fatalf("%q: two evaluations differ on %v", src, m)
			}
		}
	})
}

// FuzzLike checks the LIKE matcher against a plain dynamic program.
func FuzzLike(f *testing.F) {
	for _, c := range [][3]string{
		{"%a%a%a%b", "", "aaaaaaab"},
		{"r_d", "", "red"},
		{"50\\%\\_off", "\\", "50%_off"},
		{"%%", "", ""},
		{"_%_", "", "ab"},
		{"a%b%c", "", "abbc"},
		{"%" + strings.Repeat("ab_", 30) + "%", "", strings.Repeat("abx", 40)},
		{"x!%y", "!", "x%y"},
		{"%é_%", "", "héllo"},
	} {
		f.Add(c[0], c[1], c[2])
	}
	f.Fuzz(func(t *testing.T, pat, esc, s string) {
		if len(pat)*len(s) > 1<<20 {
			t.Skip("the reference would be slow")
		}
		e := rune(-1)
		if esc != "" {
			e = []rune(esc)[0]
		}
		got := likeMatch(compileLike(pat, e), []rune(s))
		if want := likeReference(pat, e, []rune(s)); got != want {
			t.Fatalf("%q LIKE %q ESCAPE %q: got %v, want %v", s, pat, esc, got, want)
		}
	})
}

// likeReference matches by dynamic programming over every prefix of the
// pattern and the string.
func likeReference(pat string, esc rune, s []rune) bool {
	type elem struct {
		any, one bool
		r        rune
	}
	var p []elem
	escaped := false
	for _, r := range pat {
		switch {
		case escaped:
			p, escaped = append(p, elem{r: r}), false
		case r == esc:
			escaped = true
		case r == '%':
			p = append(p, elem{any: true})
		case r == '_':
			p = append(p, elem{one: true})
		default:
			p = append(p, elem{r: r})
		}
	}
	// m[j]: the pattern so far matches s[:j].
	m, next := make([]bool, len(s)+1), make([]bool, len(s)+1)
	m[0] = true
	for _, e := range p {
		clear(next)
		for j := range m {
			switch {
			case e.any:
				next[j] = m[j] || j > 0 && next[j-1]
			case j == 0:
			case e.one || e.r == s[j-1]:
				next[j] = m[j-1]
			}
		}
		m, next = next, m
	}
	return m[len(s)]
}
