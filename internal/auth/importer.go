package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/quotatui/quotatui/internal/store"
)

// Format is an account file format Import understands.
type Format string

// The import formats.
const (
	// FormatAntigravityManager is an Antigravity-Manager account file: an
	// object with email and token {access_token, refresh_token,
	// expiry_timestamp, project_id}, or a JSON array of them.
	FormatAntigravityManager Format = "antigravity-manager"
	// FormatCLIProxyAPI is a CLIProxyAPI auth file with type "antigravity",
	// email, refresh_token, access_token, expired/timestamp and project_id.
	FormatCLIProxyAPI Format = "cliproxyapi"
	// FormatList is a plain JSON list of {email, refresh_token, label}, as
	// `quotatui accounts export --include-secrets` writes.
	FormatList Format = "list"
)

// ParseError is a problem in an import file, located to the entry and
// field: "accounts.json: entry 3: refresh_token: missing".
type ParseError struct {
	File    string
	Entry   int    // 1-based position in a list; 0 for a single-object file
	Field   string // e.g. "token.refresh_token"; "" for the whole entry
	Problem string
}

// Error reads "file: entry N: field: problem", leaving out the parts that
// do not apply.
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Entry > 0 {
		fmt.Fprintf(&b, ": entry %d", e.Entry)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Problem)
	return b.String()
}

// DetectAndParse recognises the format of one import file and returns its
// accounts (email normalised; tokens, expiry, project and label as given),
// in file order. name is used in errors only. Any problem fails the whole
// file with a *ParseError.
func DetectAndParse(name string, data []byte) ([]store.Account, Format, error) {
	var top any
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, "", &ParseError{File: name, Problem: "not JSON: " + err.Error()}
	}
	switch v := top.(type) {
	case map[string]any:
		f, err := detect(v)
		if err != nil {
			return nil, "", &ParseError{File: name, Problem: err.Error()}
		}
		a, err := parseEntry(f, v)
		if err != nil {
			return nil, f, located(name, 0, err)
		}
		return []store.Account{a}, f, nil
	case []any:
		if len(v) == 0 {
			return nil, "", &ParseError{File: name, Problem: "empty list: no accounts"}
		}
		var f Format
		out := make([]store.Account, 0, len(v))
		for i, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, f, &ParseError{File: name, Entry: i + 1, Problem: "want object, got " + jsonType(e)}
			}
			if i == 0 {
				// The first entry sets the format; the rest must follow it.
				var err error
				if f, err = detect(m); err != nil {
					return nil, "", &ParseError{File: name, Entry: 1, Problem: err.Error()}
				}
			}
			a, err := parseEntry(f, m)
			if err != nil {
				return nil, f, located(name, i+1, err)
			}
			out = append(out, a)
		}
		return out, f, nil
	default:
		return nil, "", &ParseError{File: name, Problem: "want a JSON object or list, got " + jsonType(top)}
	}
}

// fieldError is a problem with one field, before the file and entry are
// known.
type fieldError struct{ field, problem string }

func (e *fieldError) Error() string { return e.field + ": " + e.problem }

func located(file string, entry int, err error) error {
	var fe *fieldError
	if errors.As(err, &fe) {
		return &ParseError{File: file, Entry: entry, Field: fe.field, Problem: fe.problem}
	}
	return &ParseError{File: file, Entry: entry, Problem: err.Error()}
}

func detect(m map[string]any) (Format, error) {
	_, hasType := m["type"]
	_, hasToken := m["token"]
	_, hasRefresh := m["refresh_token"]
	switch {
	case hasType:
		return FormatCLIProxyAPI, nil
	case hasToken:
		return FormatAntigravityManager, nil
	case hasRefresh || m["email"] != nil:
		return FormatList, nil
	}
	return "", errors.New("unknown format: want an Antigravity-Manager account (email, token), " +
		"a CLIProxyAPI antigravity auth file (type, email, refresh_token) or a list of {email, refresh_token}")
}

