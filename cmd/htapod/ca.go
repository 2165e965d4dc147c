package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/htapod/htapod"
)

// caCommand implements `htapod ca create DIR`.
func caCommand(args []string) int {
	if len(args) != 2 || args[0] != "create" {
		fmt.Fprintln(os.Stderr, "usage: htapod ca create DIR")
		return 2
	}
	cert, key, err := htapod.CreateAuthorityFiles(args[1])
	if errors.Is(err, os.ErrExist) {
		fmt.Fprintf(os.Stderr, "htapod: %s already holds a CA; htapod does not overwrite one. Use it, or choose another directory.\n", args[1])
		return 1
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "htapod: create CA: %v\n", err)
		return 1
	}
	fmt.Printf(`Created a CA for htapod:
  certificate  %s  (share it: this is what programs trust)
  key          %s  (keep it secret: mode 0400)

Use it:       htapod --ca-cert %s --ca-key %s -- COMMAND
Trust it in Firefox:  Settings → Privacy & Security → Certificates → View Certificates
                      → Authorities → Import… → %s
Trust it in Chrome/Chromium (NSS):
                      certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n htapod -i %s
Programs that use the system store trust htapod's CA inside the box without this.
`, cert, key, cert, key, cert, cert)
	return 0
}

// readCerts reads every certificate in a PEM file.
func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return certs, nil
}
