package image

// ArchToOCI maps an RPM architecture to the OCI (GOARCH) architecture and
// variant. It returns "", "" for noarch and for architectures it does not
// know: the caller decides (usually from the other packages).
func ArchToOCI(rpmArch string) (arch, variant string) {
	switch rpmArch {
	case "x86_64", "amd64":
		return "amd64", ""
	case "aarch64", "arm64":
		return "arm64", "v8"
	case "i386", "i486", "i586", "i686", "athlon", "geode", "pentium3", "pentium4":
		return "386", ""
	case "ppc64le":
		return "ppc64le", ""
	case "ppc64":
		return "ppc64", ""
	case "s390x":
		return "s390x", ""
	case "riscv64":
		return "riscv64", ""
	case "armv7hl", "armv7hnl", "armv7l":
		return "arm", "v7"
	case "armv6hl", "armv6l":
		return "arm", "v6"
	case "loongarch64":
		return "loong64", ""
	}
	return "", ""
}
