// Command quotatui is a terminal dashboard and local proxy for Antigravity
// quota across several Google accounts. This file parses the subcommand and
// wires the parts together; the logic lives in internal/.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help") {
		fmt.Println("usage: quotatui [demo|serve|login|accounts|status|config]")
		return
	}
	fmt.Fprintln(os.Stderr, "quotatui: not wired yet")
	os.Exit(2)
}
