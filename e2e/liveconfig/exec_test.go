package liveconfig

import (
	"context"
	"os/exec"
	"syscall"
)

// execEtcd is etcd as a process that dies with the test binary.
func execEtcd(ctx context.Context, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}
