// Package publish holds the policies that decide whether a catalog row's
// file is published as a torrent, and for how long: a validation command,
// size limits and expiry.
package publish

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the publish: section of the configuration. Every policy is off
// by default.
type Config struct {
	// ValidateCommand, when set, runs before a row is published, with the
	// file's absolute path as its last argument; a status other than 0
	// refuses the row.
	ValidateCommand Command `yaml:"validate_command"`
	// ValidateTimeout bounds one run of ValidateCommand.
	ValidateTimeout time.Duration `yaml:"validate_timeout"`
	// ValidateParallel is how many validations may run at once.
	ValidateParallel int `yaml:"validate_parallel"`
	// MaxAge, when not 0, withdraws a torrent this long after it was
	// published.
	MaxAge time.Duration `yaml:"max_age"`
	// ExpiresColumn is an optional timestamp column of the catalog table:
	// past it, the row's torrent is withdrawn.
	ExpiresColumn string `yaml:"expires_column"`
	// CheckInterval is how often expiries are looked at.
	CheckInterval time.Duration `yaml:"check_interval"`
	// MinSize and MaxSize bound the bytes of a published row; 0 is no bound.
	MinSize int64 `yaml:"min_size"`
	MaxSize int64 `yaml:"max_size"`
}

// DefaultConfig returns the defaults: no policy, and for a validation
// command when one is set, 1 minute and 2 at once.
func DefaultConfig() Config {
	return Config{
		ValidateTimeout:  time.Minute,
		ValidateParallel: 2,
		CheckInterval:    time.Minute,
	}
}

// Validate reports the first invalid field, naming its key.
func (c Config) Validate() error {
	switch {
	case c.ValidateTimeout < 100*time.Millisecond:
		return fmt.Errorf("publish.validate_timeout: must be >= 100ms, got %s", c.ValidateTimeout)
	case c.ValidateParallel < 1:
		return fmt.Errorf("publish.validate_parallel: must be >= 1, got %d", c.ValidateParallel)
	case c.MaxAge < 0:
		return fmt.Errorf("publish.max_age: must be >= 0 (0: no limit), got %s", c.MaxAge)
	case c.MaxAge > 0 && c.MaxAge < time.Second:
		return fmt.Errorf("publish.max_age: must be 0 (no limit) or >= 1s, got %s", c.MaxAge)
	case c.CheckInterval < 100*time.Millisecond:
		return fmt.Errorf("publish.check_interval: must be >= 100ms, got %s", c.CheckInterval)
	case c.MinSize < 0:
		return fmt.Errorf("publish.min_size: must be >= 0, got %d", c.MinSize)
	case c.MaxSize < 0:
		return fmt.Errorf("publish.max_size: must be >= 0 (0: no limit), got %d", c.MaxSize)
	case c.MaxSize > 0 && c.MaxSize < c.MinSize:
		return fmt.Errorf("publish.max_size: must be >= publish.min_size (%d), got %d", c.MinSize, c.MaxSize)
	case strings.ContainsRune(c.ExpiresColumn, 0):
		return fmt.Errorf("publish.expires_column: must not contain a NUL byte, got %q", c.ExpiresColumn)
	}
	for i, a := range c.ValidateCommand {
		if a == "" || strings.ContainsRune(a, 0) {
			return fmt.Errorf("publish.validate_command[%d]: want a non-empty word without NUL bytes, got %q", i, a)
		}
	}
	return nil
}

// Expires reports whether any expiry policy is on.
func (c Config) Expires() bool { return c.MaxAge > 0 || c.ExpiresColumn != "" }

// LogValue lists the policies in one log attribute.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("validate_command", strings.Join(c.ValidateCommand, " ")),
		slog.Duration("validate_timeout", c.ValidateTimeout),
		slog.Int("validate_parallel", c.ValidateParallel),
		slog.Duration("max_age", c.MaxAge),
		slog.String("expires_column", c.ExpiresColumn),
		slog.Int64("min_size", c.MinSize),
		slog.Int64("max_size", c.MaxSize),
	)
}

// Command is a program and its arguments, run without a shell. The config
// file gives it as a list, or as one string split into words at spaces
// (no quoting: use the list form for an argument with spaces).
type Command []string

// UnmarshalYAML reads a list of words or one string of words.
func (c *Command) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		return c.UnmarshalText([]byte(n.Value))
	case yaml.SequenceNode:
		var words []string
		if err := n.Decode(&words); err != nil {
			return err
		}
		*c = words
		return nil
	}
	return fmt.Errorf("want a command line or a list of words")
}

// UnmarshalText splits a command line into words at spaces, as the
// environment variable gives it.
func (c *Command) UnmarshalText(b []byte) error {
	*c = strings.Fields(string(b))
	if len(*c) == 0 {
		*c = nil
	}
	return nil
}
