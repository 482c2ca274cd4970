package dep

import "strings"

// Noarch is the architecture of packages that run anywhere.
const Noarch = "noarch"

// ArchFromGo returns the rpm architecture for a GOARCH value (amd64 →
// x86_64, arm64 → aarch64, 386 → i686), or "" when there is none.
func ArchFromGo(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "i686"
	case "arm":
		return "armv7hl"
	case "ppc64le", "ppc64", "s390x", "riscv64":
		return goarch
	case "loong64":
		return "loongarch64"
	case "mips64le":
		return "mips64el"
	}
	return ""
}

// ArchToGo returns the GOARCH value for an rpm architecture (x86_64 → amd64,
// aarch64 → arm64, i686/i586/i486/i386 → 386), or "" for noarch and for
// architectures Go does not know.
func ArchToGo(rpmArch string) string {
	switch rpmArch {
	case "x86_64", "amd64", "x86_64_v2", "x86_64_v3", "x86_64_v4":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "i686", "i586", "i486", "i386", "athlon":
		return "386"
	case "armv7hl", "armv7hnl", "armv7l", "armv6hl", "armv6l":
		return "arm"
	case "ppc64le", "ppc64", "s390x", "riscv64":
		return rpmArch
	case "loongarch64":
		return "loong64"
	case "mips64el":
		return "mips64le"
	}
	return ""
}

// compatibleWith lists, best first, the architectures whose packages run on
// a machine of the given architecture, without multilib: x86_64 does not
// list i686, because a 32-bit package is only wanted when asked for by name.
func compatibleWith(arch string) []string {
	switch arch {
	case "x86_64_v4":
		return []string{"x86_64_v4", "x86_64_v3", "x86_64_v2", "x86_64"}
	case "x86_64_v3":
		return []string{"x86_64_v3", "x86_64_v2", "x86_64"}
	case "x86_64_v2":
		return []string{"x86_64_v2", "x86_64"}
	case "i686":
		return []string{"i686", "i586", "i486", "i386"}
	case "i586":
		return []string{"i586", "i486", "i386"}
	case "i486":
		return []string{"i486", "i386"}
	case "athlon":
		return []string{"athlon", "i686", "i586", "i486", "i386"}
	case "armv7hnl":
		return []string{"armv7hnl", "armv7hl", "armv6hl"}
	case "armv7hl":
		return []string{"armv7hl", "armv6hl"}
	}
	return []string{arch}
}

// CompatibleArches returns the architectures installable on target, best
// first, ending with noarch: x86_64 → [x86_64 noarch]; i686 → [i686 i586
// i486 i386 noarch]. An unknown target is compatible with itself and noarch.
func CompatibleArches(target string) []string {
	if target == "" || target == Noarch {
		return []string{Noarch}
	}
	return append(compatibleWith(target), Noarch)
}

// Is64Bit reports whether the architecture is a 64-bit one, the "color" rpm
// and libsolv use to let x86_64 and i686 builds of one package coexist.
func Is64Bit(arch string) bool { return arch == "s390x" || strings.Contains(arch, "64") }
