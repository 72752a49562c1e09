package sasl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// ccacheFile resolves the credential cache to read in MIT Kerberos' order
// (krb5_cc_default_name): the configured name, else $KRB5CCNAME, else
// default_ccache_name in [libdefaults] of the krb5.conf files, else
// FILE:/tmp/krb5cc_%{uid}. Like MIT, it expands %{...} parameters only in
// the krb5.conf value; a name given explicitly or in the environment is
// taken as it stands. It returns the path of the file holding the cache.
func ccacheFile(configured string, confFiles []string) (string, error) {
	name, from := configured, "the configured CCache"
	if name == "" {
		name, from = os.Getenv("KRB5CCNAME"), "$KRB5CCNAME"
	}
	if name == "" {
		v, file, err := confDefaultCCacheName(confFiles)
		if err != nil {
			return "", fmt.Errorf("gssapi: reading default_ccache_name from krb5.conf: %w", err)
		}
		if v != "" {
			from = "default_ccache_name in " + file
			if name, err = expandParams(v); err != nil {
				return "", fmt.Errorf("gssapi: Kerberos credential cache %q (%s): %w", v, from, err)
			}
		}
	}
	if name == "" {
		name, from = "FILE:"+defaultCCachePath(), "the default"
	}
	return ccachePath(name, from)
}

// defaultCCachePath is MIT's built-in default cache on Unix.
func defaultCCachePath() string { return "/tmp/krb5cc_" + strconv.Itoa(os.Getuid()) }

// ccachePath turns a cache name TYPE:RESIDUAL into the file to read. amq
// reads the file-based types only; the others live in the kernel (KEYRING),
// a daemon (KCM, API, MSLSA) or another process' memory (MEMORY).
func ccachePath(name, from string) (string, error) {
	typ, rest, ok := strings.Cut(name, ":")
	if !ok || len(typ) == 1 || strings.Contains(typ, "/") {
		// No type: a file, as MIT takes it. A one-letter type is a drive
		// letter, and a slash means a path that merely contains a colon.
		return name, nil
	}
	switch t := strings.ToUpper(typ); t {
	case "FILE":
		if rest == "" {
			return "", fmt.Errorf("gssapi: Kerberos credential cache %q (%s) names no file", name, from)
		}
		return rest, nil
	case "DIR":
		// DIR::path is one cache of a collection; DIR:dir the collection,
		// whose primary cache is what kinit last switched to.
		if p, ok := strings.CutPrefix(rest, ":"); ok {
			return p, nil
		}
		if rest == "" {
			return "", fmt.Errorf("gssapi: Kerberos credential cache %q (%s) names no directory", name, from)
		}
		return dirPrimary(rest), nil
	case "KEYRING", "KCM", "MEMORY", "API", "MSLSA":
		file := "FILE:" + defaultCCachePath()
		return "", fmt.Errorf("gssapi: Kerberos credential cache %q (%s) is a cache of type %s, which amq cannot read: amq reads FILE: and DIR: caches only. "+
			"Get a ticket in a file cache: export KRB5CCNAME=%s and run kinit, or run kinit -c %s and set the CCache option to %s",
			name, from, t, file, file, file)
	default:
		return "", fmt.Errorf("gssapi: Kerberos credential cache %q (%s) has an unknown type %q: amq reads FILE: and DIR: caches", name, from, typ)
	}
}

