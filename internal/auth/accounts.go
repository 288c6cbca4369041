package auth

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/quotatui/quotatui/internal/store"
)

// Verifier checks a refresh token before it is stored. *Tokens satisfies
// it.
type Verifier interface {
	// Verify performs one refresh with the client whose id is clientID
	// ("" = the default) and returns the access token it yields.
	Verify(ctx context.Context, clientID, refreshToken string) (access string, expiry time.Time, err error)
	// Email returns the email the access token belongs to.
	Email(ctx context.Context, accessToken string) (string, error)
}

// AccountInfo is what list and export show of an account: never a token.
type AccountInfo struct {
	ID        int64     `json:"id"`
	Label     string    `json:"label"`
	Email     string    `json:"email"`
	Tier      string    `json:"tier"`
	TierID    string    `json:"tier_id,omitempty"`
	State     string    `json:"state"` // "disabled" when the user turned it off, else the engine's state
	Disabled  bool      `json:"disabled"`
	Reason    string    `json:"state_reason,omitempty"`
	ProjectID string    `json:"project_id"`
	AddedAt   time.Time `json:"added"`
	// Client names the OAuth client the account refreshes with ("default",
	// a configured name, or "<id> (not configured)"); ClientID is its id
	// when recorded (an export keeps it, so an import maps it back).
	Client   string `json:"client"`
	ClientID string `json:"client_id,omitempty"`
	// The user's routing choices (`accounts set`): families is absent
	// when the proxy may route every family to the account.
	Priority         int      `json:"priority"`
	Reserve          float64  `json:"reserve"`
	Families         []string `json:"families,omitempty"`
	DisabledForProxy bool     `json:"disabled_for_proxy"`
}

func infoOf(a store.Account, clients *Clients) AccountInfo {
	return AccountInfo{
		ID: a.ID, Label: a.Label, Email: a.Email, Tier: a.Tier, TierID: a.TierID,
		State: shownState(a), Reason: a.StateReason, Disabled: a.Disabled, ProjectID: a.ProjectID, AddedAt: a.AddedAt.UTC(),
		Client: clients.Describe(a.OAuthClientID), ClientID: a.OAuthClientID,
		Priority: a.Routing.Priority, Reserve: a.Routing.Reserve, Families: a.Routing.Families,
		DisabledForProxy: a.Routing.ProxyDisabled,
	}
}

// shownState is the state list shows: the user's "disabled" first, as
// the dashboard does.
func shownState(a store.Account) string {
	if a.Disabled {
		return "disabled"
	}
	return string(a.State)
}

