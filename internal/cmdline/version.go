package cmdline

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// VersionText is what `quotatui --version` and `quotatui version` print:
// the version, the commit it was built from and the Go toolchain, read
// from the binary's build information. version is the one set at link time
// (-ldflags "-X main.version=..."), "dev" when none was.
func VersionText(version string) string {
	bi, _ := debug.ReadBuildInfo()
	return versionText(version, bi)
}

// versionText is VersionText over given build information (nil when the
// binary has none).
func versionText(version string, bi *debug.BuildInfo) string {
	goVersion := runtime.Version()
	commit, modified, when := "", false, ""
	if bi != nil {
		// `go install module@v1.2.3` stamps the module's version; a build
		// in a checkout says "(devel)", or a pseudo-version since Go 1.24.
		if (version == "" || version == "dev") && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			case "vcs.time":
				when = s.Value
			}
		}
	}
	if version == "" {
		version = "dev"
	}
	rev := "commit unknown (built without version control information)"
	if commit != "" {
		if len(commit) > 12 {
			commit = commit[:12]
		}
		rev = "commit " + commit
		switch {
		case modified && when != "":
			rev += " (" + when + ", with uncommitted changes)"
		case modified:
			rev += " (with uncommitted changes)"
		case when != "":
			rev += " (" + when + ")"
		}
	}
	return fmt.Sprintf("quotatui %s, %s, built with %s for %s/%s", version, rev, goVersion, runtime.GOOS, runtime.GOARCH)
}
