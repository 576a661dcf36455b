// Package tracker is an open-registration BitTorrent tracker (HTTP and UDP)
// that keeps swarm state in memory.
package tracker
