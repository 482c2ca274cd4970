module github.com/smith-build/smith

go 1.25.0

require (
	github.com/alecthomas/kong v1.17.0
	github.com/cavaliergopher/rpm v1.3.0
	github.com/goccy/go-yaml v1.19.2
	github.com/google/go-containerregistry v0.22.1
	github.com/google/rpmpack v0.7.1
	github.com/klauspost/compress v1.20.5
	github.com/sassoftware/go-rpmutils v0.4.0
	github.com/ulikunitz/xz v0.5.17
)

require (
	github.com/DataDog/zstd v1.5.5 // indirect
	github.com/ProtonMail/go-crypto v1.0.0 // indirect
	github.com/cavaliergopher/cpio v1.0.1 // indirect
	github.com/cloudflare/circl v1.3.8 // indirect
	github.com/klauspost/pgzip v1.2.6 // indirect
	github.com/xi2/xz v0.0.0-20171230120015-48954b6210f8 // indirect
	golang.org/x/crypto v0.23.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)
