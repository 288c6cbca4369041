package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// pprofHook is added to package main of cmd/quotatui through a build
// overlay (the repository is not touched) when -pprof is set: it serves
// net/http/pprof on a loopback port and writes the address to the file
// named by $QUOTARESOURCES_PPROF_ADDR. Only the investigation build has
// it; the measured figures come from the plain binary.
const pprofHook = `package main

import (
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	path := os.Getenv("QUOTARESOURCES_PPROF_ADDR")
	if path == "" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	if os.WriteFile(path+".tmp", []byte(ln.Addr().String()), 0o600) != nil || os.Rename(path+".tmp", path) != nil {
		ln.Close()
		return
	}
	go http.Serve(ln, nil)
}
`

// buildProfiledBinary builds cmd/quotatui with pprofHook overlaid.
func buildProfiledBinary(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	hook := filepath.Join(dir, "pprof_hook.go")
	if err := os.WriteFile(hook, []byte(pprofHook), 0o600); err != nil {
		return "", err
	}
	ov, err := json.Marshal(map[string]map[string]string{
		"Replace": {filepath.Join(root, "cmd", "quotatui", "zz_quotaresources_pprof.go"): hook},
	})
	if err != nil {
		return "", err
	}
	ovPath := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ovPath, ov, 0o600); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "quotatui")
	cmd := exec.CommandContext(ctx, "go", "build", "-overlay", ovPath, "-o", bin, "./cmd/quotatui")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build quotatui with pprof: %w: %s", err, out)
	}
	return bin, nil
}

// profiler fetches profiles from one run of the profiled binary.
type profiler struct {
	addrFile string // where the hook writes its address
	outDir   string // where profiles are saved
	name     string // run name, the files' prefix
}

func (p *profiler) addr() (string, error) {
	b, err := os.ReadFile(p.addrFile)
	if err != nil {
		return "", fmt.Errorf("pprof address: %w", err)
	}
	return "http://" + strings.TrimSpace(string(b)), nil
}

func (p *profiler) fetch(ctx context.Context, path, file string) error {
	base, err := p.addr()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return err
	}
	req.Close = true // no idle connection left behind in the harness
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("pprof %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof %s: %s", path, resp.Status)
	}
	f, err := os.Create(filepath.Join(p.outDir, p.name+"-"+file))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("pprof %s: %w", path, err)
	}
	return f.Close()
}

// cpu starts a CPU profile of d in the background; the returned function
// waits for it and reports its error.
func (p *profiler) cpu(ctx context.Context, d time.Duration) func() error {
	done := make(chan error, 1)
	go func() {
		done <- p.fetch(ctx, fmt.Sprintf("/debug/pprof/profile?seconds=%d", max(1, int(d.Seconds()))), "cpu.pprof")
	}()
	return func() error { return <-done }
}

// heap saves the runtime's memory statistics as they are, then a heap
// profile (after a forced GC) and the goroutine dump.
func (p *profiler) heap(ctx context.Context) error {
	if err := p.fetch(ctx, "/debug/pprof/heap?debug=1", "memstats.txt"); err != nil {
		return err
	}
	if err := p.fetch(ctx, "/debug/pprof/heap?gc=1", "heap.pprof"); err != nil {
		return err
	}
	return p.fetch(ctx, "/debug/pprof/goroutine?debug=1", "goroutines.txt")
}
