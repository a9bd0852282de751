package testnet

import (
	"fmt"
	"io"
	"net"
	"strconv"
)

// portPair is one node's ports: p2p (TCP, and the same number on UDP for QUIC) and api.
type portPair struct{ p2p, api int }

// maxPortTries bounds the search for a TCP port whose UDP twin is also free.
const maxPortTries = 64

// choosePorts returns one portPair per node: fixed from o.BasePort, or free ports found by
// binding port 0. Every probe listener stays open until all ports are chosen, so no two
// nodes get the same port; the ports can still be taken by another process before the
// nodes bind them, a window tests accept (nodes start right after generation).
func choosePorts(o Options) ([]portPair, error) {
	out := make([]portPair, o.Nodes)
	if o.BasePort != 0 {
		for i := range out {
			out[i] = portPair{p2p: o.BasePort + 2*i, api: o.BasePort + 2*i + 1}
		}
		return out, nil
	}
	var held []io.Closer
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	tcpPort := func() (int, error) {
		ln, err := net.Listen("tcp4", net.JoinHostPort(o.Host, "0"))
		if err != nil {
			return 0, err
		}
		held = append(held, ln)
		return ln.Addr().(*net.TCPAddr).Port, nil
	}
	for i := range out {
		p, err := freeP2PPort(o, &held)
		if err != nil {
			return nil, err
		}
		out[i].p2p = p
		if !o.DisableAPI {
			if out[i].api, err = tcpPort(); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// freeP2PPort finds a TCP port that is free on UDP too when QUIC is enabled.
func freeP2PPort(o Options, held *[]io.Closer) (int, error) {
	for try := 0; try < maxPortTries; try++ {
		ln, err := net.Listen("tcp4", net.JoinHostPort(o.Host, "0"))
		if err != nil {
			return 0, err
		}
		*held = append(*held, ln)
		p := ln.Addr().(*net.TCPAddr).Port
		if o.DisableQUIC {
			return p, nil
		}
		pc, err := net.ListenPacket("udp4", net.JoinHostPort(o.Host, strconv.Itoa(p)))
		if err != nil {
			continue // UDP twin taken: keep the TCP port held so we do not draw it again
		}
		*held = append(*held, pc)
		return p, nil
	}
	return 0, fmt.Errorf("testnet: no TCP port with a free UDP twin on %s after %d tries", o.Host, maxPortTries)
}
