package web

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
)

// AdminConfig holds the admin listener's settings.
type AdminConfig struct {
	// AllowedHosts are names, besides the listener's own host, loopback
	// and this machine's host name and addresses, that requests to the
	// admin listener may carry in their Host header: the names an operator
	// reaches it by through a reverse proxy or DNS. "*" allows any.
	AllowedHosts []string `yaml:"allowed_hosts"`
}

// Validate reports the first invalid field, naming its key.
func (c AdminConfig) Validate() error {
	for i, h := range c.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ \t") || strings.Contains(strings.Trim(h, "[]"), ":") && net.ParseIP(strings.Trim(h, "[]")) == nil {
			return fmt.Errorf("admin.allowed_hosts[%d]: want a host name or address without port or scheme, got %q", i, h)
		}
	}
	return nil
}

// hostGuard passes on requests whose Host header names the listener, and
// refuses the rest: a web page an administrator opens can make the browser
// send requests to the admin listener under a name of its own that it
// points at 127.0.0.1 (DNS rebinding), and then read the answers, since to
// the browser they come from the page's own site.
type hostGuard struct {
	next  http.Handler
	any   bool
	names map[string]bool
	addrs map[netip.Addr]bool
}

// AllowHosts wraps the admin handler next so that it answers only requests
// for the listener's own host (listen is its HOST:PORT), loopback
// (localhost, 127.0.0.0/8, ::1), this machine's host name and addresses,
// and the names of cfg.AllowedHosts, with any port.
func AllowHosts(cfg AdminConfig, listen string, next http.Handler) http.Handler {
	g := &hostGuard{next: next, names: map[string]bool{"localhost": true}, addrs: map[netip.Addr]bool{}}
	add := func(h string) {
		h = strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
		if a, err := netip.ParseAddr(h); err == nil {
			g.addrs[a.Unmap()] = true
		} else if h != "" {
			g.names[h] = true
		}
	}
	if host, _, err := net.SplitHostPort(listen); err == nil {
		add(host)
	}
	if name, err := os.Hostname(); err == nil {
		add(name)
		add(strings.SplitN(name, ".", 2)[0])
	}
	// The machine's own addresses: a listener on every address is reached
	// by any of them, and an address literal cannot be rebound.
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				g.addrs[p.Addr().Unmap()] = true
			}
		}
	}
	for _, h := range cfg.AllowedHosts {
		if h == "*" {
			g.any = true
		}
		add(h)
	}
	return g
}

func (g *hostGuard) allowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		return a.IsLoopback() || g.addrs[a]
	}
	return g.names[host]
}

func (g *hostGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.any && !g.allowed(r.Host) {
		replyError(w, r, http.StatusForbidden, fmt.Sprintf(
			"host %q is not this admin listener's; add it to admin.allowed_hosts if it is", r.Host))
		return
	}
	g.next.ServeHTTP(w, r)
}
