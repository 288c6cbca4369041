package tui

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/quotatui/quotatui/internal/quota"
)

// Update routes a message to the state it changes. It does no I/O: work
// is returned as commands.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.clampScroll()
		cmd := m.startHistory()
		return m, cmd
	case tea.KeyPressMsg:
		return m.handleKey(msg)
	case quotasMsg:
		m.setAccounts(msg.statuses)
		cmds := []tea.Cmd{m.startHistory()}
		if msg.fromFeed {
			cmds = append(cmds, m.waitFeed())
		}
		return m, tea.Batch(cmds...)
	case eventsMsg:
		m.addWarnings(msg.events)
		m.dropped = msg.dropped
		return m, m.waitFeed()
	case statsMsg:
		m.applyStats(msg)
		usageCmd := m.startUsage(false) // before m is returned: it marks the read
		return m, tea.Batch(m.tick(), usageCmd)
	case historyMsg:
		m.histBusy = false
		for id, h := range msg.data {
			m.history[id] = h
		}
		cmd := m.startHistory()
		return m, cmd
	case usageMsg:
		m.applyUsage(msg)
		return m, nil
	case detailEventsMsg:
		if msg.accountID == m.detailID {
			m.detailEvts = msg.events
			m.standings, m.standingsFor = msg.standings, msg.accountID
			m.detailErr = ""
			if msg.err != nil {
				m.detailErr = msg.err.Error()
			}
		}
		return m, nil
	case actionMsg:
		return m.finishAction(msg)
	case spinner.TickMsg:
		if !m.busy() {
			return m, nil // let the spinner stop: its tick is not re-armed
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	}
	return m, nil
}

// applyStats takes the tick's counters and derives the request rate from
// the change of the request count since the previous tick.
func (m *Model) applyStats(msg statsMsg) {
	m.now = msg.now
	m.mon = msg.mon
	if m.detail && msg.standingsFor != 0 && msg.standingsFor == m.detailID {
		m.standings, m.standingsFor, m.stood = msg.standings, msg.standingsFor, msg.stood
	}
	if !msg.hasProxy {
		return
	}
	at := msg.now
	if !msg.wall.IsZero() {
		at = msg.wall // requests per real second, whatever the clock's speed
	}
	if dt := at.Sub(m.prevAt); dt > 0 && msg.pstats.Requests >= m.prevReq {
		m.rps = float64(msg.pstats.Requests-m.prevReq) / dt.Seconds()
		m.haveRate = true
	}
	routed := m.pstats.RoutedTo
	m.pstats = msg.pstats
	if msg.pstats.RoutedTo == nil {
		m.pstats.RoutedTo = routed // nothing moved: the last ranking holds
	} else {
		m.ranked = msg.ranked
	}
	m.prevReq, m.prevAt = msg.pstats.Requests, at
}

// busy reports whether any action is running.
func (m *Model) busy() bool {
	for _, r := range m.running {
		if r {
			return true
		}
	}
	return false
}

// start marks act running and returns its command with the spinner's, or
// only a note when it already runs, so a second press never starts it
// twice.
func (m *Model) start(act action, id int64, label string) tea.Cmd {
	if m.running[act] {
		m.status, m.statErr = "already "+act.running(), false
		return nil
	}
	wasBusy := m.busy()
	m.running[act] = true
	m.status, m.statErr = "", false
	cmd := m.actionCmd(act, id, label)
	if !wasBusy {
		return tea.Batch(cmd, m.spin.Tick)
	}
	return cmd
}

// finishAction shows an action's result and applies what it returned.
func (m Model) finishAction(msg actionMsg) (tea.Model, tea.Cmd) {
	m.running[msg.act] = false
	m.statusAt = msg.at
	if msg.err != nil {
		m.status, m.statErr = msg.err.Error(), true
	} else {
		m.status, m.statErr = msg.text, false
	}
	if msg.paused != nil {
		m.pstats.Paused = *msg.paused
	}
	var cmd tea.Cmd
	if msg.statuses != nil {
		m.setAccounts(msg.statuses)
		cmd = m.startHistory()
	}
	return m, cmd
}

