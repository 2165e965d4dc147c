package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/htapod/htapod"
	"github.com/htapod/htapod/internal/lineout"
	"github.com/htapod/htapod/sink/har"
	"github.com/htapod/htapod/sink/pcapng"
	"github.com/htapod/htapod/sink/summary"
)

// files are the output files htapod opened for a run: the library flushes
// and closes its sinks; the files themselves are closed here, after Run.
type files struct {
	report  io.Writer     // where report (or JSON) lines and the summary go
	buf     *bufio.Writer // report's buffer when it is a file
	closers []io.Closer
}

// openOutputs opens the files the flags name and returns the options
// that attach them.
func (o *options) openOutputs() ([]htapod.Option, *files, error) {
	fl := &files{report: os.Stderr}
	var opts []htapod.Option
	if o.output == "" {
		// A stderr that is a pipe or a terminal is written through an open
		// file of htapod's own, in the poller: a reader that lags must not
		// stall relaying (see lineout.NonBlocking).
		if f := lineout.NonBlocking(os.Stderr); f != os.Stderr {
			fl.closers = append(fl.closers, f)
			fl.report = f
		}
	} else {
		f, err := os.OpenFile(o.output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, fl, fmt.Errorf("cannot write the report: %w", err)
		}
		fl.closers = append(fl.closers, f)
		// The run flushes the buffer on its clock: a busy run costs one
		// write call per flush, not one per line.
		fl.buf = bufio.NewWriterSize(f, 64<<10)
		fl.report = fl.buf
	}
	if o.json {
		opts = append(opts, htapod.WithJSON(fl.report))
	} else {
		opts = append(opts, htapod.WithReport(fl.report))
	}
	if o.har != "" {
		w, err := har.New(o.har)
		if err != nil {
			return nil, fl, fmt.Errorf("cannot write the HAR file: %w", err)
		}
		opts = append(opts, htapod.WithHAR(w))
	}
	if o.keylog != "" {
		f, err := os.OpenFile(o.keylog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fl, fmt.Errorf("cannot write the key log: %w", err)
		}
		fl.closers = append(fl.closers, f)
		opts = append(opts, htapod.WithKeyLog(f))
	}
	if o.pcap != "" {
		p, err := pcapng.Create(o.pcap, o.snapLen, "htapod")
		if err != nil {
			return nil, fl, fmt.Errorf("cannot write the capture: %w", err)
		}
		opts = append(opts, htapod.WithPcap(p))
	}
	return opts, fl, nil
}

// close flushes the report's buffer and closes the files.
func (fl *files) close() error {
	var errs []error
	if fl.buf != nil {
		errs = append(errs, fl.buf.Flush())
	}
	for _, c := range fl.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// runCommand runs argv with opts and the outputs the flags ask for, and
// returns htapod's exit status.
func (o *options) runCommand(opts []htapod.Option, argv []string) int {
	outs, fl, err := o.openOutputs()
	if err != nil {
		fl.close()
		fmt.Fprintf(os.Stderr, "htapod: %v\n", err)
		return 125
	}
	opts = append(opts, outs...)
	opts = append(opts, htapod.WithGOMAXPROCS(relayProcs()))
	servePprof()
	opts = append(opts, htapod.WithEnv(stripPprofEnv(os.Environ())))
	sum := summary.New()
	opts = append(opts, htapod.WithSink(sum))
	if o.filter != "" || o.grep != "" {
		// The table counts what the filter kept; its title says of what.
		opts = append(opts, htapod.WithEventHandler(sum.CountAll()))
	}
	status, err := htapod.New(opts...).Run(context.Background(), argv...)
	if !o.json && !htapodFailed(err) && o.wantSummary(sum.Flows()) {
		sum.Write(fl.report)
	}
	if !htapodFailed(err) {
		polReport := fl.report
		if o.json {
			polReport = os.Stderr // the JSON lines carry the denials
		}
		o.pol.finish(polReport)
	}
	if cerr := fl.close(); cerr != nil && o.output != "" {
		trimCutLine(o.output)
		err = errors.Join(err, &htapod.OutputError{Output: "report file " + o.output, Err: cerr})
	}
	return o.pol.exitCode(exitCode(status, err))
}

// exitCode is htapod's exit status: the command's, or 125 when htapod
// itself failed, or when the command succeeded but an output could not be
// completed (a failing command's status says more than 125 would). Each
// error is told to the user.
func exitCode(status htapod.Status, err error) int {
	if err == nil {
		return status.Code
	}
	for _, e := range splitErrors(err) {
		if oe := (*htapod.OutputError)(nil); errors.As(e, &oe) {
			fmt.Fprintf(os.Stderr, "htapod: the %s is not complete: %v\n", oe.Output, oe.Err)
		} else {
			reportFailure(e)
		}
	}
	if htapodFailed(err) || status.Code == 0 {
		return 125
	}
	return status.Code
}

// splitErrors returns the errors joined in err, or err alone.
func splitErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// htapodFailed reports whether err says htapod itself failed (rather than
// only an output).
func htapodFailed(err error) bool {
	if err == nil {
		return false
	}
	for _, e := range splitErrors(err) {
		if oe := (*htapod.OutputError)(nil); !errors.As(e, &oe) {
			return true
		}
	}
	return false
}

// trimCutLine cuts the file at path after its last whole line: a report or
// JSON lines file whose writing failed (a full disk) must not end inside a
// line that a reader would take for a whole one, or fail to parse. Only a
// regular file is touched; failures leave it as it is.
func trimCutLine(path string) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return
	}
	const tail = 1 << 20 // a line is far shorter; beyond that, keep the file
	start := max(0, fi.Size()-tail)
	buf := make([]byte, fi.Size()-start)
	if _, err := f.ReadAt(buf, start); err != nil {
		return
	}
	if buf[len(buf)-1] == '\n' {
		return
	}
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		f.Truncate(start + int64(i) + 1)
	} else if start == 0 {
		f.Truncate(0)
	}
}
