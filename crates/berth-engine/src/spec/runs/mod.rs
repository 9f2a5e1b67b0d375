//! Specs from `build_spec` run by the berth-runtime binary in a busybox rootfs: what a
//! container sees of Docker's defaults and of each flag. Root only: ignored unless run as
//! root with `--include-ignored`.

mod env;
mod init;
mod run;