// handleKey maps a key press to its action for the current screen.
func (m Model) handleKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	if msg.String() == "ctrl+c" {
		return m, tea.Quit
	}
	if m.filtering {
		return m.handleFilterKey(msg)
	}
	if key.Matches(msg, k.Quit) {
		return m, tea.Quit
	}
	switch m.page() {
	case pageHelp:
		switch {
		case key.Matches(msg, k.Help, k.Back):
			m.showHelp = false
		default:
			m.scrollBy(pageHelp, msg)
		}
		return m, nil
	case pageLog:
		switch {
		case key.Matches(msg, k.Help):
			m.openHelp()
		case key.Matches(msg, k.Back, k.Enter):
			m.logView = false
		default:
			m.scrollBy(pageLog, msg)
		}
		return m, nil
	case pageUsage:
		switch {
		case key.Matches(msg, k.Help):
			m.openHelp()
		case key.Matches(msg, k.Back, k.Usage):
			m.usage.open = false
			cmd := m.startUsage(true) // the detail under it, if open
			return m, cmd
		default:
			m.scrollBy(pageUsage, msg)
		}
		return m, nil
	case pageDetail:
		if m.scrollBy(pageDetail, msg) {
			return m, nil
		}
	}
	switch {
	case key.Matches(msg, k.Help):
		m.openHelp()
	case key.Matches(msg, k.Usage):
		m.usage.open = true
		m.scroll[pageUsage] = 0
		cmd := m.startUsage(true)
		return m, cmd
	case key.Matches(msg, k.Back):
		switch {
		case m.detail:
			m.detail = false
		case m.filter.Value() != "":
			m.filter.SetValue("")
			m.rebuildRows()
		}
	case key.Matches(msg, k.Enter):
		switch {
		case m.detail: // already open
		case m.focus == focusLog && len(m.warnings) > 0:
			// The warning the focused log starts at, in full, with the
			// rest of the log around it.
			m.logView = true
			m.scroll[pageLog] = 0
			if m.logOffset > 0 {
				m.scroll[pageLog] = m.logLineOf(m.vc(), m.logOffset)
			}
		case len(m.rows) > 0:
			m.detail, m.detailID = true, m.selected
			m.scroll[pageDetail] = 0
			m.detailEvts, m.detailErr = nil, ""
			m.standings, m.standingsFor, m.stood = nil, 0, ranking{}
			usageCmd := m.startUsage(true)
			return m, tea.Batch(m.fetchDetailEvents(m.detailID), m.startHistory(), usageCmd)
		}
	case key.Matches(msg, k.Tab):
		if m.focus == focusTable {
			m.focus = focusLog
		} else {
			m.focus = focusTable
		}
	case key.Matches(msg, k.Filter):
		m.filtering = true
	case key.Matches(msg, k.Sort):
		m.sortBy = (m.sortBy + 1) % numSortModes
		m.rebuildRows()
	case key.Matches(msg, k.Up):
		m.move(-1)
	case key.Matches(msg, k.Down):
		m.move(1)
	case key.Matches(msg, k.PageUp):
		m.move(-max(m.tableRows()-1, 1))
	case key.Matches(msg, k.PageDown):
		m.move(max(m.tableRows()-1, 1))
	case key.Matches(msg, k.Top):
		m.move(-len(m.rows) - len(m.warnings))
	case key.Matches(msg, k.Bottom):
		m.move(len(m.rows) + len(m.warnings))
	case key.Matches(msg, k.Resync):
		id := m.selected
		if m.detail {
			id = m.detailID
		}
		s := m.account(id)
		if s == nil {
			m.status, m.statErr = "no account selected", true
			return m, nil
		}
		cmd := m.start(actResync, id, s.Label)
		return m, cmd
	case key.Matches(msg, k.ResyncAll):
		cmd := m.start(actResyncAll, 0, "")
		return m, cmd
	case key.Matches(msg, k.ClearCache):
		cmd := m.start(actClearCache, 0, "")
		return m, cmd
	case key.Matches(msg, k.ClearTiers):
		cmd := m.start(actClearTiers, 0, "")
		return m, cmd
	case key.Matches(msg, k.Pause):
		if m.deps.Proxy == nil {
			m.status, m.statErr = "no proxy running", true
			return m, nil
		}
		cmd := m.start(actPause, 0, "")
		return m, cmd
	}
	// Scrolling, sorting or opening an account may bring rows on screen
	// whose history was never fetched.
	cmd := m.startHistory()
	return m, cmd
}

