// Command hello-static is the static binary of the static-from-parent
// example: it prints a file of its own layer and one of the parent's.
package main

import (
	"fmt"
	"os"
)

func main() {
	for _, p := range []string{"/read/static.txt", "/read/data"} {
		b, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%s: %s", p, b)
	}
}
