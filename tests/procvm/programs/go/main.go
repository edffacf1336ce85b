// A Go program for the process VM's differential test: run under
// qemu-riscv64 and `typevisor exec`, it must print the same lines and exit
// with the same status. It exercises what the Go runtime asks of the
// kernel: threads (clone), futexes, the netpoller (epoll + a pipe or
// eventfd), timers, signals (os/signal, SIGURG preemption, SIGSEGV turned
// into a panic), the garbage collector, pipes and files. Nothing it prints
// depends on timing.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func goroutines() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	total := 0
	var atomicTotal int64
	done := make(chan int, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				mu.Lock()
				total++
				mu.Unlock()
				atomic.AddInt64(&atomicTotal, 2)
				if i%500 == 0 {
					runtime.Gosched()
				}
			}
			done <- id
		}(g)
	}
	wg.Wait()
	close(done)
	sum := 0
	for id := range done {
		sum += id
	}
	fmt.Println("goroutines: total", total, "atomic", atomicTotal, "ids", sum)
}

func timers() {
	start := time.Now()
	time.Sleep(15 * time.Millisecond)
	slept := time.Since(start) >= 15*time.Millisecond

	ticker := time.NewTicker(2 * time.Millisecond)
	ticks := 0
	for range ticker.C {
		ticks++
		if ticks == 5 {
			break
		}
	}
	ticker.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	never := make(chan int)
	select {
	case <-never:
		fmt.Println("timers: impossible")
	case <-ctx.Done():
	}
	fired := make(chan string, 1)
	time.AfterFunc(3*time.Millisecond, func() { fired <- "afterfunc" })
	select {
	case s := <-fired:
		fmt.Println("timers: slept", slept, "ticks", ticks, "ctx", ctx.Err(), s)
	case <-time.After(5 * time.Second):
		fmt.Println("timers: AfterFunc never fired")
	}
}

// pipes moves data through an os.Pipe: Go makes both ends non-blocking and
// parks the goroutines in its netpoller (epoll) while they wait.
func pipes() {
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Println("pipe:", err)
		return
	}
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	go func() {
		for off := 0; off < len(data); off += 4096 {
			if _, err := w.Write(data[off : off+4096]); err != nil {
				fmt.Println("write:", err)
			}
		}
		w.Close()
	}()
	got, err := io.ReadAll(r)
	r.Close()
	fmt.Printf("pipes: %d bytes, sha256 %x, err %v\n", len(got), sha256.Sum256(got), err)

	// A read deadline on a pipe: the netpoller's timer ends the read.
	r2, w2, _ := os.Pipe()
	r2.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
	_, err = r2.Read(make([]byte, 1))
	fmt.Println("pipes: deadline", errors.Is(err, os.ErrDeadlineExceeded))
	r2.Close()
	w2.Close()
}

func files(dir string) {
	p := filepath.Join(dir, "a.json")
	type rec struct {
		Name  string
		Score float64
		Tags  []string
	}
	in := []rec{{"b", 2.5, []string{"x"}}, {"a", math.Pi, nil}, {"c", -1e-9, []string{"y", "z"}}}
	b, _ := json.Marshal(in)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		fmt.Println("files:", err)
		return
	}
	var out []rec
	raw, _ := os.ReadFile(p)
	json.Unmarshal(raw, &out)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "x"), []byte("x"), 0o600)
	entries, _ := os.ReadDir(dir)
	names := []string{}
	for _, e := range entries {
		names = append(names, fmt.Sprintf("%s:%v", e.Name(), e.IsDir()))
	}
	st, _ := os.Stat(p)
	_, err := os.Open(filepath.Join(dir, "missing"))
	fmt.Println("files:", out[0].Name, out[1].Score, len(raw) == int(st.Size()), strings.Join(names, ","), errors.Is(err, os.ErrNotExist))
}

func signals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	select {
	case s := <-ch:
		fmt.Println("signals: got", s)
	case <-time.After(5 * time.Second):
		fmt.Println("signals: SIGUSR1 never arrived")
	}
	signal.Stop(ch)

	// A nil pointer write is a SIGSEGV that Go's handler turns into a panic.
	func() {
		defer func() { fmt.Println("signals: recovered:", recover()) }()
		var p *struct{ x [64]int }
		p.x[3] = 1
	}()
}

// preemption needs asynchronous preemption: with one P, the spinning
// goroutine only yields when sysmon sends its thread SIGURG.
func preemption() {
	old := runtime.GOMAXPROCS(1)
	var stop atomic.Bool
	started := make(chan bool)
	go func() {
		started <- true
		x := 0
		for !stop.Load() {
			x++
		}
		_ = x
	}()
	<-started
	time.Sleep(20 * time.Millisecond)
	stop.Store(true)
	runtime.GOMAXPROCS(old)
	fmt.Println("preemption: main ran again")
}

func garbage() {
	var keep [][]byte
	for i := 0; i < 200; i++ {
		b := make([]byte, 64<<10)
		b[0] = byte(i)
		if i%10 == 0 {
			keep = append(keep, b)
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	sum := 0
	for _, b := range keep {
		sum += int(b[0])
	}
	fmt.Println("garbage: kept", len(keep), "sum", sum, "gc ran", ms.NumGC > 0)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go-test SCRATCH-DIR")
		os.Exit(2)
	}
	goroutines()
	timers()
	pipes()
	files(os.Args[1])
	signals()
	preemption()
	garbage()
	fmt.Fprintln(os.Stderr, "done, exiting with 3")
	os.Exit(3)
}
