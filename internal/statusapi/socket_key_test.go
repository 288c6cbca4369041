package statusapi

import "testing"

// Every process given one PostgreSQL URL meets on one key, whatever its
// working directory and password; another database has another key.
func TestKeyOfADatabaseURL(t *testing.T) {
	a := key("postgres://q:one@db.example/quotatui?sslmode=require")
	if b := key("postgres://q:two@db.example/quotatui?sslmode=require"); a != b {
		t.Errorf("the password changed the key: %s, %s", a, b)
	}
	t.Chdir(t.TempDir())
	if b := key("postgres://q:one@db.example/quotatui?sslmode=require"); a != b {
		t.Errorf("the working directory changed the key: %s, %s", a, b)
	}
	if b := key("postgres://q:one@db.example/other?sslmode=require"); a == b {
		t.Error("two databases share a key")
	}
}
