package amq_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDocSnippetsCompile extracts every ```go block of the README and the
// guides that have them and compiles them against this module, so the
// documentation cannot drift from the API. A block that declares functions
// or types is a file of its own; a block of statements (the README's tour)
// becomes the body of a function.
func TestDocSnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a program: skipped with -short")
	}
	var src strings.Builder
	src.WriteString(`package snippets

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/amqgo/amq"
)

var (
	_ = context.Background
	_ = errors.Is
	_ = fmt.Println
	_ = log.Println
	_ = time.Second
	_ = amq.Dial
)

`)
	topLevel := regexp.MustCompile(`^(//[^\n]*\n)*(func|type|var|const) `)
	for _, name := range []string{"README.md", "docs/porting-from-proton.md", "docs/types.md", "docs/artemis.md"} {
		doc, err := os.ReadFile(filepath.FromSlash(name))
		require.NoError(t, err)
		blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
		require.NotEmpty(t, blocks, name)
		for i, b := range blocks {
			fmt.Fprintf(&src, "// %s, block %d\n", name, i+1)
			if topLevel.MatchString(b[1]) {
				src.WriteString(b[1])
			} else {
				fmt.Fprintf(&src, "func _() {\n%s}\n", b[1])
			}
			src.WriteString("\n")
		}
	}
	// The snippets are built inside this module, so that they use its
	// go.mod and go.sum as they are, with no module resolution of their
	// own (a module of their own needs go.mod files the cache may lack).
	// A leading underscore keeps the directory out of ./... patterns.
	root, err := os.Getwd()
	require.NoError(t, err)
	dir, err := os.MkdirTemp(root, "_snippets")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.WriteFile(filepath.Join(dir, "snippets.go"), []byte(src.String()), 0o644))

	cmd := exec.Command("go", "vet", "./"+filepath.Base(dir))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the documentation's snippets do not compile:\n%s\n--- source ---\n%s", out, src.String())
}
