package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
)

const udpProtocolID = 0x41727101980

// runUDP keeps o.conns sockets busy, each with o.batch announces in flight,
// sent and received with sendmmsg/recvmmsg so that the generator spends
// less per announce than the tracker does.
func runUDP(ctx context.Context, o *options, res *result) error {
	raddr, err := net.ResolveUDPAddr("udp", o.target)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !o.fill {
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	var wg sync.WaitGroup
	errs := make([]error, o.conns)
	for w := range o.conns {
		wg.Go(func() { errs[w] = udpWorker(ctx, o, res, raddr, w) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func udpConnect(conn *net.UDPConn) (uint64, error) {
	var req [16]byte
	binary.BigEndian.PutUint64(req[:], udpProtocolID)
	binary.BigEndian.PutUint32(req[12:], 0x5eed)
	var resp [64]byte
	for range 5 {
		if _, err := conn.Write(req[:]); err != nil {
			return 0, err
		}
		conn.SetReadDeadline(time.Now().Add(time.Second))
		n, err := conn.Read(resp[:])
		if err != nil {
			continue
		}
		if n >= 16 && binary.BigEndian.Uint32(resp[:]) == 0 {
			return binary.BigEndian.Uint64(resp[8:]), nil
		}
	}
	return 0, fmt.Errorf("udp connect to %s: no reply", conn.RemoteAddr())
}

func udpWorker(ctx context.Context, o *options, res *result, raddr *net.UDPAddr, w int) error {
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetReadBuffer(4 << 20)
	conn.SetWriteBuffer(4 << 20)
	connID, err := udpConnect(conn)
	if err != nil {
		return err
	}
	connAt := time.Now()
	pc := ipv4.NewPacketConn(conn)
	out := make([]ipv4.Message, o.batch)
	in := make([]ipv4.Message, o.batch)
	for i := range out {
		out[i].Buffers = [][]byte{make([]byte, 98)}
		in[i].Buffers = [][]byte{make([]byte, 2048)}
	}
	rng := rand.New(rand.NewPCG(uint64(w), uint64(os.Getpid())))
	next := w // -fill: this worker's next peer index
	var peerID [20]byte
	copy(peerID[:], fmt.Sprintf("-TB0001-%012d", w))
	for ctx.Err() == nil {
		if time.Since(connAt) > 30*time.Second {
			if connID, err = udpConnect(conn); err != nil {
				return err
			}
			connAt = time.Now()
		}
		n := 0
		for ; n < o.batch; n++ {
			idx := rng.IntN(o.totalPeers)
			event := uint32(0)
			if o.fill {
				if next >= o.totalPeers {
					break
				}
				idx, next = next, next+o.conns
				event = 2
			}
			p := out[n].Buffers[0]
			binary.BigEndian.PutUint64(p[0:], connID)
			binary.BigEndian.PutUint32(p[8:], 1)
			binary.BigEndian.PutUint32(p[12:], uint32(idx))
			copy(p[16:36], o.hashes[idx/o.peers][:])
			copy(p[36:56], peerID[:])
			binary.BigEndian.PutUint64(p[56:], 0)
			left := uint64(1 << 20)
			if idx%o.peers == 0 {
				left = 0 // one seeder per swarm
			}
			binary.BigEndian.PutUint64(p[64:], left)
			binary.BigEndian.PutUint64(p[72:], 0)
			binary.BigEndian.PutUint32(p[80:], event)
			binary.BigEndian.PutUint32(p[84:], 0)
			binary.BigEndian.PutUint32(p[88:], uint32(w))
			binary.BigEndian.PutUint32(p[92:], uint32(o.numWant))
			binary.BigEndian.PutUint16(p[96:], uint16(1+idx%o.peers))
		}
		if n == 0 {
			return nil
		}
		for sent := 0; sent < n; {
			k, err := pc.WriteBatch(out[sent:n], 0)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("send: %w", err)
			}
			sent += k
		}
		res.sent.Add(int64(n))
		got := 0
		// Replies lost to a full socket buffer are given up on quickly, so
		// that a drop stalls this socket only briefly.
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		for got < n {
			k, err := pc.ReadBatch(in, 0)
			if err != nil {
				res.timeouts.Add(int64(n - got))
				break
			}
			for _, m := range in[:k] {
				b := m.Buffers[0][:m.N]
				if len(b) < 8 {
					continue
				}
				switch binary.BigEndian.Uint32(b) {
				case 1:
					res.replies.Add(1)
				case 3:
					res.failures.Add(1)
					connAt = time.Time{} // perhaps a stale connection id
				}
			}
			got += k
		}
	}
	return nil
}
