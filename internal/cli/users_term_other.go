//go:build !linux

package cli

import (
	"errors"
	"os"
)

func readNoEcho(*os.File) (string, error) {
	return "", errors.New("no password prompt on this system: use --password-stdin")
}
