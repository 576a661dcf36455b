package main

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/lanseedd/lanseedd/store"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// DefaultConfigFile is read when neither -config nor LANSEEDD_CONFIG names
// another file, if it exists.
const DefaultConfigFile = "/etc/lanseedd/lanseedd.yml"

// envConfig names the config file, as -config does.
const envConfig = envPrefix + "CONFIG"

// flagKeys are the flags that set a config key under a name of their own,
// and so also the older environment variables named after them
// (LANSEEDD_CATALOG, LANSEEDD_PUBLIC_URL…), which are still read. Flags
// named like their key need no entry.
var flagKeys = map[string]string{
	"catalog":          "catalog.dsn",
	"catalog-dsn-file": "catalog.dsn_file",
	"catalog-table":    "catalog.table",
	"catalog-id":       "catalog.id_column",
	"catalog-path":     "catalog.path_column",
	"state":            "seeder.state_dir",
	"content":          "seeder.content_root",
	"log-level":        "log.level",
	"log-format":       "log.format",
	"http":             "http.listen",
	"tracker":          "tracker.listen",
	"admin":            "admin.listen",
	"web-seed":         "http.web_seeds",
	"web-seed-mode":    "http.web_seed_mode",
	"webseed":          "http.web_seeds",
	"webseed-mode":     "http.web_seed_mode",
	"public-url":       "http.public_url",
	"peer-port":        "seeder.peer_port",
	"upload-rate":      "seeder.upload_rate",
}

// notConfig are LANSEEDD_ variables that are not config keys and so get no
// warning: the config file's own, and the test suite's.
func notConfig(name string) bool {
	return name == envConfig || name == envPrefix+"ARTIFACTS" || strings.HasPrefix(name, envPrefix+"TEST_")
}

// A loader builds a command's configuration: defaults, then the config
// file, then the environment, then flags, each overriding the one before.
// Every command that reads the configuration uses one, so that they all
// agree on which catalog and directories they act on.
type loader struct {
	file  string      // -config
	flags []flagValue // in command-line order
}

type flagValue struct{ flag, key, text string }

// configError marks an invalid configuration (exit status 78, EX_CONFIG).
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

// load returns the configuration and warnings about the environment.
func (l *loader) load() (Config, []string, error) {
	cfg := DefaultConfig()
	file, required := l.file, true
	if file == "" {
		file = os.Getenv(envConfig)
	}
	if file == "" {
		file, required = DefaultConfigFile, false
	}
	if err := loadFile(&cfg, file, required); err != nil {
		return cfg, nil, configError{err}
	}
	warnings, err := applyEnv(&cfg, os.Environ())
	if err != nil {
		return cfg, warnings, configError{err}
	}
	if err := l.applyFlags(&cfg); err != nil {
		return cfg, warnings, err
	}
	if err := finish(&cfg); err != nil {
		return cfg, warnings, configError{err}
	}
	return cfg, warnings, nil
}

// loadFile reads a YAML config file over cfg. Unknown keys are errors, so a
// misspelt key is never silently ignored.
func loadFile(cfg *Config, path string, required bool) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !required {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if err := applyNode(reflect.ValueOf(cfg).Elem(), &doc, "", path); err != nil {
		return fmt.Errorf("config file %w", err)
	}
	cfg.File = path
	return nil
}

