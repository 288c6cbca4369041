package quota

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
)

// other opens a second handle on the env's database, as another process
// (the CLI, another serve) does.
func (e *env) other(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), e.st.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// runMonitor starts the monitor and stops it at the end of the test.
func (e *env) runMonitor(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.m.StartMonitor(ctx, time.Hour) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitFor(t, "the first round", func() bool { return e.m.MonitorStats().SyncsRun >= 1 })
}

// within polls cond until it holds, failing after d: the engine must
// notice another process's change within 2 s.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A running engine notices accounts another process disabled, removed or
// added, within 2 s.
func TestReloadSeesAnotherProcess(t *testing.T) {
	e := newEnv(t, cloudcodetest.Options{}, Options{},
		cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "b@example.com", TierID: "g1-pro-tier"})
	e.runMonitor(t)
	cli := e.other(t)
	ctx := context.Background()
	a, b := e.id("a@example.com"), e.id("b@example.com")

	if err := cli.SetDisabled(ctx, a, true, t0); err != nil {
		t.Fatal(err)
	}
	within(t, 2*time.Second, "a disabled by another process", func() bool {
		c, _ := e.m.CheckQuota(ctx, a, "gemini-3-flash")
		return !c.Usable && c.Reason == ReasonDisabled
	})
	if err := cli.DeleteAccount(ctx, b); err != nil {
		t.Fatal(err)
	}
	within(t, 2*time.Second, "b removed by another process", func() bool {
		_, ok := e.m.Account(b)
		return !ok
	})
	sa := e.srv.AddAccount(cloudcodetest.AccountSpec{Email: "c@example.com", TierID: "g1-ultra-tier"})
	rows, err := cli.UpsertAccounts(ctx, []store.Account{{Email: sa.Email, RefreshToken: sa.RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	within(t, 2*time.Second, "c added by another process", func() bool {
		_, ok := e.m.Account(rows[0].ID)
		return ok
	})
	if err := cli.SetDisabled(ctx, a, false, t0); err != nil {
		t.Fatal(err)
	}
	within(t, 2*time.Second, "a enabled again", func() bool {
		st, _ := e.m.Account(a)
		return st.State == StateActive && !st.Disabled
	})
}

// The user's choice and the engine's state live in separate columns: a
// sync that sees a forbidden account answer again makes it active, but
// never writes over the user's "disabled".
func TestEngineNeverOverwritesDisabled(t *testing.T) {
	const email = "both@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	ctx := context.Background()
	id := e.id(email)
	v := Judge(&cloudcode.ForbiddenError{Status: 403, Reason: "SERVICE_DISABLED", Message: "m"}, CallGeneration, t0)
	if err := e.m.Apply(ctx, id, cloudcode.FamilyGemini, v, t0); err != nil {
		t.Fatal(err)
	}
	// The user disables it from the CLI while the engine runs; the
	// engine's write of its own state must not undo that.
	if err := e.other(t).SetDisabled(ctx, id, true, t0); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Apply(ctx, id, cloudcode.FamilyGemini, Judge(nil, CallGeneration, t0), t0); err != nil {
		t.Fatal(err)
	}
	if err := e.m.MarkForbidden(ctx, id, StateActive, "", ""); err != nil {
		t.Fatal(err)
	}
	row, err := e.st.Account(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !row.Disabled || row.State != store.StateActive {
		t.Errorf("stored disabled=%v state=%s; want the user's disabled kept beside the engine's active", row.Disabled, row.State)
	}
	if err := e.m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.m.Account(id); st.State != StateDisabled || !st.Disabled || st.EngineState != StateActive {
		t.Errorf("status state %s disabled %v engine %s", st.State, st.Disabled, st.EngineState)
	}
	_ = filepath.Join
}
