// Runs containerd's own snapshotter test suite (snapshots/testsuite, from
// Debian's golang-github-containerd-containerd-dev) against stargz-agent
// through containerd's proxy snapshotter client. Each test case gets a fresh
// agent process on its own root. See run.sh; needs root.
package proxysuite

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/containerd/snapshots/proxy"
	"github.com/containerd/containerd/snapshots/testsuite"
	"google.golang.org/grpc"
)

func startAgent(ctx context.Context, root string) (snapshots.Snapshotter, func() error, error) {
	sock := filepath.Join(root, "agent.sock")
	cmd := exec.Command("node", os.Getenv("STARGZ_AGENT_MAIN"), "--address", sock, "--root", filepath.Join(root, "state"), "--log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	// The socket file appears at bind(), a moment before listen(): block until connected.
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(dialCtx, "unix://"+sock, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, nil, err
	}
	sn := proxy.NewSnapshotter(snapshotsapi.NewSnapshotsClient(conn), "stargz")
	cleanup := func() error {
		conn.Close()
		_ = cmd.Process.Signal(os.Interrupt)
		_, err := cmd.Process.Wait()
		return err
	}
	return sn, cleanup, nil
}

func TestStargzAgentProxy(t *testing.T) {
	testsuite.SnapshotterSuite(t, "stargz", startAgent)
}
