package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/lanseedd/lanseedd"
)

// Work claims up to limit rows that need a daemon (pending rows and deletion
// tombstones, oldest change first) and returns the rows this daemon holds,
// but for those of busy (the rows it works on now: read again at every
// call, they would cost the catalog more than the claims).
// A claim is a lease: another daemon on the same catalog does not get the row
// until Finish or Forget releases it or the lease (Config.ClaimLease) runs
// out unrenewed. Work may return rows this daemon already holds; the
// caller skips those it works on.
func (s *Store) Work(ctx context.Context, limit int, busy []int64) ([]lanseedd.Row, error) {
	if !s.deadReleased.Load() && s.releaseDead(ctx) == nil {
		s.deadReleased.Store(true)
	}
	// One query per state, each walking the (state, updated_at, file_id)
	// index in order: with both states in one query the databases sort
	// every pending row for each call, which a catalog of a million new
	// rows makes minutes per call.
	notBusy := ""
	if len(busy) > 0 {
		notBusy = ` AND file_id NOT IN (?` + strings.Repeat(", ?", len(busy)-1) + `)`
	}
	var candidates []claimRow
	for _, state := range []lanseedd.State{lanseedd.StatePending, lanseedd.StateDeleted} {
		args := []any{string(state), s.owner}
		for _, id := range busy {
			args = append(args, id)
		}
		c, err := s.queryClaimRows(ctx, `SELECT `+rowColumns+`, claimed_by FROM lanseedd_torrents
			WHERE state = ?
			  AND (claimed_by IS NULL OR claimed_by = ? OR claimed_until < `+s.d.now+`)`+notBusy+`
			ORDER BY updated_at, file_id LIMIT ?`, append(args, limit)...)
		if err != nil {
			return nil, fmt.Errorf("read pending rows: %w", err)
		}
		candidates = append(candidates, c...)
	}
	slices.SortStableFunc(candidates, func(a, b claimRow) int {
		if c := a.row.UpdatedAt.Compare(b.row.UpdatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.row.FileID, b.row.FileID)
	})
	candidates = candidates[:min(len(candidates), limit)]
	out := make([]lanseedd.Row, 0, len(candidates))
	claim := `UPDATE lanseedd_torrents SET
			claimed_by = ?, claimed_until = ` + s.d.later(s.cfg.ClaimLease) + `
		WHERE file_id = ? AND generation = ? AND state IN ('pending', 'deleted')
		  AND (claimed_by IS NULL OR claimed_by = ? OR claimed_until < ` + s.d.now + `)`
	var fresh []claimRow
	for _, c := range candidates {
		if c.owner == s.owner {
			out = append(out, c.row)
		} else {
			fresh = append(fresh, c)
		}
	}
	if len(fresh) > 1 {
		// One commit for the batch, not one per row: the commits, not the
		// statements, bound how fast many small files are published.
		if claimed, err := s.claimTogether(ctx, fresh); err == nil {
			return sortClaimed(append(out, claimed...)), nil
		}
	}
	for _, c := range fresh {
		// One guarded statement per row: it holds one row lock at a time, so
		// it cannot deadlock with the catalog's own transactions, and it
		// claims the row only at the generation just read, which is the row
		// returned.
		res, err := s.exec(ctx, claim, s.owner, c.row.FileID, c.row.Generation, s.owner)
		if err != nil {
			return out, fmt.Errorf("claim row %d: %w", c.row.FileID, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out = append(out, c.row)
		}
	}
	return sortClaimed(out), nil
}

func sortClaimed(out []lanseedd.Row) []lanseedd.Row {
	slices.SortStableFunc(out, func(a, b lanseedd.Row) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
	return out
}

// claimTogether claims rows in one transaction and returns those it got.
// On a database server it claims only the rows no other transaction holds
// (the others come back with the next call), so that it never waits for a
// lock while holding others: it cannot deadlock with the catalog's
// transactions, nor make the server pick one of the site's as the victim.
func (s *Store) claimTogether(ctx context.Context, rows []claimRow) ([]lanseedd.Row, error) {
	tx, unlock, err := s.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	defer tx.Rollback()
	ids := make([]int64, len(rows))
	for i, c := range rows {
		ids[i] = c.row.FileID
	}
	locked, err := s.lockRows(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	var (
		got  []lanseedd.Row
		args = []any{s.owner}
	)
	for _, c := range rows {
		// The guards of Work's one-row claim.
		l, free := locked[c.row.FileID]
		if free && l.generation == c.row.Generation &&
			(l.state == lanseedd.StatePending || l.state == lanseedd.StateDeleted) &&
			(!l.claimedBy.Valid || l.claimedBy.String == s.owner || l.leaseOver) {
			got = append(got, c.row)
			args = append(args, c.row.FileID)
		}
	}
	if len(got) > 0 {
		_, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE lanseedd_torrents SET
				claimed_by = ?, claimed_until = `+s.d.later(s.cfg.ClaimLease)+`
			WHERE file_id IN (?`+strings.Repeat(", ?", len(got)-1)+`)`), args...)
		if err != nil {
			return nil, err
		}
	}
	return got, tx.Commit()
}

type claimRow struct {
	row   lanseedd.Row
	owner string
}

func (s *Store) queryClaimRows(ctx context.Context, q string, args ...any) ([]claimRow, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []claimRow
	for rows.Next() {
		var (
			c     claimRow
			owner *string
		)
		c.row, err = scanRow(rows, &owner)
		if err != nil {
			return nil, err
		}
		if owner != nil {
			c.owner = *owner
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// renewClaims extends the leases of every row this daemon holds.
func (s *Store) renewClaims(ctx context.Context) error {
	_, err := s.exec(ctx, `UPDATE lanseedd_torrents SET claimed_until = `+s.d.later(s.cfg.ClaimLease)+`
		WHERE claimed_by = ?`, s.owner)
	if err != nil {
		return fmt.Errorf("renew claims: %w", err)
	}
	return nil
}

// releaseAll gives up this daemon's claims, so that another daemon takes
// them over at once instead of after the lease.
func (s *Store) releaseAll(ctx context.Context) {
	if s.db == nil {
		return
	}
	s.exec(ctx, `UPDATE lanseedd_torrents SET claimed_by = NULL, claimed_until = NULL
		WHERE claimed_by = ?`, s.owner)
}

// releaseDead gives up the claims of daemons on this host whose process is
// gone: a daemon killed and started again takes its rows back at once
// instead of after the lease.
func (s *Store) releaseDead(ctx context.Context) error {
	host, _, _ := strings.Cut(s.owner, "/")
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT DISTINCT claimed_by FROM lanseedd_torrents
		WHERE claimed_by LIKE ?`), host+"/%")
	if err != nil {
		return fmt.Errorf("read claims: %w", err)
	}
	var dead []string
	for rows.Next() {
		var owner string
		if err := rows.Scan(&owner); err != nil {
			rows.Close()
			return err
		}
		parts := strings.Split(owner, "/")
		pid, err := strconv.Atoi(parts[min(1, len(parts)-1)])
		if owner != s.owner && len(parts) == 3 && err == nil && !processAlive(pid) {
			dead = append(dead, owner)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, owner := range dead {
		if _, err := s.exec(ctx, `UPDATE lanseedd_torrents SET claimed_by = NULL, claimed_until = NULL
			WHERE claimed_by = ?`, owner); err != nil {
			return fmt.Errorf("release claims of %s: %w", owner, err)
		}
		s.log.Info("released the claims of a daemon that is gone", "owner", owner)
	}
	return nil
}

// processAlive reports whether a process of this host runs; when it cannot
// tell, it says yes.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return !errors.Is(err, os.ErrProcessDone) && !errors.Is(err, syscall.ESRCH)
}
