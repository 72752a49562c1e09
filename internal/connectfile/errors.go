package connectfile

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// Error reports a connect.json that cannot be used: where it is and what is
// wrong. Its message never quotes the password nor a value that could
// carry one.
type Error struct {
	// Path is the file, as it was given to Load or Parse.
	Path string
	// Line and Column locate the problem, both counting from 1; Column
	// counts characters, not bytes. They are 0 when the problem is the
	// file as a whole (missing, unreadable, too large).
	Line, Column int
	// Msg says what is wrong.
	Msg string
	// Err is the underlying cause, if any: the *fs.PathError of a file that
	// could not be read, so errors.Is(err, fs.ErrNotExist) and
	// errors.Is(err, fs.ErrPermission) work.
	Err error
}

// Error formats the error the way compilers do: "path:line:column: msg",
// or "path: msg" when there is no position.
func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Path + ": " + e.Msg
	}
	return e.Path + ":" + strconv.Itoa(e.Line) + ":" + strconv.Itoa(e.Column) + ": " + e.Msg
}

// Unwrap returns the underlying cause, or nil.
func (e *Error) Unwrap() error { return e.Err }

// position turns a byte offset into src into a 1-based line and a 1-based
// column counted in characters, which is what an editor shows.
func position(src []byte, off int) (line, col int) {
	off = min(max(off, 0), len(src))
	before := src[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return line, 1 + utf8.RuneCount(before[lineStart:])
}

// offsetOf is the inverse of hujson's own position report: a 1-based line
// and a 1-based column counted in bytes.
func offsetOf(src []byte, line, byteCol int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(src[off:], '\n')
		if i < 0 {
			return len(src)
		}
		off += i + 1
	}
	return min(off+max(byteCol-1, 0), len(src))
}
