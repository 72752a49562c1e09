package broker

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind classifies the tokens of a selector.
type tokenKind int

const (
	tokEOF tokenKind = iota
	tokIdent
	tokString
	tokInt
	tokFloat
	tokOp      // = <> < > <= >= + - * / ( ) ,
	tokKeyword // AND OR NOT IN LIKE ESCAPE IS NULL TRUE FALSE BETWEEN
)

type token struct {
	kind tokenKind
	text string // keywords upper-cased; strings unquoted
	pos  int    // byte offset, for error messages
}

var selectorKeywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "IN": true, "LIKE": true,
	"ESCAPE": true, "IS": true, "NULL": true, "TRUE": true, "FALSE": true,
	"BETWEEN": true,
}

// lexSelector splits a selector into tokens, ending with tokEOF.
func lexSelector(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		r, w := utf8.DecodeRuneInString(src[i:])
		switch {
		case unicode.IsSpace(r):
			i += w
		case r == '\'':
			// SQL string literal: '' inside stands for one quote.
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(src) {
					return nil, fmt.Errorf("unterminated string starting at offset %d", i)
				}
				if src[j] == '\'' {
					if j+1 < len(src) && src[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(src[j])
				j++
			}
			toks = append(toks, token{tokString, b.String(), i})
			i = j + 1
		case r >= '0' && r <= '9' || r == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			j, kind := i, tokInt
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j < len(src) && src[j] == '.' {
				kind = tokFloat
				j++
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < len(src) && src[k] >= '0' && src[k] <= '9' {
					kind = tokFloat
					for k < len(src) && src[k] >= '0' && src[k] <= '9' {
						k++
					}
					j = k
				}
			}
			text := src[i:j]
			if j < len(src) && (src[j] == 'L' || src[j] == 'l') && kind == tokInt {
				j++ // Java long suffix
			}
			toks = append(toks, token{kind, text, i})
			i = j
		case r == '_' || r == '$' || unicode.IsLetter(r):
			j := i
			for j < len(src) {
				r2, w2 := utf8.DecodeRuneInString(src[j:])
				if r2 != '_' && r2 != '$' && !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
					break
				}
				j += w2
			}
			word := src[i:j]
			if up := strings.ToUpper(word); selectorKeywords[up] {
				toks = append(toks, token{tokKeyword, up, i})
			} else {
				toks = append(toks, token{tokIdent, word, i})
			}
			i = j
		case r == '"':
			// Quoted identifier, for names a bare word cannot spell.
			end := strings.IndexByte(src[i+1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated quoted identifier at offset %d", i)
			}
			toks = append(toks, token{tokIdent, src[i+1 : i+1+end], i})
			i += end + 2
		default:
			op := string(r)
			if r == '<' || r == '>' {
				if i+1 < len(src) && (src[i+1] == '=' || r == '<' && src[i+1] == '>') {
					op = src[i : i+2]
				}
			} else if !strings.ContainsRune("=+-*/(),", r) {
				return nil, fmt.Errorf("unexpected %q at offset %d", r, i)
			}
			toks = append(toks, token{tokOp, op, i})
			i += len(op)
		}
	}
	return append(toks, token{tokEOF, "", len(src)}), nil
}
