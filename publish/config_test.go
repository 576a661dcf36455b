package publish

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestValidateNamesTheKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		mod func(*Config)
	}{
		{"publish.validate_timeout", func(c *Config) { c.ValidateTimeout = 0 }},
		{"publish.validate_parallel", func(c *Config) { c.ValidateParallel = 0 }},
		{"publish.max_age", func(c *Config) { c.MaxAge = -time.Second }},
		{"publish.check_interval", func(c *Config) { c.CheckInterval = 0 }},
		{"publish.min_size", func(c *Config) { c.MinSize = -1 }},
		{"publish.max_size: must be >= 0", func(c *Config) { c.MaxSize = -1 }},
		{"publish.max_size: must be >= publish.min_size", func(c *Config) { c.MinSize, c.MaxSize = 10, 5 }},
		{"publish.validate_command[1]", func(c *Config) { c.ValidateCommand = Command{"x", ""} }},
	} {
		c := DefaultConfig()
		tc.mod(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: %v", tc.key, err)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestCommandFromYAML(t *testing.T) {
	for text, want := range map[string]string{
		`c: gdalinfo  -checksum`:            "gdalinfo|-checksum",
		`c: [/opt/my tool/check, --strict]`: "/opt/my tool/check|--strict",
	} {
		var v struct{ C Command }
		if err := yaml.Unmarshal([]byte(text), &v); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if got := strings.Join(v.C, "|"); got != want {
			t.Errorf("%s: %q, want %q", text, got, want)
		}
	}
}

func TestOutputMessageIsBounded(t *testing.T) {
	c := &capped{max: outputKept}
	line := strings.Repeat("é", 100) + "\n"
	for range 10000 {
		c.Write([]byte(line))
	}
	msg := c.message()
	if len(msg) > messageBytes+10 || !strings.HasSuffix(msg, "…") || len(c.buf) != outputKept {
		t.Errorf("message of %d bytes, buffer of %d: %.80q", len(msg), len(c.buf), msg)
	}
	if !strings.HasPrefix(msg, ": é") || strings.Contains(msg, "\ufffd") {
		t.Errorf("message %.40q", msg)
	}
}
