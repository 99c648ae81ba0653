#!/usr/bin/env bash
# exp/ablation_cells.sh save|restore OUT [KEPT]: keep an ablation's finished cells across machines.
#
# A session's machine is wiped when it ends (data, checkpoints and the --out folder go), but a
# finished cell is only its cell.json and its evaluation log (eval/episodes.jsonl, what the paired
# tests read). `save` copies those, with the grid's ablation_config.json, from OUT into KEPT (in
# the repository, committed); `restore` copies them back into a fresh OUT, so that
# `egogym ablate NAME --out OUT` keeps those cells and runs only the rest, and `--report` covers all.
# A drive cell (pose_ik) whose base cell was restored but not itself finished trains its base
# again (the checkpoint is gone): at most the cells that were running when the grid stopped.
set -eu
mode=$1; out=$2; kept=${3:-$(dirname "$0")/../docs/results/recipe_cells}
case $mode in
  save)
    mkdir -p "$kept"
    cp "$out/ablation_config.json" "$kept/"
    for m in "$out"/cells/*/cell.json; do
      [ -e "$m" ] || continue
      c=$(basename "$(dirname "$m")")
      mkdir -p "$kept/$c"
      cp "$m" "$kept/$c/cell.json"
      gzip -9nc "$out/cells/$c/eval/episodes.jsonl" > "$kept/$c/episodes.jsonl.gz"
    done
    echo "saved $(ls -d "$kept"/*/ 2>/dev/null | wc -l) cells into $kept" ;;
  restore)
    mkdir -p "$out/cells"
    cp -n "$kept/ablation_config.json" "$out/"
    for m in "$kept"/*/cell.json; do
      [ -e "$m" ] || continue
      c=$(basename "$(dirname "$m")")
      [ -e "$out/cells/$c/cell.json" ] && continue
      mkdir -p "$out/cells/$c/eval"
      gunzip -c "$kept/$c/episodes.jsonl.gz" > "$out/cells/$c/eval/episodes.jsonl"
      cp "$m" "$out/cells/$c/cell.json"  # last: the marker that the cell is finished
    done
    echo "restored $(ls -d "$out"/cells/*/ | wc -l) cells into $out" ;;
  *) echo "usage: $0 save|restore OUT [KEPT]" >&2; exit 2 ;;
esac
