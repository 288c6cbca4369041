package config

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// ConfigEnv names the environment variable that points at the config file.
const ConfigEnv = "QUOTATUI_CONFIG"

// Layer is where a setting's value came from.
type Layer uint8

// The layers, from weakest to strongest.
const (
	LayerDefault Layer = iota
	LayerFile
	LayerEnv
	LayerFlag
)

// Source says where one value came from: the layer and, for the file, env
// and flag layers, the file's path, the variable or the flag.
type Source struct {
	Layer Layer
	Name  string // file path, "QUOTATUI_X" or "--x"; "" for the default
}

// String returns "default", "file <path>", "env QUOTATUI_X" or "flag --x".
func (s Source) String() string {
	switch s.Layer {
	case LayerFile:
		return "file " + s.Name
	case LayerEnv:
		return "env " + s.Name
	case LayerFlag:
		return "flag " + s.Name
	default:
		return "default"
	}
}

// Sources records where each setting's value came from, and which config
// file was read.
type Sources struct {
	// File is the config file path that was looked at; FileFound says
	// whether it existed. FileFrom says what chose the path.
	File      string
	FileFound bool
	FileFrom  Source
	keys      map[string]Source
}

// Of returns where key's value came from (the default when Load did not
// record it).
func (s Sources) Of(key string) Source {
	return s.keys[key]
}

func (s *Sources) set(key string, src Source) {
	if s.keys == nil {
		s.keys = make(map[string]Source, len(settings))
	}
	s.keys[key] = src
}

// Flags holds the flags Register added, until Load or Resolve reads them.
type Flags struct {
	config *flagValue
	values map[string]*flagValue // by key
}

// flagValue is a flag.Value that keeps the text it was given; Load parses
// it with the same code as the environment, so both accept the same forms.
// given records that the flag was set, whichever parser set it (the
// standard library's, or pflag's through AddGoFlagSet).
type flagValue struct {
	text   string
	isBool bool
	given  bool
}

func (v *flagValue) String() string {
	if v == nil {
		return ""
	}
	return v.text
}

func (v *flagValue) Set(s string) error { v.text, v.given = s, true; return nil }

// IsBoolFlag lets a boolean setting be given as a bare --flag.
func (v *flagValue) IsBoolFlag() bool { return v.isBool }

// Register adds one flag per setting to fs (the key with dots and
// underscores as dashes: --db, --proxy-listen, --quota-low-threshold, ...)
// plus --config PATH. The returned Flags are read by Load.
func Register(fs *flag.FlagSet) *Flags {
	f := &Flags{
		config: &flagValue{},
		values: make(map[string]*flagValue, len(settings)),
	}
	fs.Var(f.config, "config", "config file (default $"+ConfigEnv+", else <user config dir>/quotatui/config.toml)")
	info := Keys()
	for i, s := range settings {
		v := &flagValue{isBool: s.kind == kindBool}
		usage := info[i].Description
		if !info[i].Secret && info[i].Default != "" && info[i].Default != `""` {
			// flag prints the value's initial text as the default; keep
			// it empty so Load can tell a flag that was not given, and put
			// the default in the usage line instead.
			usage += " (default " + info[i].Default + ")"
		}
		fs.Var(v, FlagName(s.key), usage)
		f.values[s.key] = v
	}
	return f
}

// FilePath returns the config file to read: $QUOTATUI_CONFIG when set,
// else <user config dir>/quotatui/config.toml.
func FilePath(getenv func(string) string) (string, error) {
	if p := getenv(ConfigEnv); p != "" {
		return p, nil
	}
	dir, err := userConfigDir(getenv)
	if err != nil {
		return "", fmt.Errorf("config file: %w", err)
	}
	return filepath.Join(dir, "quotatui", "config.toml"), nil
}

// userConfigDir is os.UserConfigDir reading the environment through
// getenv, so tests can give Load a fake home.
func userConfigDir(getenv func(string) string) (string, error) {
	switch runtime.GOOS {
	case "windows":
		if d := getenv("AppData"); d != "" {
			return d, nil
		}
		return "", errors.New("%AppData% is not set")
	case "darwin", "ios":
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, "Library", "Application Support"), nil
		}
		return "", errors.New("$HOME is not set")
	}
	if d := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
		return d, nil
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config"), nil
	}
	return "", errors.New("neither $XDG_CONFIG_HOME nor $HOME is set")
}

