package connectfile

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// syntaxError rewrites a hujson parse error into an *Error. hujson reports
// "hujson: line L, column C (bytes): cause"; the cause can quote a whole
// malformed literal, which may be an unquoted or badly escaped password, so
// it is never passed through as is.
//
// src may end in a newline that Parse added; size is the length of the file
// without it, so that an error at the end points into the file.
func syntaxError(path string, src []byte, size int, err error) error {
	var line, byteCol int
	_, scanErr := fmt.Sscanf(err.Error(), "hujson: line %d, column %d:", &line, &byteCol)
	cause := errors.Unwrap(err)
	if scanErr != nil || cause == nil {
		// Not the format this package was written against: say that the
		// file does not parse, but nothing of its content.
		return &Error{Path: path, Msg: "syntax error", Err: errors.New("unrecognised parser error")}
	}
	off := min(offsetOf(src, line, byteCol), size)
	src = src[:size]
	l, c := position(src, off)
	return &Error{Path: path, Line: l, Column: c, Msg: "syntax error: " + describeSyntax(src, off, cause)}
}

// The places hujson names in its "invalid character" errors.
var syntaxPlaces = []string{
	"at start of object name",
	"after object name",
	"after object value (expecting ',' or '}')",
	"at start of value",
	"after array value (expecting ',' or ']')",
	"after top-level value",
}

func describeSyntax(src []byte, off int, cause error) string {
	msg := cause.Error()
	var c byte
	if off < len(src) {
		c = src[off]
	}
	switch {
	case errors.Is(cause, io.ErrUnexpectedEOF):
		switch {
		case strings.HasPrefix(msg, "parsing string"):
			return "unterminated string"
		case strings.HasPrefix(msg, "parsing comment"):
			return "unterminated /* comment */"
		}
		return "unexpected end of file"
	case strings.HasPrefix(msg, "invalid literal"):
		if c == '"' {
			return "invalid string (a bad \\ escape or a raw control character such as a tab or newline)"
		}
		return "invalid value (strings need double quotes; true, false, null and numbers are written bare)"
	case strings.HasPrefix(msg, "invalid character"):
		for _, place := range syntaxPlaces {
			if strings.HasSuffix(msg, " "+place) {
				return "unexpected " + describeChar(c) + " " + place + hint(c, place)
			}
		}
		return "unexpected " + describeChar(c)
	case strings.Contains(msg, "UTF-8"):
		return "invalid UTF-8 in a comment"
	}
	return "malformed JSON"
}

// describeChar shows the offending character only when it is JSON
// punctuation: anything else could be the first letter of a secret.
func describeChar(c byte) string {
	if strings.IndexByte(`{}[]:,'"=;/\`, c) >= 0 {
		return fmt.Sprintf("%q", rune(c))
	}
	return "character"
}

func hint(c byte, place string) string {
	switch {
	case c == '\'':
		return " (JSON strings take double quotes)"
	case c == '=' && place == "after object name":
		return " (use ':' between a key and its value)"
	case place == "at start of object name" && c != '"':
		return " (keys need double quotes)"
	case place == "after object value (expecting ',' or '}')" || place == "after array value (expecting ',' or ']')":
		return " (a comma missing?)"
	}
	return ""
}
