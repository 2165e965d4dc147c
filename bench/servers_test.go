package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// The benchmark's servers all live on api.lab.test, which has an A record
// and no AAAA record: every client, with and without htapod, then connects
// over IPv4, and the two runs compare the same path.
const (
	host     = "api.lab.test"
	hostAddr = lab.API4
	// iperfPort is the iperf3 server's port.
	iperfPort = "5201"
	// idlePort is the port of the server of idle connections.
	idlePort = "9000"
	// smallFile is the 1 KiB file of the HTTP workloads.
	smallFile = "/1k.bin"
	// bulkFile is the file of the TLS download, of config.bulk bytes.
	bulkFile = "/bulk.bin"
)

// nginxConf is the whole configuration of the benchmark's nginx. It is the
// benchmark's own, not lab.StartNginx's, because the load needs more than
// lab's one worker with 256 connections. %[1]s is nginx's directory,
// %[2]s the document root, %[3]s and %[4]s the certificate and key.
//
// Keep-alive connections stay open for the whole run (keepalive_requests),
// so that a "keep-alive" workload never reconnects; there is no access
// log, whose writes would cost both modes the same and blur the ratio.
const nginxConf = `daemon off;
master_process on;
worker_processes 2;
worker_rlimit_nofile 16384;
user nobody nogroup;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 8192; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 10000000;
	keepalive_timeout 120s;
	client_body_temp_path %[1]s/client_body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	types { application/octet-stream bin; }
	default_type application/octet-stream;
	ssl_certificate %[3]s;
	ssl_certificate_key %[4]s;
	ssl_protocols TLSv1.2 TLSv1.3;
	server {
		listen ` + hostAddr + `:80 backlog=4096;
		listen ` + hostAddr + `:443 ssl http2 backlog=4096;
		root %[2]s;
	}
}
`

// A site is the benchmark's nginx.
type site struct {
	dir     string // configuration, pid file, error.log
	docroot string
}

// startNginx writes the site's files (1 KiB, and a sparse file of bulk
// bytes, which costs no disk) and runs nginx in the lab, as root, until the
// test ends; it stops nginx by the PID of the master it started.
func (b *bench) startNginx(bulk int64) (*site, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		return nil, fmt.Errorf("nginx is not installed: run bench/setup.sh")
	}
	dir, err := os.MkdirTemp("", "htapod-bench-nginx-")
	if err != nil {
		return nil, err
	}
	b.t.Cleanup(func() { os.RemoveAll(dir) })
	s := &site{dir: dir, docroot: filepath.Join(dir, "www")}
	// nginx's workers run as nobody: everything must be world-readable.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(s.docroot, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(s.docroot, smallFile), lab.Pattern(1024), 0o644); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(s.docroot, bulkFile), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(bulk); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	text := fmt.Sprintf(nginxConf, dir, s.docroot, b.pki.ServerCertFile, b.pki.ServerKeyFile)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}

	p := b.lab.Start(context.Background(), lab.RunOptions{Root: true, Dir: dir}, bin, "-c", conf, "-p", dir+"/")
	// Registered after Start's own cleanup, so it runs first.
	b.t.Cleanup(func() { stop(p) })
	pidFile := filepath.Join(dir, "nginx.pid")
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := os.Stat(pidFile); err == nil {
			return s, nil
		}
		select {
		case <-p.Done():
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			return nil, fmt.Errorf("nginx exited at start: %v\nerror.log:\n%s", p.Wait(), log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("nginx did not write %s within 10s", pidFile)
		}
	}
}

// stop asks a server that the benchmark started to stop, by its PID, and
// kills it if it has not after 10 seconds.
func stop(p *lab.Proc) {
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		p.Signal(syscall.SIGKILL)
		<-p.Done()
	}
}

// startIperf runs `iperf3 -s` on hostAddr in the lab, as root, until the
// test ends, and waits until it listens.
func (b *bench) startIperf() error {
	if _, err := exec.LookPath("iperf3"); err != nil {
		return fmt.Errorf("iperf3 is not installed: run bench/setup.sh")
	}
	p := b.lab.Start(context.Background(), lab.RunOptions{Root: true},
		"iperf3", "-s", "-B", hostAddr, "-p", iperfPort, "--forceflush")
	b.t.Cleanup(func() { stop(p) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !p.Stdout.WaitFor(ctx, "Server listening") {
		return fmt.Errorf("iperf3 -s did not listen within 10s: %v", brief(p.Wait()))
	}
	return nil
}

// An idleServer accepts connections on hostAddr:idlePort and keeps them
// open, reading and discarding until the client closes. Its count is
// safe for concurrent use.
type idleServer struct {
	open atomic.Int64 // connections open now
}

// startIdleServer runs an idleServer in the lab until the test ends.
func (b *bench) startIdleServer() *idleServer {
	s := &idleServer{}
	ln := b.lab.Listen("tcp", net.JoinHostPort(hostAddr, idlePort))
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			s.open.Add(1)
			go func() {
				io.Copy(io.Discard, c)
				c.Close()
				s.open.Add(-1)
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	b.t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for c := range conns {
			c.Close()
		}
	})
	return s
}