// openHelp shows the help from its top.
func (m *Model) openHelp() {
	m.showHelp = true
	m.scroll[pageHelp] = 0
}

// scrollBy moves a scrolling screen for a movement key and reports
// whether the key was one. The offset stops where the last line shows, so
// going back up answers at once however far down was pressed.
func (m *Model) scrollBy(sc page, msg tea.KeyPressMsg) bool {
	k := m.keys
	h := m.bodyHeight()
	page := max(h-2, 1)
	var delta int
	switch {
	case key.Matches(msg, k.Up):
		delta = -1
	case key.Matches(msg, k.Down):
		delta = 1
	case key.Matches(msg, k.PageUp):
		delta = -page
	case key.Matches(msg, k.PageDown):
		delta = page
	case key.Matches(msg, k.Top):
		delta = -1 << 30
	case key.Matches(msg, k.Bottom):
		delta = 1 << 30
	default:
		return false
	}
	m.scroll[sc] = min(max(m.scroll[sc]+delta, 0), maxScroll(m.pageLines(sc), h))
	return true
}

// pageLines is how many lines a scrolling screen's content has now.
func (m *Model) pageLines(sc page) int {
	vc := m.vc()
	switch sc {
	case pageHelp:
		return len(m.helpContent(vc))
	case pageLog:
		return len(m.logContent(vc))
	case pageDetail:
		return len(m.detailContent(vc, m.bodyHeight()))
	case pageUsage:
		return len(m.usageContent(vc))
	}
	return 0
}

// handleFilterKey edits the filter: enter keeps it, esc clears it.
func (m Model) handleFilterKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch msg.String() {
	case "enter":
		m.filtering = false
		return m, nil
	case "esc":
		m.filtering = false
		m.filter.SetValue("")
		m.rebuildRows()
		return m, nil
	}
	if m.filter.Update(msg) {
		m.rebuildRows()
	}
	cmd := m.startHistory()
	return m, cmd
}

// move moves the focused list by delta.
func (m *Model) move(delta int) {
	if m.focus == focusLog {
		m.logOffset = min(max(m.logOffset+delta, 0), max(len(m.warnings)-1, 0))
		return
	}
	if len(m.rows) == 0 || m.detail {
		return
	}
	m.cursor = min(max(m.cursor+delta, 0), len(m.rows)-1)
	m.selected = m.accounts[m.rows[m.cursor]].AccountID
	m.pinned = true
	m.clampScroll()
}

// clampScroll keeps the cursor's row on screen.
func (m *Model) clampScroll() {
	n := m.tableRows()
	if n <= 0 {
		return
	}
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+n {
		m.offset = m.cursor - n + 1
	}
	m.offset = min(max(m.offset, 0), max(len(m.rows)-n, 0))
}

// account returns the latest status of an account, nil if gone.
func (m *Model) account(id int64) *quota.Status {
	for i := range m.accounts {
		if m.accounts[i].AccountID == id {
			return &m.accounts[i]
		}
	}
	return nil
}

// setAccounts takes a new snapshot and rebuilds the table's rows.
func (m *Model) setAccounts(s []quota.Status) {
	m.accounts = s
	m.snap = m.cache.snapshot()
	m.rebuildRows()
}

