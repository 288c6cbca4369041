package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key the dashboard answers, and the source of its help.
type KeyMap struct {
	Up, Down, PageUp, PageDown key.Binding
	Top, Bottom                key.Binding
	Enter, Back, Tab           key.Binding
	Filter, Sort               key.Binding
	Resync, ResyncAll          key.Binding
	ClearCache, ClearTiers     key.Binding
	Pause, Help, Quit          key.Binding
	Usage                      key.Binding
}

// DefaultKeyMap returns the dashboard's keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:         key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:       key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:     key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "page up")),
		PageDown:   key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "page down")),
		Top:        key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g/home", "top")),
		Bottom:     key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G/end", "bottom")),
		Enter:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open detail/warning")),
		Back:       key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Tab:        key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "table ↔ warnings")),
		Filter:     key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Sort:       key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
		Resync:     key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "resync")),
		ResyncAll:  key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "resync all")),
		ClearCache: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "clear cache")),
		ClearTiers: key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "clear tiers")),
		Pause:      key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause proxy")),
		Usage:      key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "usage")),
		Help:       key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:       key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp returns the main view's keys (help.KeyMap).
func (k KeyMap) ShortHelp() []key.Binding {
	hs := k.mainHints(false)
	out := make([]key.Binding, len(hs))
	for i, h := range hs {
		out[i] = h.b
	}
	return out
}

// FullHelp returns the bindings of the help overlay, by column (help.KeyMap).
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Enter, k.Back, k.Tab, k.Filter, k.Sort, k.Usage},
		{k.Resync, k.ResyncAll, k.ClearCache, k.ClearTiers, k.Pause, k.Help, k.Quit},
	}
}

// hint is one key in the footer. keep orders what stays when the width
// runs short: 0 always stays, and the highest goes first. desc, when set,
// is a shorter text than the binding's help.
type hint struct {
	b    key.Binding
	keep int
	desc string
}

// scrollHint stands for the movement keys in footers.
var scrollHint = key.NewBinding(key.WithHelp("↑↓", "scroll"))

// mainHints are the main view's footer keys; with the warnings focused,
// the keys that act on them.
func (k KeyMap) mainHints(logFocused bool) []hint {
	if logFocused {
		return []hint{
			{b: k.Tab, keep: 2, desc: "table"}, {b: scrollHint, keep: 3},
			{b: k.Enter, keep: 1, desc: "read in full"}, {b: k.Help}, {b: k.Quit},
		}
	}
	return []hint{
		{b: k.Help}, {b: k.Resync, keep: 4}, {b: k.Enter, keep: 1, desc: "detail"}, {b: k.Filter, keep: 3},
		{b: k.Sort, keep: 5}, {b: k.Pause, keep: 2}, {b: k.Tab, keep: 6, desc: "warnings"}, {b: k.Usage, keep: 7}, {b: k.Quit},
	}
}

// detailHints are the detail view's footer keys.
func (k KeyMap) detailHints() []hint {
	return []hint{{b: k.Back}, {b: scrollHint, keep: 2}, {b: k.Resync, keep: 3}, {b: k.Usage, keep: 4}, {b: k.Help, keep: 1}, {b: k.Quit}}
}

// pagerHints are the footer keys of the help and the warnings log.
func (k KeyMap) pagerHints() []hint {
	return []hint{{b: k.Back}, {b: scrollHint, keep: 1}, {b: k.Quit}}
}
