package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// nginxMain wraps the http block a test gives: everything nginx writes goes
// into the test's own directory (%[1]s), and the master stays in the
// foreground so that it is our child and can be stopped by its PID.
const nginxMain = `daemon off;
master_process on;
worker_processes 1;
user nobody nogroup;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
http {
	%[2]s
	access_log %[1]s/access.log;
	client_body_temp_path %[1]s/client_body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
%[3]s
}
`

// StartNginx runs nginx inside the lab, as root, until the test ends.
// httpConf is the content of nginx's http block: typically server blocks
// that listen on the lab's addresses, e.g.
//
//	server { listen 203.0.113.11:8080; location / { return 200 "hi\n"; } }
//
// It returns the directory that holds nginx's configuration, pid file and
// logs (error.log, access.log). It waits until nginx has written its pid
// file, which it does after binding every listen socket. The test is
// skipped if nginx is not installed. At the end nginx is asked to stop with
// SIGTERM, and killed with SIGKILL if it has not after 10 seconds, both by
// the PID of the master that this process started.
func (l *Lab) StartNginx(httpConf string) string {
	l.tb.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		l.tb.Skip("nginx is not installed; scripts/test-setup.sh installs it")
	}
	// The workers run as nobody and must reach the temp paths inside.
	dir := l.publicTempDir("htapod-lab-nginx-")
	mime := ""
	if _, err := os.Stat("/etc/nginx/mime.types"); err == nil {
		mime = "include /etc/nginx/mime.types;"
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxMain, dir, mime, httpConf), 0o644); err != nil {
		l.tb.Fatalf("lab: %v", err)
	}

	p := l.Start(context.Background(), RunOptions{Root: true, Dir: dir}, bin, "-c", conf, "-p", dir+"/")
	// Registered after Start's own cleanup, so it runs first.
	l.tb.Cleanup(func() {
		p.Signal(syscall.SIGTERM)
		select {
		case <-p.Done():
		case <-time.After(10 * time.Second):
			p.Signal(syscall.SIGKILL)
			<-p.Done()
		}
	})

	pidFile := filepath.Join(dir, "nginx.pid")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(pidFile); err == nil {
			return dir
		}
		select {
		case <-p.Done():
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			l.tb.Fatalf("lab: nginx exited at start: %v\nerror.log:\n%s", p.Wait(), log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			l.tb.Fatalf("lab: nginx did not write %s within 10s", pidFile)
		}
	}
}

// publicTempDir makes a temporary directory that every user may read and
// enter (nginx's workers run as nobody), removed when the test ends.
func (l *Lab) publicTempDir(prefix string) string {
	l.tb.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		l.tb.Fatalf("lab: %v", err)
	}
	l.tb.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		l.tb.Fatalf("lab: %v", err)
	}
	return dir
}
