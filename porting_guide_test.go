package amq_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPortingGuideSnippetsCompile extracts every ```go block of
// docs/porting-from-proton.md and compiles them against this module, so the
// guide cannot drift from the API.
func TestPortingGuideSnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a program: skipped with -short")
	}
	doc, err := os.ReadFile(filepath.Join("docs", "porting-from-proton.md"))
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	require.NotEmpty(t, blocks)

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
	for _, b := range blocks {
		src.WriteString(b[1])
		src.WriteString("\n")
	}
	root, err := os.Getwd()
	require.NoError(t, err)
	dir := t.TempDir()
	gomod := "module snippets\n\ngo 1.25\n\nrequire github.com/amqgo/amq v0.0.0\n\nreplace github.com/amqgo/amq => " + root + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "snippets.go"), []byte(src.String()), 0o644))

	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the guide's snippets do not compile:\n%s\n--- source ---\n%s", out, src.String())
}
