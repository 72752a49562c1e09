package connectfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// sandbox points the working directory and $HOME at fresh directories and
// clears MESSAGING_CONNECT_FILE. It returns them with symlinks resolved, as
// os.Getwd reports the working directory.
func sandbox(t *testing.T) (cwd, home string) {
	t.Helper()
	cwd, home = t.TempDir(), t.TempDir()
	var err error
	if cwd, err = filepath.EvalSymlinks(cwd); err != nil {
		t.Fatal(err)
	}
	t.Chdir(cwd)
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home) // os.UserHomeDir on Windows
	t.Setenv(EnvVar, "")
	return cwd, home
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSearchPaths(t *testing.T) {
	cwd, home := sandbox(t)
	want := []string{filepath.Join(cwd, "connect.json")}
	if runtime.GOOS != "windows" {
		want = append(want, filepath.Join(home, ".config", "messaging", "connect.json"), "/etc/messaging/connect.json")
	}
	if got := SearchPaths(); !reflect.DeepEqual(got, want) {
		t.Errorf("SearchPaths() = %q, want %q", got, want)
	}

	t.Setenv(EnvVar, "/srv/app/amqp.json")
	if got, want := SearchPaths(), []string{"/srv/app/amqp.json"}; !reflect.DeepEqual(got, want) {
		t.Errorf("with %s set: SearchPaths() = %q, want %q", EnvVar, got, want)
	}
}

func TestSearchPathsWithoutHome(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("home comes from $HOME only on Unix")
	}
	cwd, _ := sandbox(t)
	t.Setenv("HOME", "")
	want := []string{filepath.Join(cwd, "connect.json"), "/etc/messaging/connect.json"}
	if got := SearchPaths(); !reflect.DeepEqual(got, want) {
		t.Errorf("SearchPaths() = %q, want %q", got, want)
	}
}

func TestFind(t *testing.T) {
	_, etcErr := os.Stat("/etc/messaging/connect.json")
	etcExists := etcErr == nil && runtime.GOOS != "windows"

	t.Run("nothing anywhere", func(t *testing.T) {
		if etcExists {
			t.Skip("this machine has /etc/messaging/connect.json")
		}
		sandbox(t)
		path, found, err := Find()
		if path != "" || found || err != nil {
			t.Errorf("Find() = %q, %v, %v; want nothing found, no error", path, found, err)
		}
	})
	t.Run("working directory first", func(t *testing.T) {
		cwd, home := sandbox(t)
		writeFile(t, filepath.Join(cwd, "connect.json"), `{}`)
		writeFile(t, filepath.Join(home, ".config", "messaging", "connect.json"), `{}`)
		path, found, err := Find()
		if want := filepath.Join(cwd, "connect.json"); path != want || !found || err != nil {
			t.Errorf("Find() = %q, %v, %v; want %q", path, found, err, want)
		}
	})
	t.Run("home", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("not searched on Windows")
		}
		_, home := sandbox(t)
		want := filepath.Join(home, ".config", "messaging", "connect.json")
		writeFile(t, want, `{}`)
		path, found, err := Find()
		if path != want || !found || err != nil {
			t.Errorf("Find() = %q, %v, %v; want %q", path, found, err, want)
		}
	})
	t.Run("directory named connect.json is skipped", func(t *testing.T) {
		if etcExists {
			t.Skip("this machine has /etc/messaging/connect.json")
		}
		cwd, _ := sandbox(t)
		if err := os.Mkdir(filepath.Join(cwd, "connect.json"), 0o755); err != nil {
			t.Fatal(err)
		}
		path, found, err := Find()
		if path != "" || found || err != nil {
			t.Errorf("Find() = %q, %v, %v; want nothing found, no error", path, found, err)
		}
	})
	t.Run("variable wins", func(t *testing.T) {
		cwd, _ := sandbox(t)
		writeFile(t, filepath.Join(cwd, "connect.json"), `{}`)
		other := filepath.Join(t.TempDir(), "amqp.json")
		writeFile(t, other, `{}`)
		t.Setenv(EnvVar, other)
		path, found, err := Find()
		if path != other || !found || err != nil {
			t.Errorf("Find() = %q, %v, %v; want %q", path, found, err, other)
		}
	})
	t.Run("variable names a missing file", func(t *testing.T) {
		cwd, _ := sandbox(t)
		writeFile(t, filepath.Join(cwd, "connect.json"), `{}`) // not a fallback
		missing := filepath.Join(t.TempDir(), "typo.json")
		t.Setenv(EnvVar, missing)
		path, found, err := Find()
		if path != missing || found || err == nil {
			t.Fatalf("Find() = %q, %v, %v; want an error", path, found, err)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v is not fs.ErrNotExist", err)
		}
		if want := missing + ": MESSAGING_CONNECT_FILE names this file: no such file or directory"; err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
	})
	t.Run("variable names a directory", func(t *testing.T) {
		sandbox(t)
		dir := t.TempDir()
		t.Setenv(EnvVar, dir)
		_, found, err := Find()
		if found || err == nil || !strings.Contains(err.Error(), "MESSAGING_CONNECT_FILE names a directory") {
			t.Errorf("Find() = %v, %v; want a directory error", found, err)
		}
	})
	t.Run("unsearchable directory", func(t *testing.T) {
		if runtime.GOOS == "windows" || os.Geteuid() == 0 {
			t.Skip("needs Unix permissions that apply to the user")
		}
		_, home := sandbox(t)
		dir := filepath.Join(home, ".config", "messaging")
		writeFile(t, filepath.Join(dir, "connect.json"), `{}`)
		if err := os.Chmod(dir, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		_, found, err := Find()
		if found || !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Find() = %v, %v; want fs.ErrPermission", found, err)
		}
	})
	t.Run("found file loads", func(t *testing.T) {
		cwd, _ := sandbox(t)
		writeFile(t, filepath.Join(cwd, "connect.json"), `{"host": "h", "scheme": "amqp"}`)
		path, found, err := Find()
		if !found || err != nil {
			t.Fatalf("Find() = %q, %v, %v", path, found, err)
		}
		f, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if f.URL() != "amqp://h:5672" {
			t.Errorf("URL() = %q", f.URL())
		}
	})
}
