package seeder

import (
	"container/list"
	"os"
	"sync"

	"github.com/lanseedd/lanseedd/torrentfile"
)

// fdCache keeps up to max content files open read-only, least recently used
// first out, so that serving a block is one pread and not an open, a read
// and a close. A file in use is closed only when its last user puts it back.
type fdCache struct {
	max int

	mu  sync.Mutex
	m   map[string]*cachedFD
	lru list.List // of *cachedFD, most recently used first
}

type cachedFD struct {
	f    *os.File
	path string
	refs int
	elem *list.Element // nil once out of the cache
}

func newFDCache(max int) *fdCache {
	return &fdCache{max: max, m: make(map[string]*cachedFD)}
}

// get returns fl opened read-only (see torrentfile.OpenFile); the caller
// must put it back.
func (c *fdCache) get(fl *torrentfile.File) (*cachedFD, error) {
	path := fl.Abs
	c.mu.Lock()
	if e, ok := c.m[path]; ok {
		e.refs++
		c.lru.MoveToFront(e.elem)
		c.mu.Unlock()
		return e, nil
	}
	c.mu.Unlock()
	f, _, err := torrentfile.OpenFile(fl)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[path]; ok { // opened meanwhile by another reader
		f.Close()
		e.refs++
		c.lru.MoveToFront(e.elem)
		return e, nil
	}
	e := &cachedFD{f: f, path: path, refs: 1}
	e.elem = c.lru.PushFront(e)
	c.m[path] = e
	for c.lru.Len() > c.max {
		c.removeLocked(c.lru.Back().Value.(*cachedFD))
	}
	return e, nil
}

// put gives back a file returned by get.
func (c *fdCache) put(e *cachedFD) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.refs == 0 && e.elem == nil {
		e.f.Close()
	}
}

// forget closes path's descriptor (once no reader uses it), so that the
// next get opens the path afresh: after a rename over it, or when no
// torrent needs it any more.
func (c *fdCache) forget(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[path]; ok {
		c.removeLocked(e)
	}
}

// forgetFD is forget for one descriptor: a newer one for the same path is
// kept.
func (c *fdCache) forgetFD(e *cachedFD) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.elem != nil {
		c.removeLocked(e)
	}
}

func (c *fdCache) removeLocked(e *cachedFD) {
	c.lru.Remove(e.elem)
	e.elem = nil
	delete(c.m, e.path)
	if e.refs == 0 {
		e.f.Close()
	}
}

// len is how many descriptors the cache holds.
func (c *fdCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// closeAll closes every idle descriptor.
func (c *fdCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.lru.Len() > 0 {
		c.removeLocked(c.lru.Back().Value.(*cachedFD))
	}
}
