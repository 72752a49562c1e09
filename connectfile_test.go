package amq_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/amqtest"
)

func writeConnectFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "connect.json")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	t.Setenv("MESSAGING_CONNECT_FILE", path)
	return path
}

func TestDialReadsConnectFile(t *testing.T) {
	b := amqtest.NewBroker(t, amqtest.WithUser("alice", "s3cret"), amqtest.WithAnonymous(false))
	port := b.URL()[strings.LastIndex(b.URL(), ":")+1:]
	writeConnectFile(t, fmt.Sprintf(`{
		// a comment, and trailing commas: JSON with comments
		"scheme": "amqp",
		"host": "127.0.0.1",
		"port": %s,
		"user": "alice",
		"password": "s3cret",
		"sasl": {"mechanisms": "SCRAM-SHA-256 PLAIN",},
	}`, port))

	ctx := testCtx(t)
	c, err := amq.Dial(ctx, "", nil)
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, "amqp://127.0.0.1:"+port, c.URL())
	require.NoError(t, c.Send(ctx, amq.NewMessage("configured").SetTo("q")))

	// Values in the file override the same options given in code.
	c2, err := amq.Dial(ctx, "", &amq.ConnectOptions{User: "alice", Password: "wrong"})
	require.NoError(t, err)
	c2.Close()
}

func TestConnectFileErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	path := writeConnectFile(t, "{\n  \"usr\": \"alice\",\n  \"password\": \"s3cret\"\n}")
	_, err := amq.Dial(ctx, "", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path+":2:")
	assert.Contains(t, err.Error(), "usr")
	assert.NotContains(t, err.Error(), "s3cret")

	writeConnectFile(t, `{"port": true}`)
	_, err = amq.Dial(ctx, "", nil)
	assert.ErrorContains(t, err, ":1:")

	t.Setenv("MESSAGING_CONNECT_FILE", filepath.Join(t.TempDir(), "missing.json"))
	_, err = amq.Dial(ctx, "", nil)
	assert.ErrorContains(t, err, "missing.json", "a missing file named by the variable is reported")
}

func TestLoadConnectConfig(t *testing.T) {
	path := writeConnectFile(t, `{"host": "example.net", "user": "bob", "password": "pw", "tls": {"verify": false}}`)
	cc, err := amq.LoadConnectConfig(path)
	require.NoError(t, err)
	assert.Equal(t, "amqps://example.net:5671", cc.URL, "scheme defaults to amqps, as in the reference")
	assert.Equal(t, "bob", cc.Options.User)
	require.NotNil(t, cc.Options.TLS.Verify)
	assert.False(t, *cc.Options.TLS.Verify)
	assert.Equal(t, []string{path}, amq.ConnectConfigPaths())
}
