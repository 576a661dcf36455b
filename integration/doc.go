// Package integration holds the suites that run lanseedd as its operators
// do, a built binary against real BitTorrent clients and database servers.
// They build only with the integration tag:
//
//	go test -tags integration ./integration/...
package integration
