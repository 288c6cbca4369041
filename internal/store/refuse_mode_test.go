package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A file Open refuses keeps its mode: tightening is for databases only.
func TestOpenRefusedFileKeepsMode(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"text":         "my notes, not a database\n",
		"short header": "SQLite",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o644); err != nil { // past the umask
			t.Fatal(err)
		}
		if s, err := Open(context.Background(), path); err == nil {
			s.Close()
			t.Fatalf("%s: Open accepted a file that is not a database", name)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o644 {
			t.Errorf("%s: refusing the file changed its mode to %o; want 644", name, got)
		}
	}
}
