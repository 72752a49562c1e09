package connectfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// EnvVar names the environment variable that points at the configuration
// file (reference 13.1).
const EnvVar = "MESSAGING_CONNECT_FILE"

// fileName is the name searched for in each directory.
const fileName = "connect.json"

// SearchPaths lists the places a connect.json is looked for, in order
// (reference 13.1). When MESSAGING_CONNECT_FILE is set and not empty it is
// the only entry. Otherwise: connect.json in the working directory (made
// absolute when the directory is known), $HOME/.config/messaging/connect.json
// when the home directory is known, and /etc/messaging/connect.json; on
// Windows only the one in the working directory.
func SearchPaths() []string {
	if p := os.Getenv(EnvVar); p != "" {
		return []string{p}
	}
	cwd := fileName
	if wd, err := os.Getwd(); err == nil {
		cwd = filepath.Join(wd, fileName)
	}
	if runtime.GOOS == "windows" {
		return []string{cwd}
	}
	paths := []string{cwd}
	if home, err := os.UserHomeDir(); err == nil {
		paths = append(paths, filepath.Join(home, ".config", "messaging", fileName))
	}
	return append(paths, filepath.Join("/etc", "messaging", fileName))
}

// Find returns the first of [SearchPaths] that exists. found is false, with
// a nil error, when there is no file: the caller then uses the defaults, as
// the reference does.
//
// Two cases are errors rather than "not found", both naming the path: a
// MESSAGING_CONNECT_FILE that names a missing file or a directory (Proton
// quietly ignores it, which hides a typo in a deployment), and a candidate
// whose existence cannot be checked (permission denied on its directory).
// A directory named connect.json in one of the searched directories is
// skipped, as Proton skips it.
func Find() (path string, found bool, err error) {
	if p := os.Getenv(EnvVar); p != "" {
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			e := readError(p, err)
			e.Msg = EnvVar + " names this file: " + strings.TrimPrefix(e.Msg, "cannot read the file: ")
			return p, false, e
		case fi.IsDir():
			return p, false, &Error{Path: p, Msg: EnvVar + " names a directory, not a file"}
		}
		return p, true, nil
	}
	for _, p := range SearchPaths() {
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
			continue
		case err != nil:
			return p, false, readError(p, err)
		case fi.IsDir():
			continue
		}
		return p, true, nil
	}
	return "", false, nil
}
