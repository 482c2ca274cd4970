// Package build turns a smith.yaml (plus rootfs/ beside it) into a
// microcontainer image: it is the pipeline of design.md, from the config to
// the atomically written OCI layout tar.gz.
//
// Contract:
//   - ParseConfig reads smith.yaml into a typed Config: every field of the
//     original smith plus repos, arch, weak and exclude-packages. Unknown
//     fields, wrong types and syntax errors are errors naming file and line.
//   - Run is a pure function of its Options and the files they name: time
//     (SOURCE_DATE_EPOCH), the host architecture, the host repository
//     directory, the HTTP client and the log writers are all parameters; the
//     package reads no environment variable and keeps no global state.
//   - Two runs on the same inputs write the same bytes. Packages are
//     extracted in NEVRA order whatever order the repository lists them in,
//     so file conflicts always resolve the same way.
//   - A failed run writes nothing: the output file is replaced atomically
//     only once the whole image is built, and a previous image at that path
//     is left as it was.
//   - Settings that are parsed but not implemented yet (OCI sources, parents
//     from registries, mock pre/post-build scripts, debuginfo) fail with
//     "not supported yet: FIELD" instead of being ignored.
package build
