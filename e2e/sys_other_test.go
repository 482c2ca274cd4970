//go:build !unix

package e2e

import "os"

func maxRSS(*os.ProcessState) int64 { return 0 }

func statOwner(os.FileInfo) (int, bool) { return 0, false }
