package demo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/quotatui/quotatui/internal/store"
)

// demoDomain is the domain of every account the demo creates. example.com
// is reserved (RFC 2606), so no real Google account can have it: an
// account with another domain in the demo's database is someone's real
// account.
const demoDomain = "@example.com"

// IsDemoAccount reports whether an account could have been created by the
// demo. The demo only ever creates <name>@example.com accounts.
func IsDemoAccount(email string) bool {
	return strings.HasSuffix(strings.ToLower(strings.TrimSpace(email)), demoDomain)
}

// ForeignDatabaseError is returned by CheckDatabase when the database holds
// accounts the demo did not create.
type ForeignDatabaseError struct {
	Path   string
	Emails []string // the foreign accounts' emails
}

// Error names the file and up to three of the foreign accounts, and says
// what to do instead.
func (e *ForeignDatabaseError) Error() string {
	shown := e.Emails
	more := ""
	if len(shown) > 3 {
		shown, more = shown[:3], fmt.Sprintf(" and %d more", len(e.Emails)-3)
	}
	return fmt.Sprintf("%s holds %d account(s) that are not the demo's (%s%s); "+
		"the demo would overwrite them and send their tokens to its simulator, so it refuses. "+
		"Leave out --db (the demo then uses a temporary database) or name a new file",
		e.Path, len(e.Emails), strings.Join(shown, ", "), more)
}

// CheckDatabase makes sure the demo may write to the database at path: a
// file that does not exist yet is fine, and so is one holding only demo
// accounts (an earlier demo's); one holding any other account is refused
// with a *ForeignDatabaseError before anything in it changes.
func CheckDatabase(ctx context.Context, path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	accts, err := st.Accounts(ctx)
	if err != nil {
		return fmt.Errorf("read accounts of %s: %w", path, err)
	}
	var foreign []string
	for _, a := range accts {
		if !IsDemoAccount(a.Email) {
			foreign = append(foreign, a.Email)
		}
	}
	if len(foreign) > 0 {
		return &ForeignDatabaseError{Path: path, Emails: foreign}
	}
	return nil
}

// HTTPClient returns the client the demo's stack must use for the
// upstream and OAuth: it reaches the world's simulator and refuses every
// other host, so no token the demo holds can leave for anywhere else,
// whatever the configuration says.
func (w *World) HTTPClient() *http.Client {
	sim := w.Sim.Client()
	u, err := url.Parse(w.Sim.URL)
	if err != nil {
		panic(fmt.Sprintf("demo: the simulator's URL %q does not parse: %v", w.Sim.URL, err))
	}
	next := sim.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	return &http.Client{Transport: simOnly{host: u.Host, next: next}, Timeout: sim.Timeout}
}

// simOnly is a RoundTripper that sends requests to one host only.
type simOnly struct {
	host string
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t simOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != t.host {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, fmt.Errorf("demo: refusing to send a request to %s: the demo talks only to its own simulator", r.URL.Host)
	}
	return t.next.RoundTrip(r)
}
