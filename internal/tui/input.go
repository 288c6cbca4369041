package tui

import (
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
)

// lineInput is the filter's one-line editor. bubbles' textinput would do,
// but it pulls in a clipboard module this build does not carry; the filter
// only needs typing, backspace and clear.
type lineInput struct {
	value []rune
	limit int
}

// Value returns the text typed so far.
func (in *lineInput) Value() string { return string(in.value) }

// SetValue replaces the text.
func (in *lineInput) SetValue(s string) { in.value = []rune(s) }

// Update applies a key press and reports whether the text changed.
func (in *lineInput) Update(msg tea.KeyPressMsg) bool {
	switch msg.String() {
	case "backspace", "ctrl+h":
		if len(in.value) == 0 {
			return false
		}
		in.value = in.value[:len(in.value)-1]
		return true
	case "ctrl+u", "ctrl+w":
		changed := len(in.value) > 0
		in.value = in.value[:0]
		return changed
	}
	if msg.Text == "" || msg.Mod&(tea.ModCtrl|tea.ModAlt) != 0 {
		return false
	}
	if in.limit > 0 && len(in.value)+utf8.RuneCountInString(msg.Text) > in.limit {
		return false
	}
	in.value = append(in.value, []rune(msg.Text)...)
	return true
}