// ListAccounts writes every account to w, as an aligned table or, with
// asJSON, as a JSON array of AccountInfo. Tokens are never written.
// clients names each account's OAuth client (nil: ids only).
func ListAccounts(ctx context.Context, st Store, w io.Writer, asJSON bool, clients *Clients) error {
	accts, err := st.Accounts(ctx)
	if err != nil {
		return fmt.Errorf("list accounts: %w", err)
	}
	infos := make([]AccountInfo, len(accts))
	for i, a := range accts {
		infos[i] = infoOf(a, clients)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(infos); err != nil {
			return fmt.Errorf("list accounts: %w", err)
		}
		return nil
	}
	if len(infos) == 0 {
		_, err := fmt.Fprintln(w, "No accounts yet: add one with `quotatui login`, `quotatui accounts add-token` or `quotatui accounts import`.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLABEL\tEMAIL\tTIER\tSTATE\tCLIENT\tPROJECT\tADDED\tROUTING")
	for i, a := range infos {
		state := a.State
		if a.Reason != "" {
			// The reason may span lines (a how-to); the table keeps one.
			first, _, _ := strings.Cut(a.Reason, "\n")
			state += " (" + first + ")"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, dash(a.Label), a.Email, dash(a.Tier),
			state, a.Client, dash(a.ProjectID), a.AddedAt.Format("2006-01-02"), RoutingText(accts[i].Routing))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("list accounts: %w", err)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// AddToken adds (or updates) the account a refresh token belongs to. The
// token is read from r (stdin: never argv, where other users can see it),
// verified with one refresh, and the email comes from userinfo.
func AddToken(ctx context.Context, st Store, v Verifier, r io.Reader, label string) (store.Account, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return store.Account{}, fmt.Errorf("add-token: read the refresh token: %w", err)
	}
	refresh := strings.TrimSpace(line)
	if refresh == "" {
		return store.Account{}, errors.New("add-token: no refresh token on standard input (pipe it in, e.g. `quotatui accounts add-token < token.txt`)")
	}
	access, expiry, err := v.Verify(ctx, "", refresh) // tokens pasted here are the default client's
	if err != nil {
		return store.Account{}, fmt.Errorf("add-token: %w", err)
	}
	email, err := v.Email(ctx, access)
	if err != nil {
		return store.Account{}, fmt.Errorf("add-token: %w", err)
	}
	stored, err := st.UpsertAccounts(ctx, []store.Account{{
		Email: email, Label: strings.TrimSpace(label),
		RefreshToken: refresh, AccessToken: access, AccessExpiry: expiry,
	}})
	if err != nil {
		return store.Account{}, fmt.Errorf("add-token: save %s: %w", email, err)
	}
	return stored[0], nil
}

// exportEntry is one account in an export. With secrets it is the plain
// list format Import reads back.
type exportEntry struct {
	AccountInfo
	RefreshToken string `json:"refresh_token,omitempty"`
}

// Export writes every account to w as a JSON array. Refresh tokens are
// included only with includeSecrets; the result can then be imported.
func Export(ctx context.Context, st Store, w io.Writer, includeSecrets bool) error {
	accts, err := st.Accounts(ctx)
	if err != nil {
		return fmt.Errorf("export accounts: %w", err)
	}
	out := make([]exportEntry, len(accts))
	for i, a := range accts {
		out[i].AccountInfo = infoOf(a, nil)
		if includeSecrets {
			out[i].RefreshToken = a.RefreshToken
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("export accounts: %w", err)
	}
	return nil
}

// ExportFile writes Export's output to path with mode 0600, atomically: a
// temporary file in the same directory renamed over path, so a crash never
// leaves half a file and an existing file's looser mode is not inherited.
func ExportFile(ctx context.Context, st Store, path string, includeSecrets bool) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("export to %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp already uses 0600; say so explicitly, it is the point.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("export to %s: %w", path, err)
	}
	bw := bufio.NewWriter(tmp)
	if err := Export(ctx, st, bw, includeSecrets); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export to %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("export to %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("export to %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("export to %s: %w", path, err)
	}
	return nil
}

// FindAccount resolves what a user typed (an id, an email or a label) to
// one account.
func FindAccount(ctx context.Context, st Store, ref string) (store.Account, error) {
	ref = strings.TrimSpace(ref)
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		a, err := st.Account(ctx, id)
		if err != nil {
			return store.Account{}, fmt.Errorf("account %s: %w", ref, err)
		}
		return a, nil
	}
	if strings.Contains(ref, "@") {
		a, err := st.AccountByEmail(ctx, ref)
		if err != nil {
			return store.Account{}, fmt.Errorf("account %s: %w", ref, err)
		}
		return a, nil
	}
	accts, err := st.Accounts(ctx)
	if err != nil {
		return store.Account{}, fmt.Errorf("account %s: %w", ref, err)
	}
	var found []store.Account
	for _, a := range accts {
		if strings.EqualFold(a.Label, ref) {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		return store.Account{}, fmt.Errorf("account %s: %w (give an id, an email or a label)", ref, store.ErrNotFound)
	case 1:
		return found[0], nil
	default:
		return store.Account{}, fmt.Errorf("account %s: label is ambiguous (%d accounts): use the id or the email", ref, len(found))
	}
}

// SetEnabled disables an account (quotatui stops using it) or enables it
// again; a running quotatui notices within a couple of seconds.
func SetEnabled(ctx context.Context, st Store, ref string, enabled bool, now time.Time) (store.Account, error) {
	a, err := FindAccount(ctx, st, ref)
	if err != nil {
		return store.Account{}, err
	}
	// The user's own column: what the engine learned about the account
	// (forbidden, needs login) stays as it is beside it.
	if err := st.SetDisabled(ctx, a.ID, !enabled, now); err != nil {
		return store.Account{}, fmt.Errorf("set state of %s: %w", a, err)
	}
	return st.Account(ctx, a.ID)
}

// SetLabel gives an account a label (empty clears it).
func SetLabel(ctx context.Context, st Store, ref, label string) (store.Account, error) {
	a, err := FindAccount(ctx, st, ref)
	if err != nil {
		return store.Account{}, err
	}
	if err := st.SetLabel(ctx, a.ID, strings.TrimSpace(label)); err != nil {
		return store.Account{}, fmt.Errorf("label %s: %w", a, err)
	}
	return st.Account(ctx, a.ID)
}

// ErrNotConfirmed is returned by RemoveAccount when the user did not
// answer yes.
var ErrNotConfirmed = errors.New("not confirmed: nothing was removed")

// RemoveAccount deletes an account with its history and events. Unless
// yes, it asks on out and reads the answer from in; only "y" or "yes"
// proceeds.
func RemoveAccount(ctx context.Context, st Store, ref string, in io.Reader, out io.Writer, yes bool) (store.Account, error) {
	a, err := FindAccount(ctx, st, ref)
	if err != nil {
		return store.Account{}, err
	}
	if !yes {
		fmt.Fprintf(out, "Remove %s (%s) with its quota history and events? [y/N] ", a, a.Email)
		answer := ""
		if in != nil {
			answer, _ = bufio.NewReader(in).ReadString('\n')
		}
		switch strings.ToLower(strings.TrimSpace(answer)) {
		case "y", "yes":
		default:
			return store.Account{}, fmt.Errorf("remove %s: %w", a, ErrNotConfirmed)
		}
	}
	if err := st.DeleteAccount(ctx, a.ID); err != nil {
		return store.Account{}, fmt.Errorf("remove %s: %w", a, err)
	}
	return a, nil
}