// applyEnv sets cfg from LANSEEDD_* variables (env as os.Environ gives it)
// and warns of those that set nothing.
func applyEnv(cfg *Config, env []string) (warnings []string, err error) {
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, envPrefix) {
			vars[k] = v
		}
	}
	known := map[string]bool{}
	for _, s := range settingsOf(cfg) {
		names := []string{envForKey(s.key)}
		for _, f := range slices.Sorted(maps.Keys(flagKeys)) {
			if flagKeys[f] == s.key && !slices.Contains(names, envForFlag(f)) {
				names = append(names, envForFlag(f))
			}
		}
		var set, text string
		for _, name := range names {
			known[name] = true
			v, ok := vars[name]
			if !ok {
				continue
			}
			if set != "" && v != text {
				return warnings, fmt.Errorf("%s=%q and %s=%q set %s twice, differently", set, text, name, v, s.key)
			}
			set, text = name, v
		}
		if set != "" {
			if err := s.set(set, text); err != nil {
				return warnings, err
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		if !known[name] && !notConfig(name) {
			warnings = append(warnings, fmt.Sprintf("environment variable %s sets nothing: config keys are read from LANSEEDD_<SECTION>_<KEY>, e.g. %s",
				name, envForKey("seeder.content_root")))
		}
	}
	return warnings, nil
}

// applyFlags sets the keys given as flags. A list flag given several times
// adds up, and replaces the list of the file and the environment.
func (l *loader) applyFlags(cfg *Config) error {
	lists := map[string][]string{}
	for _, f := range l.flags {
		s, ok := settingFor(cfg, f.key)
		if !ok {
			return fmt.Errorf("flag -%s: no config key %s", f.flag, f.key)
		}
		if s.field.Kind() == reflect.Slice {
			lists[f.key] = append(lists[f.key], f.text)
			if err := s.set("-"+f.flag, strings.Join(lists[f.key], ",")); err != nil {
				return usageError{err}
			}
			continue
		}
		if err := s.set("-"+f.flag, f.text); err != nil {
			return usageError{err}
		}
	}
	return nil
}

// finish reads the DSN file and fills in the default DSN.
func finish(cfg *Config) error {
	if cfg.Catalog.DSN == "" && cfg.Catalog.DSNFile != "" {
		b, err := os.ReadFile(cfg.Catalog.DSNFile)
		if err != nil {
			return fmt.Errorf("catalog.dsn_file: %w", err)
		}
		cfg.Catalog.DSN = strings.TrimSpace(string(b))
	}
	if cfg.Catalog.DSN == "" {
		cfg.Catalog.DSN = "sqlite:" + filepath.Join(cfg.Seeder.StateDir, "catalog.db")
	}
	return nil
}

// defaultSettings are the settings of the defaults by key, walked once for
// the few dozen flags that every start of the command binds.
var defaultSettings = sync.OnceValue(func() map[string]setting {
	def := DefaultConfig()
	m := make(map[string]setting)
	for _, s := range settingsOf(&def) {
		m[s.key] = s
	}
	return m
})

// bind adds a flag that sets key; its default is shown from the defaults.
func (l *loader) bind(fs *pflag.FlagSet, name, key, usage string) {
	s, ok := defaultSettings()[key]
	if !ok {
		panic("flag " + name + ": no config key " + key)
	}
	f := fs.VarPF(&keyFlag{l: l, name: name, key: key, typ: s.field.Type()}, name, "", usage+" ("+key+")")
	f.DefValue = formatValue(s.field)
	if s.field.Kind() == reflect.Bool {
		f.NoOptDefVal = "true"
	}
}

// keyFlag is a flag whose values are kept until the file and the
// environment have been read, then applied over them.
type keyFlag struct {
	l         *loader
	name, key string
	typ       reflect.Type
	last      string
}

func (f *keyFlag) String() string { return f.last }

func (f *keyFlag) Type() string {
	switch {
	case f.typ == reflect.TypeFor[LogLevel]():
		return "level"
	case f.typ.Kind() == reflect.Slice:
		return "list"
	case f.typ.Kind() == reflect.Bool:
		return "bool"
	case f.typ.String() == "time.Duration":
		return "duration"
	case f.typ.Kind() == reflect.Int || f.typ.Kind() == reflect.Int64:
		return "int"
	}
	return "string"
}

// Set checks the value's syntax at once, so that a bad flag is a usage
// error that names it.
func (f *keyFlag) Set(text string) error {
	scratch := DefaultConfig()
	s, _ := settingFor(&scratch, f.key)
	if err := s.set("-"+f.name, text); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "-"+f.name+": "))
	}
	f.last = text
	f.l.flags = append(f.l.flags, flagValue{flag: f.name, key: f.key, text: text})
	return nil
}

// formatValue writes a field as the config file would.
func formatValue(v reflect.Value) string {
	var n yaml.Node
	if err := n.Encode(v.Interface()); err != nil {
		return fmt.Sprint(v.Interface())
	}
	prettyDurations(&n)
	if n.Kind == yaml.SequenceNode {
		var parts []string
		for _, c := range n.Content {
			parts = append(parts, c.Value)
		}
		return strings.Join(parts, ",")
	}
	return n.Value
}

// Redacted returns the config as YAML, values written as in a config file
// (2m, not 2m0s), with the DSN's password hidden.
func (c Config) Redacted() string {
	c.Catalog.DSN = store.RedactDSN(c.Catalog.DSN)
	var n yaml.Node
	if err := n.Encode(c); err != nil {
		return "# " + err.Error() + "\n"
	}
	prettyDurations(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.Encode(&n)
	return buf.String()
}

var durationZeros = regexp.MustCompile(`^(\d+h)?(\d+m)?(\d+s)?$`)

// prettyDurations rewrites Go's 2m0s and 1h0m0s as 2m and 1h.
func prettyDurations(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && durationZeros.MatchString(n.Value) && strings.ContainsAny(n.Value, "hms") {
		v := n.Value
		for strings.HasSuffix(v, "0s") || strings.HasSuffix(v, "0m") {
			if len(v) > 2 && v[len(v)-3] >= '0' && v[len(v)-3] <= '9' {
				break // 10s, 20m: a real value
			}
			v = v[:len(v)-2]
		}
		if v != "" {
			n.Value = v
		}
	}
	for _, c := range n.Content {
		prettyDurations(c)
	}
}
