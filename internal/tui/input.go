package tui

import (
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
)

// lineInput is the filter's one-line editor. bubbles' textinput would do,
// but it pulls in a clipboard module this build does not carry; the filter
// only needs typing, backspace and clear. The text is a string so copies
// of the model never share it.
type lineInput struct {
	value string
	limit int // in runes; 0 is no limit
}

// Value returns the text typed so far.
func (in *lineInput) Value() string { return in.value }

// SetValue replaces the text.
func (in *lineInput) SetValue(s string) { in.value = s }

// Update applies a key press and reports whether the text changed.
func (in *lineInput) Update(msg tea.KeyPressMsg) bool {
	switch msg.String() {
	case "backspace", "ctrl+h":
		if in.value == "" {
			return false
		}
		_, n := utf8.DecodeLastRuneInString(in.value)
		in.value = in.value[:len(in.value)-n]
		return true
	case "ctrl+u", "ctrl+w":
		changed := in.value != ""
		in.value = ""
		return changed
	}
	if msg.Text == "" || msg.Mod&(tea.ModCtrl|tea.ModAlt) != 0 {
		return false
	}
	if in.limit > 0 && utf8.RuneCountInString(in.value)+utf8.RuneCountInString(msg.Text) > in.limit {
		return false
	}
	in.value += msg.Text
	return true
}
