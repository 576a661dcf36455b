package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/lanseedd/lanseedd"
)

// Heartbeat records that node n (this daemon) is up, with its URLs and
// addresses. The first heartbeat of a process registers it, taking the
// name over from an earlier process (one killed and started again, or
// another daemon given the same name: then took is true at every
// heartbeat, as the two take the name from each other).
func (s *Store) Heartbeat(ctx context.Context, n lanseedd.Node) (took bool, err error) {
	trackers, peers := strings.Join(n.Trackers, " "), strings.Join(n.Peers, " ")
	res, err := s.exec(ctx, `UPDATE lanseedd_nodes SET heartbeat_at = `+s.d.now+`,
			public_url = ?, trackers = ?, peers = ?, peer_id = ?, version = ?
		WHERE name = ? AND instance = ?`,
		n.PublicURL, trackers, peers, n.PeerID, n.Version, n.Name, s.owner)
	if err != nil {
		return false, fmt.Errorf("node heartbeat: %w", err)
	}
	if k, err := res.RowsAffected(); err == nil && k == 1 {
		return false, nil
	}
	var other sql.NullString
	err = s.db.QueryRowContext(ctx, s.d.rebind(`SELECT instance FROM lanseedd_nodes WHERE name = ?`), n.Name).Scan(&other)
	if err != nil && err != sql.ErrNoRows {
		return false, fmt.Errorf("node heartbeat: %w", err)
	}
	if _, err := s.exec(ctx, `DELETE FROM lanseedd_nodes WHERE name = ?`, n.Name); err != nil {
		return false, fmt.Errorf("node heartbeat: %w", err)
	}
	_, err = s.exec(ctx, `INSERT INTO lanseedd_nodes
			(name, instance, public_url, trackers, peers, peer_id, version, started_at, heartbeat_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, `+s.d.now+`, `+s.d.now+`)`,
		n.Name, s.owner, n.PublicURL, trackers, peers, n.PeerID, n.Version)
	if err != nil {
		return false, fmt.Errorf("register node %s: %w", n.Name, err)
	}
	// Taken from a process of this host that is gone is a restart, not a
	// clash.
	took = other.Valid && !s.goneHere(other.String)
	return took, nil
}

// goneHere reports whether owner names a process of this host that is no
// longer running.
func (s *Store) goneHere(owner string) bool {
	host, _, _ := strings.Cut(s.owner, "/")
	parts := strings.Split(owner, "/")
	if len(parts) != 3 || parts[0] != host {
		return false
	}
	var pid int
	if _, err := fmt.Sscan(parts[1], &pid); err != nil {
		return false
	}
	return owner == s.owner || !processAlive(pid)
}

// LeaveNode clears this daemon's heartbeat as it stops: its tracker leaves
// the announce lists at once instead of after the timeout.
func (s *Store) LeaveNode(ctx context.Context, name string) error {
	if s.db == nil {
		return nil
	}
	_, err := s.exec(ctx, `UPDATE lanseedd_nodes SET heartbeat_at = NULL WHERE name = ? AND instance = ?`, name, s.owner)
	if err != nil {
		return fmt.Errorf("node leave: %w", err)
	}
	return nil
}

// ForgetNode deletes a node's row: a server taken out of service.
func (s *Store) ForgetNode(ctx context.Context, name string) (bool, error) {
	res, err := s.exec(ctx, `DELETE FROM lanseedd_nodes WHERE name = ?`, name)
	if err != nil {
		return false, fmt.Errorf("forget node %s: %w", name, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// Nodes returns every node in name order, each up when its heartbeat is
// younger than timeout by the catalog's clock.
func (s *Store) Nodes(ctx context.Context, timeout time.Duration) ([]lanseedd.Node, error) {
	rows, err := s.query(ctx, `SELECT name, public_url, trackers, peers, peer_id, version, started_at, heartbeat_at, `+s.d.now+`
		FROM lanseedd_nodes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read nodes: %w", err)
	}
	defer rows.Close()
	var out []lanseedd.Node
	for rows.Next() {
		var (
			n                       lanseedd.Node
			trackers, peers         string
			started, heartbeat, now any
		)
		if err := rows.Scan(&n.Name, &n.PublicURL, &trackers, &peers, &n.PeerID, &n.Version, &started, &heartbeat, &now); err != nil {
			return nil, fmt.Errorf("read nodes: %w", err)
		}
		n.Trackers, n.Peers = strings.Fields(trackers), strings.Fields(peers)
		n.StartedAt, n.HeartbeatAt = parseTime(started), parseTime(heartbeat)
		if !n.HeartbeatAt.IsZero() {
			age := parseTime(now).Sub(n.HeartbeatAt)
			n.HeartbeatAgeSec = age.Seconds()
			n.Up = age < timeout
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
