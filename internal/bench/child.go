package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"time"
)

// childRequest is what a parent sends a child process (one JSON line on
// its standard input).
type childRequest struct {
	Job    string // "serve" (handshake server), "http" (HTTPS server) or "memory"
	Stack  string
	Params Params
	PKI    *PKI
	Conns  int
}

// childReply is the child's one JSON line on its standard output.
type childReply struct {
	Addr   string     `json:",omitempty"`
	Memory *MemoryRun `json:",omitempty"`
	HTTP   *HTTPStats `json:",omitempty"`
	Error  string     `json:",omitempty"`
}

// statsQuery is the line a parent sends an HTTPS server child for its
// HTTPStats.
const statsQuery = "stats"

// Child runs one job for a parent Run (see Options.Spawn): it reads the
// request from in, writes its reply to out and, for a handshake or HTTPS
// server, serves until in is closed (an HTTPS server answers each "stats"
// line on in with its HTTPStats).
func Child(ctx context.Context, in io.Reader, out io.Writer, stacks []Stack) error {
	br := bufio.NewReader(in)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("bench child: reading request: %w", err)
	}
	var req childRequest
	if err := json.Unmarshal(line, &req); err != nil {
		return fmt.Errorf("bench child: bad request: %w", err)
	}
	reply := func(r childReply) error { return json.NewEncoder(out).Encode(r) }
	fail := func(err error) error {
		_ = reply(childReply{Error: err.Error()})
		return err
	}
	if req.PKI == nil {
		return fail(errors.New("bench child: request without PKI"))
	}
	if err := req.PKI.load(); err != nil {
		return fail(err)
	}
	var stack *Stack
	for i := range stacks {
		if stacks[i].Name == req.Stack {
			stack = &stacks[i]
		}
	}
	if stack == nil {
		return fail(fmt.Errorf("bench child: unknown stack %q", req.Stack))
	}
	if req.Job == "http" {
		return serveHTTPChild(br, reply, fail, stack, req)
	}
	ep, err := stack.Configure(req.PKI, req.Params)
	if err != nil {
		return fail(err)
	}
	defer ep.Close()
	switch req.Job {
	case "serve":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fail(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- ServeHandshakes(ctx, ep, ln) }()
		if err := reply(childReply{Addr: ln.Addr().String()}); err != nil {
			ln.Close()
			return err
		}
		_, _ = io.Copy(io.Discard, br) // until the parent closes our stdin
		ln.Close()
		return <-errc
	case "memory":
		m, err := IdleMemory(ctx, ep, req.Conns)
		if err != nil {
			return fail(err)
		}
		return reply(childReply{Memory: &m})
	}
	return fail(fmt.Errorf("bench child: unknown job %q", req.Job))
}

// serveHTTPChild serves HTTPHandler with the stack's HTTPS server until in
// ends, answering stats queries.
func serveHTTPChild(in *bufio.Reader, reply func(childReply) error, fail func(error) error, stack *Stack, req childRequest) error {
	if stack.ServeHTTP == nil {
		return fail(fmt.Errorf("bench child: stack %s has no HTTPS server", stack.Name))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	h := NewHTTPHandler()
	stop, err := stack.ServeHTTP(req.PKI, req.Params, ln, h)
	if err != nil {
		ln.Close()
		return fail(err)
	}
	defer stop()
	if err := reply(childReply{Addr: ln.Addr().String()}); err != nil {
		return err
	}
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			return nil // the parent closed our stdin
		}
		if strings.TrimSpace(line) != statsQuery {
			return fail(fmt.Errorf("bench child: unknown query %q", line))
		}
		st := h.Stats()
		if err := reply(childReply{HTTP: &st}); err != nil {
			return err
		}
	}
}

// child is a running child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startChild starts spawn's command and sends req.
func startChild(spawn func() *exec.Cmd, req childRequest) (*child, error) {
	cmd := spawn()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	line, _ := json.Marshal(req)
	if _, err := stdin.Write(append(line, '\n')); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// pid is the child's process ID.
func (c *child) pid() int { return c.cmd.Process.Pid }

// httpStats asks an HTTPS server child for its HTTPStats.
func (c *child) httpStats() (HTTPStats, error) {
	if _, err := io.WriteString(c.stdin, statsQuery+"\n"); err != nil {
		return HTTPStats{}, err
	}
	r, err := c.reply(30 * time.Second)
	if err != nil {
		return HTTPStats{}, err
	}
	if r.HTTP == nil {
		return HTTPStats{}, errors.New("bench child: no HTTP stats in the reply")
	}
	return *r.HTTP, nil
}

// reply waits (bounded) for the child's reply.
func (c *child) reply(timeout time.Duration) (childReply, error) {
	type res struct {
		r   childReply
		err error
	}
	ch := make(chan res, 1)
	go func() {
		line, err := c.out.ReadBytes('\n')
		if err != nil {
			ch <- res{err: fmt.Errorf("bench child: no reply: %w", err)}
			return
		}
		var r childReply
		if err := json.Unmarshal(line, &r); err != nil {
			ch <- res{err: fmt.Errorf("bench child: bad reply %q: %w", line, err)}
			return
		}
		if r.Error != "" {
			ch <- res{r: r, err: errors.New(r.Error)}
			return
		}
		ch <- res{r: r}
	}()
	select {
	case r := <-ch:
		return r.r, r.err
	case <-time.After(timeout):
		c.stop()
		return childReply{}, errors.New("bench child: timed out")
	}
}

// stop closes the child's stdin and waits for it (killing it after 10s).
func (c *child) stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}
