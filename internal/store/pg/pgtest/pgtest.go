// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema in the server QUOTATUI_TEST_POSTGRES names, dropped when the test
// ends, so tests stay independent and may run in parallel.
//
// Without QUOTATUI_TEST_POSTGRES the tests that need PostgreSQL skip with
// a message saying how to run them; with QUOTATUI_TEST_POSTGRES_REQUIRED=1
// (CI sets it) a missing or unreachable server fails them instead.
// scripts/pg-test-server starts a throwaway server and prints the URL.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env names the variable holding the test server's URL; RequiredEnv the
// one that makes its absence a failure.
const (
	Env         = "QUOTATUI_TEST_POSTGRES"
	RequiredEnv = "QUOTATUI_TEST_POSTGRES_REQUIRED"
)

// Server returns the test server's URL, or skips (fails, when required)
// the test when there is none.
func Server(t testing.TB) string {
	t.Helper()
	u := os.Getenv(Env)
	if u == "" {
		if os.Getenv(RequiredEnv) == "1" {
			t.Fatalf("%s is not set but %s=1: PostgreSQL tests must run (scripts/pg-test-server start DIR prints the URL)", Env, RequiredEnv)
		}
		t.Skipf("PostgreSQL test skipped: set %s to a database URL (scripts/pg-test-server start /tmp/qt-pg prints one)", Env)
	}
	return u
}

// URL creates a schema of the test's own and returns a URL whose
// search_path names it; the schema and everything in it is dropped when
// the test ends.
func URL(t testing.TB) string {
	t.Helper()
	base := Server(t)
	b := make([]byte, 6)
	rand.Read(b) // never fails
	schema := "qt_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL test server %s: %v", redacted(base), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func redacted(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
