package runner

import (
	"os"
	"testing"
	"time"
)

// Killing the process of a daemon whose cancelled task overran the
// interrupt grace takes the daemon out of service in the same step: a
// task submitted once the process is seen gone must not be given to the
// killed daemon while its connection's removal event is still on its way
// (TestInterruptSSHDaemon's "pid" task failed with ErrConnReset, 1 in 28
// runs under load). The test runs the overdue step itself, under the
// state lock, and looks at the daemons before releasing it.
func TestOverdueKillDropsDaemonAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	t.Parallel()
	d, err := NewDispatcher("", WithInterruptGrace(time.Hour)) // the test runs the step
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.LaunchLocal(1, WithExecutable(os.Args[0], "-test.run=^TestHelperDaemonProcess$"),
		WithStopGrace(5*time.Second), WithEnv("GORACE=atexit_sleep_ms=0")); err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 60*time.Second)
	if err := d.WaitDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	a := Submit[int](ctx, d, "spin", 0) // ignores its cancel
	var m overdueMsg
	for deadline := time.Now().Add(30 * time.Second); m.wid == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the task never ran")
		}
		d.smu.Lock()
		for pipe, dm := range d.st.daemons {
			for wid := range dm.running {
				m = overdueMsg{pipe: pipe, wid: wid}
			}
		}
		d.unlockState()
	}
	a.Stop()
	d.smu.Lock()
	d.onOverdue(m)
	_, still := d.st.daemons[m.pipe]
	d.unlockState()
	if still {
		t.Fatal("the killed daemon is still given tasks until its connection's removal event")
	}
	if _, err := a.Result(); err == nil {
		t.Fatal("the stopped task succeeded")
	}
}