// dirPrimary is the primary cache of a DIR: collection: the file the
// collection's "primary" file names, else "tkt". As in MIT, a primary file
// that is unreadable, lacks its final newline (a write in progress) or
// names something other than a tkt* file in the directory counts as absent.
func dirPrimary(dir string) string {
	name := "tkt"
	if b, err := readFileMax(filepath.Join(dir, "primary"), 4096); err == nil {
		if line, _, ok := bytes.Cut(b, []byte("\n")); ok {
			if s := string(line); strings.HasPrefix(s, "tkt") && !strings.ContainsAny(s, `/\`) {
				name = s
			}
		}
	}
	return filepath.Join(dir, name)
}

// expandParams expands the parameters MIT Kerberos allows in krb5.conf
// paths ("PARAMETER EXPANSION" in krb5.conf(5)) that mean something on a
// Unix client.
func expandParams(s string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "%{")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		name, rest, ok := strings.Cut(s[i+2:], "}")
		if !ok {
			return "", fmt.Errorf("%q has no closing brace", s[i:])
		}
		v, err := paramValue(name)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		s = rest
	}
}

func paramValue(name string) (string, error) {
	switch name {
	case "TEMP":
		if d := os.Getenv("TMPDIR"); d != "" {
			return d, nil
		}
		return "/tmp", nil
	case "uid", "USERID":
		return strconv.Itoa(os.Getuid()), nil
	case "euid":
		return strconv.Itoa(os.Geteuid()), nil
	case "username":
		u, err := user.LookupId(strconv.Itoa(os.Geteuid()))
		if err != nil {
			return "", fmt.Errorf("%%{username}: %w", err)
		}
		return u.Username, nil
	case "null":
		return "", nil
	}
	return "", fmt.Errorf("unsupported parameter %%{%s} (amq expands %%{TEMP}, %%{uid}, %%{euid}, %%{USERID}, %%{username} and %%{null})", name)
}

// Bounds on reading krb5.conf: a profile is a few kilobytes in a handful
// of files. They stop an include loop or a path to something that is not
// a profile (a device, a huge file) from hanging or swamping the client.
const (
	maxConfFiles    = 64
	maxConfBytes    = 1 << 20
	maxIncludeDepth = 8
)

// confDefaultCCacheName returns the first default_ccache_name relation at
// the top of a [libdefaults] section, and the file it is in, reading the
// files as MIT's profile library does: in turn, each with its include and
// includedir directives read where they stand. Missing files in the list
// are skipped, as MIT skips them in KRB5_CONFIG; a missing include is an
// error, as in MIT. gokrb5's configuration does not keep this relation,
// hence this reader for the one key.
func confDefaultCCacheName(files []string) (value, file string, err error) {
	r := confReader{}
	for _, f := range files {
		if _, err := os.Stat(f); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if value, file, err = r.read(f, 0); err != nil || file != "" {
			return value, file, err
		}
	}
	return "", "", nil
}

type confReader struct {
	files int // files opened, against maxConfFiles
}

// read scans one profile file. file is "" when it holds no value.
func (r *confReader) read(path string, depth int) (value, file string, err error) {
	if depth > maxIncludeDepth {
		return "", "", fmt.Errorf("%s: includes nested deeper than %d (an include loop?)", path, maxIncludeDepth)
	}
	if r.files++; r.files > maxConfFiles {
		return "", "", fmt.Errorf("%s: more than %d files included", path, maxConfFiles)
	}
	data, err := readFileMax(path, maxConfBytes)
	if err != nil {
		return "", "", err
	}
	// An included file starts outside any section: included files are
	// syntactically independent of the file that includes them.
	section, level := "", 0
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, " \t\r")
		// Directives start at the first column.
		if dir, ok := directive(line, "includedir"); ok {
			value, file, err = r.readDir(dir, depth+1)
		} else if inc, ok := directive(line, "include"); ok {
			value, file, err = r.read(inc, depth+1)
		} else if _, ok := directive(line, "module"); ok {
			continue
		} else {
			section, level, value = scanLine(line, section, level)
			if value != "" {
				return value, path, nil
			}
			continue
		}
		if err != nil {
			return "", "", fmt.Errorf("%s line %d: %w", path, n+1, err)
		}
		if file != "" {
			return value, file, nil
		}
	}
	return "", "", nil
}

// readDir reads the files of an includedir that MIT reads, in name order:
// names of letters, digits, '-' and '_' only, or ending in ".conf"; never
// a name starting with '.' (editor and package-manager leftovers).
func (r *confReader) readDir(dir string, depth int) (value, file string, err error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return "", "", err
	}
	for _, e := range entries {
		if e.IsDir() || !includable(e.Name()) {
			continue
		}
		if value, file, err = r.read(filepath.Join(dir, e.Name()), depth); err != nil || file != "" {
			return value, file, err
		}
	}
	return "", "", nil
}

func includable(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	if strings.HasSuffix(name, ".conf") {
		return true
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// directive returns the argument of a line "word arg".
func directive(line, word string) (string, bool) {
	rest, ok := strings.CutPrefix(line, word)
	if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// scanLine follows one profile line: section headers, subsections
// ("tag = {" ... "}", the brace possibly on a line of its own) and
// relations, returning the default_ccache_name value if the line is that
// relation at the top of [libdefaults]. Names are case-sensitive, as in
// MIT. A line it cannot make sense of is skipped: gokrb5 reads the rest of
// the file and MIT's kinit would already have refused it.
func scanLine(line, section string, level int) (string, int, string) {
	s := strings.TrimLeft(line, " \t")
	switch {
	case s == "" || s[0] == '#' || s[0] == ';':
	case s[0] == '[':
		if end := strings.IndexByte(s, ']'); end > 0 {
			return s[1:end], 0, ""
		}
	case s[0] == '}':
		if level > 0 {
			level--
		}
	case s[0] == '{':
		level++
	default:
		tag, val, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		tag = strings.TrimRight(strings.TrimSpace(tag), "*") // "tag*" marks a final relation
		val = strings.TrimSpace(val)
		switch {
		case strings.HasPrefix(val, "{"):
			level++
		case strings.HasPrefix(val, `"`):
			val = unquote(val[1:])
		}
		if section == "libdefaults" && level == 0 && tag == "default_ccache_name" {
			return section, level, val
		}
	}
	return section, level, ""
}

// unquote reads a profile string after its opening quote, up to the
// closing one: \n, \t and \b are control characters, a backslash before
// any other character stands for that character.
func unquote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			break
		}
		if c == '\\' && i+1 < len(s) {
			i++
			switch c = s[i]; c {
			case 'n':
				c = '\n'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// readFileMax reads a file of at most max bytes.
func readFileMax(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return b, nil
}