func parseEntry(f Format, m map[string]any) (store.Account, error) {
	var a store.Account
	email, err := reqString(m, "email", "")
	if err != nil {
		return a, err
	}
	a.Email = normalizeEmail(email)
	if !strings.Contains(a.Email, "@") {
		return a, &fieldError{"email", fmt.Sprintf("%q is not an email address", email)}
	}
	if a.Label, err = optString(m, "label", ""); err != nil {
		return a, err
	}
	// The client that issued the token, when the file says (a token
	// refreshes only with it): top level in every format, or inside the
	// token object of an Antigravity-Manager file.
	if a.OAuthClientID, err = optString(m, "client_id", ""); err != nil {
		return a, err
	}
	switch f {
	case FormatAntigravityManager:
		tv, ok := m["token"].(map[string]any)
		if !ok {
			if m["token"] == nil {
				return a, &fieldError{"token", "missing"}
			}
			return a, &fieldError{"token", "want object, got " + jsonType(m["token"])}
		}
		if a.RefreshToken, err = reqString(tv, "refresh_token", "token."); err != nil {
			return a, err
		}
		if a.AccessToken, err = optString(tv, "access_token", "token."); err != nil {
			return a, err
		}
		if a.ProjectID, err = optString(tv, "project_id", "token."); err != nil {
			return a, err
		}
		if a.ProjectID == "" {
			if a.ProjectID, err = optString(m, "project_id", ""); err != nil {
				return a, err
			}
		}
		if a.OAuthClientID == "" {
			if a.OAuthClientID, err = optString(tv, "client_id", "token."); err != nil {
				return a, err
			}
		}
		sec, ok, err := optNumber(tv, "expiry_timestamp", "token.")
		if err != nil {
			return a, err
		}
		if ok {
			a.AccessExpiry = unixAuto(sec)
		}
	case FormatCLIProxyAPI:
		typ, err := reqString(m, "type", "")
		if err != nil {
			return a, err
		}
		if typ != "antigravity" {
			return a, &fieldError{"type", fmt.Sprintf("want %q, got %q (not an Antigravity auth file)", "antigravity", typ)}
		}
		if a.RefreshToken, err = reqString(m, "refresh_token", ""); err != nil {
			return a, err
		}
		if a.AccessToken, err = optString(m, "access_token", ""); err != nil {
			return a, err
		}
		if a.ProjectID, err = optString(m, "project_id", ""); err != nil {
			return a, err
		}
		if a.AccessExpiry, err = cliproxyExpiry(m); err != nil {
			return a, err
		}
	case FormatList:
		if a.RefreshToken, err = reqString(m, "refresh_token", ""); err != nil {
			return a, err
		}
		if a.ProjectID, err = optString(m, "project_id", ""); err != nil {
			return a, err
		}
	}
	if a.AccessToken == "" {
		a.AccessExpiry = time.Time{}
	}
	return a, nil
}

// cliproxyExpiry reads "expired" (RFC 3339), else timestamp (Unix ms, when
// the token was saved) plus expires_in (seconds).
func cliproxyExpiry(m map[string]any) (time.Time, error) {
	exp, err := optString(m, "expired", "")
	if err != nil {
		return time.Time{}, err
	}
	if exp != "" {
		t, err := time.Parse(time.RFC3339, exp)
		if err != nil {
			return time.Time{}, &fieldError{"expired", fmt.Sprintf("%q is not an RFC 3339 time", exp)}
		}
		return t, nil
	}
	ts, ok, err := optNumber(m, "timestamp", "")
	if err != nil || !ok {
		return time.Time{}, err
	}
	in, ok, err := optNumber(m, "expires_in", "")
	if err != nil || !ok {
		return time.Time{}, err
	}
	return unixAuto(ts).Add(time.Duration(in) * time.Second), nil
}

// unixAuto reads a Unix time in seconds or, when it is too large for
// that, in milliseconds: tools disagree.
func unixAuto(v float64) time.Time {
	if v > 1e11 {
		return time.UnixMilli(int64(v)).UTC()
	}
	return time.Unix(int64(v), 0).UTC()
}

func reqString(m map[string]any, key, prefix string) (string, error) {
	s, err := optString(m, key, prefix)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(s) == "" {
		return "", &fieldError{prefix + key, "missing"}
	}
	return strings.TrimSpace(s), nil
}

func optString(m map[string]any, key, prefix string) (string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", &fieldError{prefix + key, "want string, got " + jsonType(v)}
	}
	return strings.TrimSpace(s), nil
}

