package memory

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDefaultFor(t *testing.T) {
	for _, c := range []struct{ total, want int64 }{
		{0, DefaultBudget},           // unknown
		{512 << 20, 128 << 20},       // small container: a quarter
		{1 << 30, 256 << 20},         // an eighth would be 128 MiB: the least default
		{4 << 30, 512 << 20},         // an eighth
		{24 << 30, 3 << 30},          // an eighth
		{64 << 30, MaxDefaultBudget}, // at most 4 GiB
		{40 << 20, MinBudget},        // tiny: never below the minimum
	} {
		if got := DefaultFor(c.total); int64(got) != c.want {
			t.Errorf("DefaultFor(%d MiB) = %d MiB, want %d MiB", c.total>>20, got>>20, c.want>>20)
		}
	}
}

func TestAvailable(t *testing.T) {
	write := func(root, p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	meminfo := "MemTotal:       8388608 kB\nMemFree:        1000 kB\n"

	machine := t.TempDir()
	write(machine, "proc/meminfo", meminfo)
	write(machine, "sys/fs/cgroup/memory.max", "max\n")
	if got := Available(machine); got != 8<<30 {
		t.Errorf("no cgroup limit: %d, want the machine's 8 GiB", got)
	}

	v2 := t.TempDir()
	write(v2, "proc/meminfo", meminfo)
	write(v2, "sys/fs/cgroup/memory.max", "1073741824\n")
	if got := Available(v2); got != 1<<30 {
		t.Errorf("cgroup v2 limit: %d, want 1 GiB", got)
	}

	v1 := t.TempDir()
	write(v1, "proc/meminfo", meminfo)
	write(v1, "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n") // v1's "no limit"
	if got := Available(v1); got != 8<<30 {
		t.Errorf("cgroup v1 without a limit: %d, want 8 GiB", got)
	}

	if got := Available(t.TempDir()); got != 0 {
		t.Errorf("nothing readable: %d, want 0", got)
	}
	if got := Available("/"); got <= 0 {
		t.Errorf("this machine: %d, want its memory", got)
	}
}
