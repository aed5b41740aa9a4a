#!/usr/bin/env bash
# Installs the OS packages autopilot needs to compile and simulate AVR sketches offline
# (Debian/Ubuntu): arduino-builder, the AVR core, avr-gcc, avr-libc and simavr, and bubblewrap
# (the sandbox generated code compiles and runs in; prlimit comes with util-linux).
# Does nothing when they are all present. Uses sudo when not run as root.
set -euo pipefail
# g++ and g++-multilib: the host TinyML check builds TFLM sketches natively (-m32 when present).
packages=(arduino-builder arduino-core-avr gcc-avr avr-libc simavr bubblewrap util-linux g++ g++-multilib)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "installing OS packages: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
