package store

import "context"

// MigrateTableTo runs lanseedd's table migrations up to version only,
// without the triggers, as an older lanseedd left the catalog: for upgrade
// tests.
func (s *Store) MigrateTableTo(ctx context.Context, version int64) error {
	p, err := s.provider()
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}
