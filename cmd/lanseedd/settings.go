package main

import (
	"encoding"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// A setting is one key of the config file, such as seeder.peer_port. Every
// key can also be set from the environment, by one rule: LANSEEDD_ and the
// key in capitals with dots as underscores (LANSEEDD_SEEDER_PEER_PORT).
type setting struct {
	key   string
	field reflect.Value // addressable field of a Config
}

// envPrefix starts every environment variable lanseedd reads.
const envPrefix = "LANSEEDD_"

// envForKey is the environment variable that sets a config key.
func envForKey(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// envForFlag is the older spelling of a variable, after the flag that sets
// the same key (LANSEEDD_CATALOG for -catalog); it is still read.
func envForFlag(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// settingsOf lists every key of cfg in file order, each with its field.
func settingsOf(cfg *Config) []setting {
	var out []setting
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, inline, ok := yamlName(f)
			if !ok {
				continue
			}
			fv := v.Field(i)
			switch {
			case inline:
				walk(fv, prefix)
			case isSection(f.Type):
				walk(fv, prefix+name+".")
			default:
				out = append(out, setting{key: prefix + name, field: fv})
			}
		}
	}
	walk(reflect.ValueOf(cfg).Elem(), "")
	return out
}

// settingFor returns the setting of key in cfg.
func settingFor(cfg *Config, key string) (setting, bool) {
	for _, s := range settingsOf(cfg) {
		if s.key == key {
			return s, true
		}
	}
	return setting{}, false
}

// yamlName reads a field's yaml tag: its key, whether it is inlined, and
// whether it is in the file at all.
func yamlName(f reflect.StructField) (name string, inline, ok bool) {
	if !f.IsExported() {
		return "", false, false
	}
	tag := f.Tag.Get("yaml")
	if tag == "-" {
		return "", false, false
	}
	name, opts, _ := strings.Cut(tag, ",")
	if opts == "inline" {
		return "", true, true
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, false, true
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// isSection tells a nested part of the config (tracker:) from a value.
func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(textUnmarshaler)
}

// set parses a value given as text (an environment variable or a flag) into
// the setting's field. Lists are comma-separated. name is what the user
// wrote (the variable or the flag), for the error.
func (s setting) set(name, text string) error {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: text}
	// A list that reads itself from text (a command line) is not split at
	// commas.
	if s.field.Kind() == reflect.Slice && !s.field.Addr().Type().Implements(textUnmarshaler) {
		n = &yaml.Node{Kind: yaml.SequenceNode}
		for _, v := range strings.Split(text, ",") {
			if v = strings.TrimSpace(v); v != "" {
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: v})
			}
		}
	}
	return s.decode(name, n)
}

// decode sets the field from a YAML node, naming name and the value in the
// error rather than Go's types.
func (s setting) decode(name string, n *yaml.Node) error {
	if s.field.Kind() == reflect.String && n.Kind == yaml.ScalarNode {
		// Any scalar is a string: a port "6969" or a DSN alike.
		s.field.SetString(n.Value)
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		// peer_port: "6881" means the number, as an operator would expect.
		n = &yaml.Node{Kind: yaml.ScalarNode, Value: n.Value, Line: n.Line}
	}
	v := reflect.New(s.field.Type())
	if err := n.Decode(v.Interface()); err != nil {
		return fmt.Errorf("%s: want %s, got %s", name, want(s.field.Type()), nodeText(n))
	}
	s.field.Set(v.Elem())
	return nil
}

// want says in words what a field of type t takes.
func want(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[time.Duration]():
		return "a duration such as 500ms, 30s, 5m or 1h"
	case reflect.TypeFor[LogLevel]():
		return "debug, info, warn or error"
	case reflect.TypeFor[[]netip.Prefix]():
		return "a list of networks such as 10.0.0.0/8, fd00::/8"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	case reflect.Slice:
		return "a list (comma-separated in a variable or flag)"
	}
	return "a " + t.Kind().String()
}

func nodeText(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("%q", n.Value)
	}
	b, _ := yaml.Marshal(n)
	return strings.TrimSpace(string(b))
}

// applyNode sets cfg from a config file's mapping, key by key, so that an
// unknown key or a bad value is reported with its full key and line.
func applyNode(v reflect.Value, n *yaml.Node, prefix, file string) error {
	if n.Kind == 0 {
		return nil // an empty file
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	where := func(n *yaml.Node) string { return fmt.Sprintf("%s line %d", file, n.Line) }
	if n.Kind != yaml.MappingNode {
		name := strings.TrimSuffix(prefix, ".")
		if name == "" {
			return fmt.Errorf("%s: want keys such as catalog: and seeder:", where(n))
		}
		return fmt.Errorf("%s: %s: want a section of keys, got %s", where(n), name, nodeText(n))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := prefix + k.Value
		if seen[k.Value] {
			return fmt.Errorf("%s: %s: given twice", where(k), key)
		}
		seen[k.Value] = true
		f, ok := fieldByKey(v, k.Value)
		if !ok {
			return fmt.Errorf("%s: %s: unknown key%s", where(k), key, suggest(v))
		}
		if isSection(f.Type()) {
			if err := applyNode(f, val, key+".", file); err != nil {
				return err
			}
			continue
		}
		if err := (setting{key: key, field: f}).decode(key, val); err != nil {
			return fmt.Errorf("%s: %w", where(val), err)
		}
	}
	return nil
}

// fieldsOf returns the fields of struct v by key, those of its inlined
// parts included.
func fieldsOf(v reflect.Value) map[string]reflect.Value {
	fields := map[string]reflect.Value{}
	t := v.Type()
	for i := range t.NumField() {
		n, inline, ok := yamlName(t.Field(i))
		switch {
		case !ok:
		case inline:
			maps.Copy(fields, fieldsOf(v.Field(i)))
		default:
			fields[n] = v.Field(i)
		}
	}
	return fields
}

// fieldByKey finds the field of struct v (or of its inlined parts) whose
// key is name.
func fieldByKey(v reflect.Value, name string) (reflect.Value, bool) {
	f, ok := fieldsOf(v)[name]
	return f, ok
}

// suggest lists the keys a misspelt key could have meant.
func suggest(v reflect.Value) string {
	return " (known here: " + strings.Join(slices.Sorted(maps.Keys(fieldsOf(v))), ", ") + ")"
}
