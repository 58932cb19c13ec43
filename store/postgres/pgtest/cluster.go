package pgtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/internal/testports"
)

// Cluster is a private PostgreSQL server in a temporary directory on a
// loopback port from the calling package's internal/testports range, for tests that stop, hang or restart the database:
// the shared server on 5432 is everyone's and must never be touched. It
// runs as the postgres user when the test runs as root (PostgreSQL refuses
// root).
type Cluster struct {
	t      testing.TB
	bin    string
	data   string
	port   int
	cred   *syscall.Credential
	frozen []int // processes stopped by Freeze
}

// StartCluster creates and starts a cluster and stops it (and removes it)
// when the test ends. Its port comes from ports, the calling package's
// range below the kernel's ephemeral range: a port probed free there and
// closed is anybody's, and more so while the cluster is stopped for a
// restart (an outgoing connection's local port can take it). It skips the
// test when the PostgreSQL server binaries are missing, or fails it with
// HOTLINE_REQUIRE_PG=1.
func StartCluster(t testing.TB, ports *testports.Pool) *Cluster {
	t.Helper()
	bin, err := serverBin()
	if err != nil {
		if os.Getenv("HOTLINE_REQUIRE_PG") == "1" {
			t.Fatalf("PostgreSQL server binaries missing and HOTLINE_REQUIRE_PG=1: %v", err)
		}
		t.Skipf("PostgreSQL server binaries missing (set HOTLINE_PG_BIN to their directory): %v", err)
	}
	c := &Cluster{t: t, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, and no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Not t.TempDir: its parent is private to the test's user, and the
	// server may run as another.
	root, err := os.MkdirTemp("", "hotline-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	if c.cred != nil {
		if err := os.Chown(root, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	c.data = filepath.Join(root, "data")
	c.run("initdb", "-D", c.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")
	conf := "listen_addresses = '127.0.0.1'\nunix_socket_directories = '" + root + "'\n" +
		"fsync = off\nfull_page_writes = off\nshared_buffers = 16MB\nmax_connections = 30\n"
	if err := appendFile(filepath.Join(c.data, "postgresql.conf"), conf); err != nil {
		t.Fatal(err)
	}
	c.port = ports.Block(t).Ctrl()
	t.Cleanup(func() {
		c.Thaw()
		_ = c.ctl("stop", "-m", "immediate")
	})
	c.Start()
	return c
}

// URL is the cluster's postgres database.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Addr is the cluster's host:port.
func (c *Cluster) Addr() string { return fmt.Sprintf("127.0.0.1:%d", c.port) }

// Start starts the server (again) on its port and waits until it accepts
// connections.
func (c *Cluster) Start() {
	c.t.Helper()
	if err := c.ctl("start", "-w", "-t", "60", "-l", filepath.Join(filepath.Dir(c.data), "server.log"),
		"-o", fmt.Sprintf("-p %d", c.port)); err != nil {
		log, _ := os.ReadFile(filepath.Join(filepath.Dir(c.data), "server.log"))
		c.t.Fatalf("start private PostgreSQL on port %d: %v\n%s", c.port, err, log)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		c.t.Fatalf("connect to private PostgreSQL: %v", err)
	}
	_ = conn.Close(ctx)
}

// Stop shuts the server down the way a crash or kill would (immediate
// mode: connections are cut, nothing is flushed) and waits until it is gone.
func (c *Cluster) Stop() {
	c.t.Helper()
	if err := c.ctl("stop", "-w", "-t", "60", "-m", "immediate"); err != nil {
		c.t.Fatalf("stop private PostgreSQL: %v", err)
	}
}

// Freeze hangs the server: SIGSTOP to the postmaster and every backend, so
// connections stay open and connects are accepted by the kernel but
// nothing answers. Thaw undoes it.
func (c *Cluster) Freeze() {
	c.t.Helper()
	pm, err := c.postmaster()
	if err != nil {
		c.t.Fatal(err)
	}
	// The postmaster first, so it starts no new backend meanwhile.
	pids := append([]int{pm}, children(pm)...)
	for _, p := range pids {
		if err := syscall.Kill(p, syscall.SIGSTOP); err != nil {
			c.t.Fatalf("SIGSTOP %d: %v", p, err)
		}
		c.frozen = append(c.frozen, p)
	}
}

// Thaw resumes what Freeze stopped (SIGCONT).
func (c *Cluster) Thaw() {
	for _, p := range slices.Backward(c.frozen) {
		_ = syscall.Kill(p, syscall.SIGCONT)
	}
	c.frozen = nil
}

// postmaster reads the server's PID from postmaster.pid.
func (c *Cluster) postmaster() (int, error) {
	b, err := os.ReadFile(filepath.Join(c.data, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("private PostgreSQL not running: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return strconv.Atoi(strings.TrimSpace(string(line)))
}

// children lists the processes whose parent is pid (from /proc).
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

func (c *Cluster) ctl(args ...string) error {
	cmd := c.command("pg_ctl", append([]string{"-D", c.data}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (c *Cluster) run(name string, args ...string) {
	c.t.Helper()
	if out, err := c.command(name, args...).CombinedOutput(); err != nil {
		c.t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

// serverBin finds the directory with initdb and pg_ctl: HOTLINE_PG_BIN,
// then PATH, then Debian's /usr/lib/postgresql/<version>/bin (newest).
func serverBin() (string, error) {
	ok := func(dir string) bool {
		for _, n := range []string{"initdb", "pg_ctl", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, n)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("HOTLINE_PG_BIN"); d != "" {
		if ok(d) {
			return d, nil
		}
		return "", fmt.Errorf("HOTLINE_PG_BIN=%s has no initdb, pg_ctl and postgres", d)
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil && ok(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if ok(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no initdb/pg_ctl in PATH or /usr/lib/postgresql/*/bin")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	_, _ = w.WriteString("\n" + text)
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
