// Package build turns a smith.yaml (plus rootfs/ beside it) into a
// microcontainer image: it is the pipeline of design.md, from the config to
// the atomically written OCI layout tar.gz.
//
// Contract:
//   - ParseConfig reads smith.yaml into a typed Config: every field of the
//     original smith plus repos, arch, weak and exclude-packages. Unknown
//     fields, wrong types and syntax errors are errors naming file and line.
//   - Resolve solves a request exactly as Run would (the same
//     repositories, arch, weak and exclude settings) without fetching
//     anything: smith resolve and smith why.
//   - Run is a pure function of its Options and the files they name: time
//     (SOURCE_DATE_EPOCH), the host architecture, the host repository
//     directory, the HTTP client, the scripts' environment and temporary
//     directory and the log writers are all parameters; the package reads
//     no environment variable and keeps no global state. (mock scripts are
//     the user's own code and may do as they please.)
//   - Two runs on the same inputs write the same bytes. Packages are
//     extracted in NEVRA order whatever order the repository lists them in,
//     so file conflicts always resolve the same way.
//   - A failed run writes nothing: the output file is replaced atomically
//     only once the whole image is built, and a previous image at that path
//     is left as it was.
//   - The image holds what smith.yaml asks for and nothing else: paths (globs
//     and directories) with their closure (libraries, the loader, #!
//     interpreters), or the whole install without the packages only
//     mock.deps needed; excludes; debuginfo when asked; the /dev /proc /sys
//     /read /write /run directories; mounts; the nss files; rootfs/. Every
//     entry is owned by the run-as user, setuid/setgid/sticky bits and file
//     capabilities are removed (keep-caps: true keeps capabilities as
//     security.capability xattrs), hardlinks stay hardlinks, and build-id
//     links never pull files in nor dangle.
//   - parent: is a local OCI layout (tar.gz, tar or directory), a docker
//     save archive or a registry image (image.Open); its layers are kept as
//     they are under the one new layer and its config is the base.
//   - package: may instead be one OCI image of the same kinds (type: oci,
//     or inferred from a URL, an archive name or a layout directory): its
//     layers are applied with their whiteouts into the staging tree, paths
//     and their closure are taken from it as from installed packages (the
//     image's LD_LIBRARY_PATH and PATH are searched too), and its
//     WorkingDir, Entrypoint, Cmd, Env, ExposedPorts and Labels fill the
//     fields smith.yaml leaves empty. Such an image has no package list
//     blob. Multi-platform images are read for the target architecture.
//   - The output is written in Options.Format (smith's layout tar.gz by
//     default, an OCI layout directory or a docker save archive), then
//     pushed to Options.Push when set; a failed push leaves the written
//     output in place and says so.
//   - mock.pre-build and mock.post-build run on the host with /bin/sh on a
//     temporary copy of the tree, whose changes are read back (see
//     script.go for the differences from the original's mock chroot); on a
//     system without /bin/sh they fail before any work.
//   - Settings that cannot apply fail rather than being ignored (mock.deps
//     with an OCI source: there is no RPM database to install into).
package build