func optNumber(m map[string]any, key, prefix string) (float64, bool, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	switch n := v.(type) {
	case float64:
		return n, true, nil
	case string:
		// Some tools quote their numbers.
		if f, err := strconv.ParseFloat(n, 64); err == nil {
			return f, true, nil
		}
	}
	return 0, false, &fieldError{prefix + key, "want number, got " + jsonType(v)}
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// ImportOptions configures Import.
type ImportOptions struct {
	Paths    []string
	NoVerify bool     // store tokens without checking them
	Verifier Verifier // required unless NoVerify; *Tokens satisfies it
	// Clients maps the client ids in the files to configured clients; an
	// account whose client is not among them is imported as needs_client.
	// nil keeps the ids as they are, unchecked.
	Clients *Clients
	// Client names the configured client that issued the tokens of files
	// that name none; "" means the default client.
	Client string
	// Concurrency bounds parallel verifications; default 4.
	Concurrency int
	Logger      *slog.Logger // default: discard
}

// FileReport is what Import did with one file.
type FileReport struct {
	Path    string
	Format  Format
	Added   int // new accounts
	Updated int // existing accounts with a new refresh token
	Skipped int // duplicates in the file, or already stored with the same token
	// NeedsClient counts the accounts (among Added and Updated) whose
	// OAuth client is not configured: stored as needs_client, unverified.
	// MissingClients lists those client ids, each once.
	NeedsClient    int
	MissingClients []string
	Err            error // non-nil: nothing from this file was written
}

// ImportReport is what Import did, file by file.
type ImportReport struct {
	Files []FileReport
}

// Totals adds the counts over every file.
func (r ImportReport) Totals() (added, updated, skipped, failed int) {
	for _, f := range r.Files {
		added += f.Added
		updated += f.Updated
		skipped += f.Skipped
		if f.Err != nil {
			failed++
		}
	}
	return added, updated, skipped, failed
}

// Write prints the report as a table, one line per file.
func (r ImportReport) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tFORMAT\tADDED\tUPDATED\tSKIPPED\tRESULT")
	for _, f := range r.Files {
		res := "ok"
		if f.Err != nil {
			res = "failed, nothing written"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", f.Path, dash(string(f.Format)), f.Added, f.Updated, f.Skipped, res)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range r.Files {
		if f.Err != nil {
			if _, err := fmt.Fprintln(w, f.Err); err != nil {
				return err
			}
		}
		for _, id := range f.MissingClients {
			if _, err := fmt.Fprintf(w, "%s: %s\n", f.Path, (&ClientError{ClientID: id}).Error()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Import reads account files, merging by email into st. Each file is
// parsed and (unless NoVerify) every new token verified with one refresh
// before anything is written; then the file's accounts are stored in one
// transaction, so a bad file leaves no trace. Files are independent: one
// failing does not stop the others. The error joins every file's error,
// each naming the file, the entry and the field.
func Import(ctx context.Context, st Store, opt ImportOptions) (ImportReport, error) {
	if !opt.NoVerify && opt.Verifier == nil {
		return ImportReport{}, errors.New("import: no verifier (use --no-verify to store tokens unchecked)")
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 4
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Client != "" {
		if opt.Clients == nil {
			return ImportReport{}, fmt.Errorf("import: client %q named, but no clients are configured", opt.Client)
		}
		if _, ok := opt.Clients.ByName(opt.Client); !ok {
			return ImportReport{}, fmt.Errorf("import: no OAuth client named %q (configured: %s)", opt.Client, strings.Join(opt.Clients.Names(), ", "))
		}
	}
	var rep ImportReport
	var errs []error
	for _, path := range opt.Paths {
		fr := importFile(ctx, st, opt, path)
		if fr.Err != nil {
			fr.Added, fr.Updated, fr.Skipped = 0, 0, 0
			errs = append(errs, fr.Err)
			opt.Logger.Warn("import failed, nothing written", "file", path, "err", fr.Err)
		} else {
			opt.Logger.Info("imported", "file", path, "format", string(fr.Format),
				"added", fr.Added, "updated", fr.Updated, "skipped", fr.Skipped)
		}
		rep.Files = append(rep.Files, fr)
	}
	return rep, errors.Join(errs...)
}

func importFile(ctx context.Context, st Store, opt ImportOptions, path string) FileReport {
	fr := FileReport{Path: path}
	data, err := os.ReadFile(path)
	if err != nil {
		fr.Err = fmt.Errorf("import %s: %w", path, err)
		return fr
	}
	accts, format, err := DetectAndParse(path, data)
	fr.Format = format
	if err != nil {
		fr.Err = fmt.Errorf("import %w", err)
		return fr
	}

	// Entries of a single-object file have no number in errors.
	entryNo := func(i int) int { return i + 1 }
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		entryNo = func(int) int { return 0 }
	}

	// Plan: drop duplicates within the file (the first entry wins) and
	// accounts already stored with the same refresh token.
	type planned struct {
		entry int
		acct  store.Account
		isNew bool
	}
	var plan []planned
	seen := make(map[string]bool, len(accts))
	for i, a := range accts {
		if seen[a.Email] {
			fr.Skipped++
			continue
		}
		seen[a.Email] = true
		a = withClient(a, opt, &fr)
		old, err := st.AccountByEmail(ctx, a.Email)
		switch {
		case errors.Is(err, store.ErrNotFound):
			plan = append(plan, planned{entry: entryNo(i), acct: a, isNew: true})
		case err != nil:
			fr.Err = fmt.Errorf("import %s: %s: %w", path, a.Email, err)
			return fr
		case old.RefreshToken == a.RefreshToken:
			fr.Skipped++
		default:
			plan = append(plan, planned{entry: entryNo(i), acct: a})
		}
	}

	if !opt.NoVerify {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(opt.Concurrency)
		for i := range plan {
			p := &plan[i]
			if p.acct.State == store.StateNeedsClient {
				continue // no client to verify with
			}
			g.Go(func() error {
				access, expiry, err := verifyOwner(gctx, opt.Verifier, p.acct)
				if err != nil {
					return &ParseError{File: path, Entry: p.entry, Field: "refresh_token",
						Problem: fmt.Sprintf("verification failed for %s: %v", p.acct.Email, redactErr(err))}
				}
				p.acct.AccessToken, p.acct.AccessExpiry = access, expiry
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			fr.Err = fmt.Errorf("import %w", err)
			return fr
		}
	}

	if len(plan) == 0 {
		return fr
	}
	batch := make([]store.Account, len(plan))
	for i, p := range plan {
		batch[i] = p.acct
	}
	if _, err := st.UpsertAccounts(ctx, batch); err != nil {
		fr.Err = fmt.Errorf("import %s: %w", path, err)
		return fr
	}
	for _, p := range plan {
		if p.isNew {
			fr.Added++
		} else {
			fr.Updated++
		}
		if p.acct.State == store.StateNeedsClient {
			fr.NeedsClient++
		}
	}
	return fr
}

// withClient settles which OAuth client an imported account belongs to:
// the file's client id, else the client opt.Client names, else the
// default (""). An id no configured client has makes the account
// needs_client, recorded in fr.
func withClient(a store.Account, opt ImportOptions, fr *FileReport) store.Account {
	if a.OAuthClientID == "" && opt.Client != "" && opt.Clients != nil {
		if oc, ok := opt.Clients.ByName(opt.Client); ok {
			a.OAuthClientID = oc.ClientID
		}
	}
	if a.OAuthClientID == "" || opt.Clients == nil {
		return a
	}
	if _, err := opt.Clients.For(a.OAuthClientID); err != nil {
		a.State, a.StateReason = store.StateNeedsClient, err.Error()
		if !slices.Contains(fr.MissingClients, a.OAuthClientID) {
			fr.MissingClients = append(fr.MissingClients, a.OAuthClientID)
		}
	}
	return a
}

// verifyOwner refreshes the account's token with its client and checks,
// through userinfo, that the token belongs to the email the file gives:
// a token stored under the wrong email would spend someone else's quota.
func verifyOwner(ctx context.Context, v Verifier, a store.Account) (string, time.Time, error) {
	access, expiry, err := v.Verify(ctx, a.OAuthClientID, a.RefreshToken)
	if err != nil {
		return "", time.Time{}, err
	}
	owner, err := v.Email(ctx, access)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("read the token's owner: %w", err)
	}
	if !strings.EqualFold(owner, a.Email) {
		return "", time.Time{}, fmt.Errorf("the token belongs to %s, not to %s", owner, a.Email)
	}
	return access, expiry, nil
}