// addWarnings prepends the events worth a warning line, newest first, and
// keeps the log bounded. It builds a new slice: earlier copies of the
// model keep theirs.
func (m *Model) addWarnings(evs []quota.Event) {
	var fresh []quota.Event
	for i := len(evs) - 1; i >= 0; i-- { // evs come oldest first
		if isWarning(evs[i].Kind) {
			fresh = append(fresh, evs[i])
		}
	}
	if len(fresh) == 0 {
		return
	}
	if m.logOffset > 0 {
		m.logOffset += len(fresh) // keep the line the user is reading in place
	}
	m.warnings = append(fresh, m.warnings[:min(len(m.warnings), max(maxWarnings-len(fresh), 0))]...)
	if len(m.warnings) > maxWarnings {
		m.warnings = m.warnings[:maxWarnings]
	}
	m.logOffset = min(m.logOffset, max(len(m.warnings)-1, 0))
}

// isWarning tells the events the warnings log shows.
func isWarning(k quota.EventKind) bool {
	switch k {
	case quota.EventLowQuota, quota.EventExhausted, quota.EventRecovered, quota.EventSwitch,
		quota.EventAccountError, quota.EventAccountDisabled, quota.EventTierChanged:
		return true
	}
	return false
}

// rebuildRows filters and sorts the accounts and puts the cursor back on
// the selected account.
func (m *Model) rebuildRows() {
	q := strings.ToLower(strings.TrimSpace(m.filter.Value()))
	m.rows = make([]int, 0, len(m.accounts)) // fresh: earlier model copies keep theirs
	for i := range m.accounts {
		s := &m.accounts[i]
		if q != "" && !strings.Contains(strings.ToLower(s.Label), q) && !strings.Contains(strings.ToLower(s.Email), q) {
			continue
		}
		m.rows = append(m.rows, i)
	}
	keys := make([]sortKey, len(m.accounts))
	for _, i := range m.rows {
		keys[i] = makeSortKey(&m.accounts[i])
	}
	by := m.sortBy
	slices.SortStableFunc(m.rows, func(a, b int) int {
		return compareRows(by, &keys[a], &keys[b])
	})
	m.cursor = 0
	for i, r := range m.rows {
		if m.pinned && m.accounts[r].AccountID == m.selected {
			m.cursor = i
			break
		}
	}
	if len(m.rows) > 0 {
		m.selected = m.accounts[m.rows[m.cursor]].AccountID
	}
	m.clampScroll()
}

// sortKey holds what the sorts compare, computed once per rebuild.
type sortKey struct {
	sev   Severity
	worst float64 // lowest known effective fraction, 2 when none known
	name  string
	tier  int
	reset time.Time
	id    int64
}

func makeSortKey(s *quota.Status) sortKey {
	k := sortKey{sev: severity(s), worst: 2, name: strings.ToLower(displayName(s)), tier: int(s.Tier), reset: nextReset(s), id: s.AccountID}
	for i := range s.Families {
		if e := s.Families[i].Effective; e.Known && e.Value < k.worst {
			k.worst = e.Value
		}
	}
	return k
}

// compareRows orders two rows for a sort mode; every mode ends on the
// name and the id so the order is total and stable between frames.
func compareRows(by sortMode, a, b *sortKey) int {
	var c int
	switch by {
	case sortWorst:
		c = cmp.Or(cmp.Compare(b.sev.rank(), a.sev.rank()), cmp.Compare(a.worst, b.worst))
	case sortTier:
		c = cmp.Compare(b.tier, a.tier)
	case sortReset:
		switch {
		case a.reset.IsZero() && !b.reset.IsZero():
			c = 1
		case !a.reset.IsZero() && b.reset.IsZero():
			c = -1
		default:
			c = a.reset.Compare(b.reset)
		}
	}
	return cmp.Or(c, strings.Compare(a.name, b.name), cmp.Compare(a.id, b.id))
}

// displayName is the account's label, else its email.
func displayName(s *quota.Status) string {
	if s.Label != "" {
		return s.Label
	}
	return s.Email
}

// nextReset is the soonest reset of the account's bottleneck buckets.
func nextReset(s *quota.Status) time.Time {
	var t time.Time
	for i := range s.Families {
		r := s.Families[i].ResetTime
		if !r.IsZero() && (t.IsZero() || r.Before(t)) {
			t = r
		}
	}
	return t
}