// Load parses args with fs (which must have had Register called to make
// flags) and builds the configuration with precedence flag > env > file >
// default. getenv is os.Getenv outside tests. A missing config file at the
// default path is fine; one named by --config or $QUOTATUI_CONFIG must
// exist. The returned error joins every problem found: unreadable or
// corrupt file, unknown keys, unparsable values, and everything Validate
// reports. The Config and Sources are returned even with an error, so a
// caller such as `quotatui config` can still show them.
func Load(fs *flag.FlagSet, flags *Flags, args []string, getenv func(string) string) (Config, Sources, error) {
	if err := fs.Parse(args); err != nil {
		return defaults(getenv), Sources{}, fmt.Errorf("parse flags: %w", err)
	}
	return Resolve(flags, getenv)
}

// Resolve is Load for flags that were already parsed, by any parser that
// calls the flags' Set (a command-line library that adopts the standard
// library's flags, for one): it builds the configuration from the flags
// that were given, the environment, the config file and the defaults.
func Resolve(flags *Flags, getenv func(string) string) (Config, Sources, error) {
	cfg := defaults(getenv)
	var src Sources
	var errs []error

	src.FileFrom = Source{Layer: LayerDefault}
	switch {
	case flags.config.text != "":
		src.File, src.FileFrom = flags.config.text, Source{LayerFlag, "--config"}
	case getenv(ConfigEnv) != "":
		src.File, src.FileFrom = getenv(ConfigEnv), Source{LayerEnv, ConfigEnv}
	default:
		p, err := FilePath(getenv)
		if err != nil {
			errs = append(errs, err)
		}
		src.File = p
	}
	if src.File != "" {
		found, err := loadFile(&cfg, &src, src.File)
		src.FileFound = found
		switch {
		case err != nil:
			errs = append(errs, err)
		case !found && src.FileFrom.Layer != LayerDefault:
			errs = append(errs, fmt.Errorf("config file %s (from %s) does not exist", src.File, src.FileFrom))
		}
	}

	for _, s := range settings {
		name := EnvName(s.key)
		if text := getenv(name); text != "" {
			errs = append(errs, apply(&cfg, &src, s, text, Source{LayerEnv, name}))
		}
	}
	for _, s := range settings {
		if v := flags.values[s.key]; v.given {
			errs = append(errs, apply(&cfg, &src, s, v.text, Source{LayerFlag, "--" + FlagName(s.key)}))
		}
	}

	cfg.sources = &src
	if err := errors.Join(errs...); err != nil {
		return cfg, src, err
	}
	return cfg, src, cfg.Validate()
}

// apply sets one setting from env or flag text.
func apply(cfg *Config, src *Sources, s setting, text string, from Source) error {
	v, err := s.parse(text)
	if err != nil {
		return &SettingError{Key: s.key, Value: fmt.Sprintf("%q", text), Problem: err.Error(), Source: from}
	}
	s.field(cfg).Set(v)
	src.set(s.key, from)
	return nil
}

// fileLeaf receives one setting's value from the TOML decoder. Errors it
// returns come back from toml with the key and its line number.
type fileLeaf struct {
	s      setting
	target reflect.Value
	set    bool
}

// UnmarshalTOML implements toml.Unmarshaler.
func (l *fileLeaf) UnmarshalTOML(v any) error {
	val, err := l.s.fromTOML(v)
	if err != nil {
		return err
	}
	l.target.Set(val)
	l.set = true
	return nil
}

// fileShape returns a struct type shaped like Config, with the same toml
// tags, whose leaves are *fileLeaf. Decoding into it lets the toml package
// report positions for bad values and list undecoded (unknown) keys, while
// the values go through the same parsing as env and flags.
func fileShape(t reflect.Type) reflect.Type {
	var fields []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		typ := reflect.TypeFor[*fileLeaf]()
		if f.Type.Kind() == reflect.Struct {
			typ = fileShape(f.Type)
		}
		fields = append(fields, reflect.StructField{Name: f.Name, Type: typ, Tag: f.Tag})
	}
	return reflect.StructOf(fields)
}

