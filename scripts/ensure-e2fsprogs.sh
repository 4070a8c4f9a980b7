# Sourced by run.sh: the ext2/ext4 tests and `buflet demo --image` use e2fsprogs (mke2fs, debugfs,
# e2fsck). Debian installs them by default; install them from Debian when root and missing.
ensure_e2fsprogs() {
  if PATH="$PATH:/usr/sbin:/sbin" command -v mke2fs >/dev/null 2>&1 \
     && PATH="$PATH:/usr/sbin:/sbin" command -v debugfs >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "run.sh: installing e2fsprogs from Debian" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq e2fsprogs >&2
  else
    echo "run.sh: e2fsprogs (mke2fs, debugfs, e2fsck) not found and cannot install it: install e2fsprogs" >&2
    return 1
  fi
}
