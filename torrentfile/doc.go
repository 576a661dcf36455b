// Package torrentfile reads the file server's content, never writing to
// it, and makes torrents of it: a catalog path resolved beneath the content
// root (Resolve), a file or directory opened without following a link out
// of it (OpenBeneath, OpenPublished) and scanned (Scan), its pieces hashed
// on every core (HashPieces, Info), the canonical .torrent and magnet link
// of it (Create, InfoBytes, Magnet), and a stored torrent checked against
// it again (Verify). The daemon's seeder, its web seed and the create and
// verify commands share it.
package torrentfile