// loadFile reads path into cfg. A missing file reports found == false and
// no error.
func loadFile(cfg *Config, src *Sources, path string) (found bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read config file: %w", err)
	}
	// A first pass into a plain map catches syntax errors and tables
	// written as values ("proxy = 1"), which the typed pass below would
	// report in terms of its internal struct type.
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return true, fileError(path, err)
	}
	var errs []error
	for _, table := range tables() {
		if v, ok := raw[table]; ok {
			if _, isTable := v.(map[string]any); !isTable {
				errs = append(errs, fmt.Errorf("config file %s, line %d: %s: want a table ([%s]), got %s",
					path, keyLine(string(data), toml.Key{table}), table, table, tomlType(v)))
			}
		}
	}
	if len(errs) > 0 {
		return true, errors.Join(errs...)
	}

	clients, err := loadClients(path, string(data), raw)
	if err != nil {
		return true, err
	}
	cfg.OAuth.Clients = clients

	shape := reflect.New(fileShape(reflect.TypeFor[Config]())).Elem()
	leaves := make([]*fileLeaf, len(settings))
	for i, s := range settings {
		leaves[i] = &fileLeaf{s: s, target: s.field(cfg)}
		shape.FieldByIndex(s.index).Set(reflect.ValueOf(leaves[i]))
	}
	md, err := toml.Decode(string(data), shape.Addr().Interface())
	if err != nil {
		return true, fileError(path, err)
	}
	for i, l := range leaves {
		if l.set {
			src.set(settings[i].key, Source{LayerFile, path})
		}
	}
	return true, unknownKeys(path, string(data), withoutClients(md.Undecoded()))
}

// fileError names the file, the line and the key of a decoding error.
func fileError(path string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.LastKey != "" {
			msg = pe.LastKey + ": " + msg
		}
		return fmt.Errorf("config file %s, line %d: %s", path, pe.Position.Line, msg)
	}
	return fmt.Errorf("config file %s: %w", path, err)
}

// tables lists the top-level keys that are tables ("proxy", "quota", ...).
func tables() []string {
	var out []string
	for _, s := range settings {
		if t, _, ok := strings.Cut(s.key, "."); ok && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// unknownKeys turns the keys the decoder did not use into one error per
// key, naming its line and the nearest known key, since most are typos.
func unknownKeys(path, data string, undecoded []toml.Key) error {
	unknown := map[string]bool{}
	for _, k := range undecoded {
		unknown[k.String()] = true
	}
	var errs []error
	for _, k := range undecoded {
		// Report an unknown table once, not once per key inside it.
		if len(k) > 1 && unknown[k[:len(k)-1].String()] {
			continue
		}
		msg := fmt.Sprintf("config file %s", path)
		if line := keyLine(data, k); line > 0 {
			msg += fmt.Sprintf(", line %d", line)
		}
		msg += fmt.Sprintf(": unknown key %s", k)
		if near := nearestKey(k.String()); near != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", near)
		}
		errs = append(errs, errors.New(msg))
	}
	return errors.Join(errs...)
}

// keyLine finds the line where key is defined, following [table] headers.
// It is a plain scan, enough for the files people write by hand; 0 means
// not found.
func keyLine(data string, key toml.Key) int {
	want := key.String()
	table := ""
	for i, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "["):
			table = normKey(strings.Trim(strings.SplitN(line, "#", 2)[0], "[] \t"))
			if table == want {
				return i + 1
			}
		case strings.Contains(line, "=") && !strings.HasPrefix(line, "#"):
			k := normKey(strings.SplitN(line, "=", 2)[0])
			if table != "" {
				k = table + "." + k
			}
			if k == want {
				return i + 1
			}
		}
	}
	return 0
}

// normKey removes spaces and quotes around the parts of a dotted key.
func normKey(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}

// nearestKey returns the known key closest to k by edit distance, or ""
// when none is close enough to be a likely typo.
func nearestKey(k string) string {
	type cand struct {
		key  string
		dist int
	}
	var cs []cand
	for _, s := range settings {
		if d := editDistance(k, s.key); d <= 3 {
			cs = append(cs, cand{s.key, d})
		}
	}
	if len(cs) == 0 {
		return ""
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].dist < cs[j].dist })
	return cs[0].key
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
