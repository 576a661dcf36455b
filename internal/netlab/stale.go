package netlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// stalePrefix starts the default names, followed by the creating
// process's id and a dash.
const stalePrefix = "lsd-"

var staleName = regexp.MustCompile(`^` + stalePrefix + `(\d+)-`)

var names atomic.Int64

// uniqueName returns "lsd-<pid>-<n>-" followed by suffix, a name no other
// lab or probe of any live process uses.
func uniqueName(suffix string) string {
	return fmt.Sprintf("%s%d-%d-%s", stalePrefix, os.Getpid(), names.Add(1), suffix)
}

// RemoveStale removes the namespaces with default names whose creating
// process is gone (a run killed before its Close), with the processes
// still inside them. New calls it when Config.Prefix is empty.
func RemoveStale(ctx context.Context) {
	out, err := output(ctx, "ip", "netns", "list")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		m := staleName.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid == os.Getpid() || alive(pid) {
			continue
		}
		removeNS(f[0])
	}
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// removeNS kills the processes inside namespace ns and deletes it. A
// namespace that does not exist is not an error.
func removeNS(ns string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := os.Stat("/run/netns/" + ns); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	// The processes in a lab's namespaces are the lab's own: a namespace
	// outlives its name while any of them runs, and so would its veths.
	if out, err := output(ctx, "ip", "netns", "pids", ns); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	return run(ctx, "ip", "netns", "delete", ns)
}
