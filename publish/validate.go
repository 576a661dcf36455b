package publish

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// ErrRejected is the error of a file the validation command refused (or
// did not judge in time). The row is tried again when its file changes.
var ErrRejected = errors.New("refused by publish.validate_command")

// ErrSize is the error of a file outside publish.min_size..max_size. The
// row is tried again when its file changes.
var ErrSize = errors.New("outside the size limits")

// CheckSize returns an ErrSize error naming the limit a row of size bytes
// breaks, or nil.
func (c Config) CheckSize(size int64) error {
	switch {
	case c.MinSize > 0 && size < c.MinSize:
		return fmt.Errorf("%w: %d bytes is below publish.min_size (%d bytes)", ErrSize, size, c.MinSize)
	case c.MaxSize > 0 && size > c.MaxSize:
		return fmt.Errorf("%w: %d bytes is above publish.max_size (%d bytes)", ErrSize, size, c.MaxSize)
	}
	return nil
}

// outputKept is how much of a validator's output is kept; the rest is read
// and thrown away, so that a chatty validator neither blocks on a full pipe
// nor fills the daemon's memory.
const outputKept = 64 << 10

// messageLines and messageBytes bound what of the output goes into the
// row's error, for the status page.
const (
	messageLines = 5
	messageBytes = 600
)

// killGrace is how long, after the validator is killed or exits, its output
// pipes may stay open (held by a process that left its group) before they
// are closed on it.
const killGrace = 2 * time.Second

// Validator runs the validation command, a bounded number at once.
type Validator struct {
	argv    []string
	timeout time.Duration
	slots   chan struct{}
	env     []string
}

// NewValidator returns the validator of cfg, or nil when no command is set.
// The program must be found now, so that a typo stops the daemon at start
// rather than failing every row.
func NewValidator(cfg Config) (*Validator, error) {
	if len(cfg.ValidateCommand) == 0 {
		return nil, nil
	}
	argv := append([]string(nil), cfg.ValidateCommand...)
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("publish.validate_command: %w", err)
	}
	argv[0] = path
	return &Validator{
		argv:    argv,
		timeout: cfg.ValidateTimeout,
		slots:   make(chan struct{}, cfg.ValidateParallel),
		env:     childEnv(os.Environ()),
	}, nil
}

// childEnv is the daemon's environment without its own LANSEEDD_ variables,
// which may hold the catalog's password: the validator gets only what it
// is meant to know.
func childEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "LANSEEDD_") {
			out = append(out, kv)
		}
	}
	return out
}

// Check runs the command on the file abs of catalog row fileID (catalog
// path path). It returns nil if the command exits 0, an ErrRejected error
// with the first lines of its output if it exits otherwise, crashes or
// runs out of time, and ctx's error if ctx ends first. It waits for a slot
// while publish.validate_parallel validations run.
func (v *Validator) Check(ctx context.Context, abs string, fileID int64, path string) error {
	select {
	case v.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-v.slots }()

	run, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	cmd := exec.CommandContext(run, v.argv[0], append(v.argv[1:], abs)...)
	cmd.Args[0] = v.argv[0]
	cmd.Dir = "/"
	cmd.Env = append(v.env, "LANSEEDD_FILE_ID="+strconv.FormatInt(fileID, 10), "LANSEEDD_PATH="+path)
	out := &capped{max: outputKept}
	cmd.Stdout, cmd.Stderr = out, out // stdin stays /dev/null
	// Its own process group, so that a timeout kills what it started too
	// (a shell script's children).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = killGrace
	start := time.Now()
	err := cmd.Run()
	if cmd.Process != nil {
		// Whatever it left running in its group goes with it.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case run.Err() != nil:
		return fmt.Errorf("%w: no answer within publish.validate_timeout (%s); killed%s",
			ErrRejected, v.timeout, out.message())
	case err == nil:
		return nil
	case cmd.ProcessState != nil && cmd.ProcessState.Success():
		// It exited 0; only a descendant kept its output open (ErrWaitDelay).
		return nil
	case cmd.ProcessState != nil:
		return fmt.Errorf("%w: %s after %s%s", ErrRejected, cmd.ProcessState, time.Since(start).Round(time.Millisecond), out.message())
	default:
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
}

// capped keeps the first max bytes written to it and counts the rest.
type capped struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped int64
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := min(len(p), c.max-len(c.buf))
	c.buf = append(c.buf, p[:keep]...)
	c.dropped += int64(len(p) - keep)
	return len(p), nil
}

// message is ": " and the output's first lines, valid UTF-8, for the row's
// error; "" for no output.
func (c *capped) message() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	text := strings.ToValidUTF8(string(c.buf), "?")
	lines := strings.Split(strings.TrimSpace(text), "\n")
	more := len(lines) > messageLines || c.dropped > 0
	lines = lines[:min(len(lines), messageLines)]
	msg := strings.TrimSpace(strings.Join(lines, "\n"))
	if len(msg) > messageBytes {
		cut := messageBytes
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg, more = msg[:cut], true
	}
	if msg == "" {
		return ""
	}
	if more {
		msg += "\n…"
	}
	return ": " + msg
}
