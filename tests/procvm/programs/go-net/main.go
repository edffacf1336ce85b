// A Go network program for the process VM's differential test: an HTTP
// server and its clients in one process, on 127.0.0.1 with a kernel-chosen
// port, plus a raw TCP echo and a UDP round trip. Everything goes through
// Go's netpoller (non-blocking sockets in epoll, edge-triggered). Output
// does not depend on ports or timing.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

type reply struct {
	Path  string `json:"path"`
	Sum   string `json:"sum"`
	Bytes int    `json:"bytes"`
}

func httpRoundTrips() {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(reply{Path: r.URL.Path, Sum: fmt.Sprintf("%x", sha256.Sum256(body))[:16], Bytes: len(body)})
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("0123456789abcdef", 4096)
		for i := 0; i < 32; i++ {
			io.WriteString(w, chunk)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		return
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	base := "http://" + ln.Addr().String()

	var wg sync.WaitGroup
	results := make([]string, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := strings.NewReader(strings.Repeat(fmt.Sprint(i), 1000*(i+1)))
			resp, err := http.Post(base+"/echo", "text/plain", body)
			if err != nil {
				results[i] = "error: " + err.Error()
				return
			}
			defer resp.Body.Close()
			var r reply
			json.NewDecoder(resp.Body).Decode(&r)
			results[i] = fmt.Sprintf("%d %s %s %d", resp.StatusCode, r.Path, r.Sum, r.Bytes)
		}(i)
	}
	wg.Wait()
	for i, r := range results {
		fmt.Println("http post", i, r)
	}

	resp, err := http.Get(base + "/big")
	if err == nil {
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("http get /big: %d %d bytes sha256 %x\n", resp.StatusCode, len(data), sha256.Sum256(data))
	} else {
		fmt.Println("http get:", err)
	}
	resp, err = http.Get(base + "/missing")
	if err == nil {
		resp.Body.Close()
		fmt.Println("http get /missing:", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	fmt.Println("shutdown:", srv.Shutdown(ctx))
}

func tcpEcho() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		return
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				s := bufio.NewScanner(c)
				for s.Scan() {
					fmt.Fprintf(c, "%s\n", strings.ToUpper(s.Text()))
				}
			}(c)
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	r := bufio.NewReader(c)
	words := []string{"alpha", "beta", "gamma"}
	for _, w := range words {
		fmt.Fprintf(c, "%s\n", w)
		line, _ := r.ReadString('\n')
		fmt.Print("tcp echo: ", line)
	}
	c.(*net.TCPConn).CloseWrite()
	_, err = r.ReadString('\n')
	fmt.Println("tcp after close-write:", err == io.EOF)
	c.Close()
	ln.Close()

	// A port nobody listens on: connection refused.
	_, err = net.Dial("tcp", ln.Addr().String())
	fmt.Println("tcp refused:", errors.Is(err, syscall.ECONNREFUSED))

	// A read deadline on an idle connection.
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() {
		c, err := ln2.Accept()
		if err == nil {
			time.Sleep(200 * time.Millisecond)
			c.Close()
		}
	}()
	c2, _ := net.Dial("tcp", ln2.Addr().String())
	c2.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = c2.Read(make([]byte, 1))
	fmt.Println("tcp read deadline:", errors.Is(err, os.ErrDeadlineExceeded))
	c2.Close()
	ln2.Close()
}

func udp() {
	a, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("udp:", err)
		return
	}
	b, _ := net.ListenPacket("udp", "127.0.0.1:0")
	msgs := []string{"one", "two", "three"}
	for _, m := range msgs {
		b.WriteTo([]byte(m), a.LocalAddr())
	}
	got := []string{}
	buf := make([]byte, 100)
	for range msgs {
		a.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, from, err := a.ReadFrom(buf)
		if err != nil {
			got = append(got, "error")
			continue
		}
		got = append(got, fmt.Sprintf("%s(from b: %v)", buf[:n], from.String() == b.LocalAddr().String()))
	}
	sort.Strings(got)
	fmt.Println("udp:", strings.Join(got, " "))
	a.Close()
	b.Close()
}

func main() {
	httpRoundTrips()
	tcpEcho()
	udp()
}
