#!/usr/bin/env bash
# Sourced by the scripts that read the published corpus: sets `corpus` to the folder given as
# the first argument, else to ../shared/corpus/autopilot-failures or the same one level
# further up (git worktrees), and exits 2 with a message when it has no raw_logs/.
# Run from the workspace root.
corpus=${1:-}
if [ -z "$corpus" ]; then
    for candidate in ../shared/corpus/autopilot-failures ../../shared/corpus/autopilot-failures; do
        if [ -d "$candidate/raw_logs" ]; then corpus=$candidate; break; fi
    done
fi
if [ -z "$corpus" ] || [ ! -d "$corpus/raw_logs" ]; then
    echo "error: the published corpus (autopilot-failures/raw_logs) was not found; pass its folder" >&2
    exit 2
fi
