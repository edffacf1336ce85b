// io.Copy between two TCP connections and between two unix-socket
// connections: Go's TCPConn.ReadFrom moves the bytes with splice(2)
// through a pipe (falling back to read/write only on EINVAL/ENOSYS-less
// kernels), so this is Go's own splice path end to end. Also
// io.Copy from an os.File to a TCP connection (sendfile) and from a pipe
// (sendfile says EINVAL; Go falls back to a plain copy).
package main

import (
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"path/filepath"
)

const total = 3 << 20

func pattern() []byte {
	b := make([]byte, total)
	for i := range b {
		b[i] = byte(i*131 + i/977)
	}
	return b
}

// sink accepts one connection and reports how many bytes it read and their CRC.
func sink(l net.Listener, done chan<- string) {
	c, err := l.Accept()
	if err != nil {
		done <- "accept: " + err.Error()
		return
	}
	h := crc32.NewIEEE()
	n, err := io.Copy(h, c)
	c.Close()
	done <- fmt.Sprintf("sink read %d bytes crc %08x err %v", n, h.Sum32(), err)
}

// relay copies everything arriving on `in` (from a writer goroutine) to a connection to `out`.
func relay(network string, in, out net.Listener, data []byte) {
	done := make(chan string)
	go sink(out, done)
	go func() {
		c, err := net.Dial(network, in.Addr().String())
		if err != nil {
			fmt.Println("dial:", err)
			os.Exit(1)
		}
		c.Write(data)
		c.Close()
	}()
	src, err := in.Accept()
	if err != nil {
		fmt.Println("accept:", err)
		os.Exit(1)
	}
	dst, err := net.Dial(network, out.Addr().String())
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	n, err := io.Copy(dst, src)
	fmt.Printf("%s: io.Copy moved %d bytes, err %v\n", network, n, err)
	dst.Close()
	src.Close()
	fmt.Printf("%s: %s\n", network, <-done)
}

func listen(network, addr string) net.Listener {
	l, err := net.Listen(network, addr)
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	return l
}

// fromReader copies a reader to a TCP connection (sendfile for an *os.File).
func fromReader(label string, r io.Reader) {
	out := listen("tcp", "127.0.0.1:0")
	defer out.Close()
	done := make(chan string)
	go sink(out, done)
	dst, err := net.Dial("tcp", out.Addr().String())
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	n, err := io.Copy(dst, r)
	dst.Close()
	fmt.Printf("%s: io.Copy moved %d bytes, err %v; %s\n", label, n, err, <-done)
}

func main() {
	dir := os.Args[1]
	data := pattern()
	fmt.Printf("data crc %08x\n", crc32.ChecksumIEEE(data))

	a, b := listen("tcp", "127.0.0.1:0"), listen("tcp", "127.0.0.1:0")
	relay("tcp", a, b, data)
	a.Close()
	b.Close()

	u1, u2 := listen("unix", filepath.Join(dir, "in.sock")), listen("unix", filepath.Join(dir, "out.sock"))
	relay("unix", u1, u2, data)
	u1.Close()
	u2.Close()

	path := filepath.Join(dir, "data.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	f, _ := os.Open(path)
	fromReader("file", f)
	f.Close()

	pr, pw, _ := os.Pipe()
	go func() {
		pw.Write(data[:100000])
		pw.Close()
	}()
	fromReader("pipe", pr)
}
