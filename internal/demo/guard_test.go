package demo

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/quotatui/quotatui/internal/store"
)

func TestCheckDatabase(t *testing.T) {
	ctx := context.Background()
	w := NewWorld(Options{Accounts: 3})
	defer w.Close()
	dir := t.TempDir()
	seed := func(name string, rows []store.Account) string {
		path := filepath.Join(dir, name)
		st, err := store.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if len(rows) > 0 {
			if _, err := st.UpsertAccounts(ctx, rows); err != nil {
				t.Fatal(err)
			}
		}
		return path
	}
	real := store.Account{Email: "Someone@Gmail.com", RefreshToken: "1//real", State: store.StateActive}
	tests := []struct {
		name    string
		path    string
		foreign []string
	}{
		{"missing file", filepath.Join(dir, "new.db"), nil},
		{"empty database", seed("empty.db", nil), nil},
		{"an earlier demo's database", seed("demo.db", w.StoreAccounts()), nil},
		{"one real account among demo ones", seed("mixed.db", append(w.StoreAccounts(), real)), []string{"Someone@Gmail.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDatabase(ctx, tt.path)
			var fe *ForeignDatabaseError
			switch {
			case tt.foreign == nil && err != nil:
				t.Fatalf("CheckDatabase = %v; want nil", err)
			case tt.foreign != nil && !errors.As(err, &fe):
				t.Fatalf("CheckDatabase = %v; want a *ForeignDatabaseError", err)
			case tt.foreign != nil:
				if strings.Join(fe.Emails, ",") != strings.Join(tt.foreign, ",") {
					t.Errorf("foreign accounts %v; want %v", fe.Emails, tt.foreign)
				}
				if !strings.Contains(err.Error(), tt.path) || strings.Contains(err.Error(), "1//real") {
					t.Errorf("the error should name the file and never a token: %v", err)
				}
			}
		})
	}
}

func TestHTTPClientReachesOnlyTheSimulator(t *testing.T) {
	w := NewWorld(Options{Accounts: 1})
	defer w.Close()
	var hits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer other.Close()
	c := w.HTTPClient()

	resp, err := c.Post(other.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader("refresh_token=1//secret"))
	if err == nil {
		resp.Body.Close()
		t.Fatal("the demo's client sent a request to a host other than its simulator")
	}
	if hits.Load() != 0 {
		t.Errorf("the other host received %d requests", hits.Load())
	}
	if strings.Contains(err.Error(), "1//secret") {
		t.Errorf("the refusal shows the request body: %v", err)
	}

	resp, err = c.Get(w.Sim.UserInfoURL())
	if err != nil {
		t.Fatalf("the demo's client cannot reach its simulator: %v", err)
	}
	resp.Body.Close()
	c.CloseIdleConnections()
}
