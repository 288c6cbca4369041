package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key the dashboard answers, and the source of its help.
type KeyMap struct {
	Up, Down, PageUp, PageDown key.Binding
	Enter, Back, Tab           key.Binding
	Filter, Sort               key.Binding
	Resync, ResyncAll          key.Binding
	ClearCache, ClearTiers     key.Binding
	Pause, Help, Quit          key.Binding
}

// DefaultKeyMap returns the dashboard's keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:         key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:       key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:     key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "page up")),
		PageDown:   key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "page down")),
		Enter:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "detail")),
		Back:       key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Tab:        key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "focus")),
		Filter:     key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Sort:       key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
		Resync:     key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "resync")),
		ResyncAll:  key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "resync all")),
		ClearCache: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "clear cache")),
		ClearTiers: key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "clear tiers")),
		Pause:      key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause proxy")),
		Help:       key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:       key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp returns the bindings of the one-line help (help.KeyMap).
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Help, k.Resync, k.Enter, k.Filter, k.Sort, k.Pause, k.Quit}
}

// DetailHelp returns the bindings of the one-line help in the detail view.
func (k KeyMap) DetailHelp() []key.Binding {
	return []key.Binding{k.Back, k.Resync, k.Help, k.Quit}
}

// FullHelp returns the bindings of the help overlay, by column (help.KeyMap).
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Enter, k.Back, k.Tab},
		{k.Filter, k.Sort, k.Resync, k.ResyncAll},
		{k.ClearCache, k.ClearTiers, k.Pause, k.Help, k.Quit},
	}
}
