#!/usr/bin/env bash
# The round trip a LeRobot user makes with egogym, end to end, on CPU (docs/ECOSYSTEM.md, issue 26):
#   1. egogym collect          scripted demos -> robot.hdf5                       (.venv)
#   2. egogym export lerobot   robot.hdf5 -> a LeRobotDataset v3.0 folder          (.venv-sam2: ledataset)
#   3. lerobot-train           ACT, a few steps, no pretrained backbone weights   (LeRobot's venv)
#   4. lerobot-eval            --env.type=egogym (the lerobot_env_egogym plugin)  (LeRobot's venv)
#   5. egogym eval             --policy lerobot:... (egogym's harness and records) (LeRobot's venv)
# and prints what each reports (success, records). Nothing here is trained to succeed: a few
# steps of ACT check the plumbing, not the policy.
#
# LeRobot 0.6.1 needs Python >= 3.12 and torch < 2.12, egogym's .venv is 3.11 with torch 2.13, so
# LeRobot lives in a venv of its own with egogym and the plugin installed into it:
#   ~/.pyenv/versions/3.12.1/bin/python -m venv /work/venv-lerobot
#   /work/venv-lerobot/bin/pip install 'lerobot[training,evaluation]==0.6.1'
#   /work/venv-lerobot/bin/pip install -e . -e ./plugins/lerobot_env_egogym pytest hypothesis
#
# Usage: bash bench/lerobot_roundtrip.sh [OUT_DIR]   (default bench/results/lerobot_roundtrip; replaced)
# Knobs (environment): LEROBOT_VENV, EGOGYM_VENV, DATASET_VENV, H, W, EPISODES, DEMO_STEPS,
# TRAIN_STEPS, EVAL_STEPS, EVAL_EPISODES.
set -euo pipefail
SECONDS=0
cd "$(dirname "$0")/.."
OUT=${1:-bench/results/lerobot_roundtrip}
LEROBOT_VENV=${LEROBOT_VENV:-/work/venv-lerobot}
EGOGYM_VENV=${EGOGYM_VENV:-.venv}
DATASET_VENV=${DATASET_VENV:-.venv-sam2}
H=${H:-48}; W=${W:-64}                  # small images: CPU only (h264 needs even sizes)
EPISODES=${EPISODES:-3}; DEMO_STEPS=${DEMO_STEPS:-150}
TRAIN_STEPS=${TRAIN_STEPS:-20}; EVAL_STEPS=${EVAL_STEPS:-100}; EVAL_EPISODES=${EVAL_EPISODES:-2}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_MODE=disabled OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

rm -rf "$OUT"; mkdir -p "$OUT"
run() { echo "\$ $*"; "$@"; }
run_logged() { local log=$1; shift; echo "\$ $* > $log"; "$@" > "$log" 2>&1 || { tail -n 30 "$log"; exit 1; }; }
say() { echo; echo "== $* [${SECONDS} s]"; }

say "0. egogym's LeRobot tests, in LeRobot's venv (its preprocess_observation agrees with egogym's batch)"
run "$LEROBOT_VENV/bin/python" -m pytest -q -p no:cacheprovider tests/integrations/test_lerobot_env.py \
    tests/policies/test_lerobot_policy.py 2>&1 | tail -n 2

say "versions"
"$LEROBOT_VENV/bin/python" -c "import sys, importlib.metadata as m; print('python', sys.version.split()[0]); [print(p, m.version(p)) for p in ('lerobot', 'torch', 'gymnasium', 'egogym', 'lerobot_env_egogym')]"

say "1. collect $EPISODES scripted demos ($DEMO_STEPS steps, ${H}x${W})"
run "$EGOGYM_VENV/bin/egogym" collect --episodes "$EPISODES" --max-steps "$DEMO_STEPS" --image-size "$H" "$W" \
    --out "$OUT/robot.hdf5" --no-progress

say "2. export it as a LeRobotDataset"
run "$DATASET_VENV/bin/egogym" export lerobot "$OUT/robot.hdf5" --out "$OUT/dataset" --repo-id egogym/robot --no-progress
"$LEROBOT_VENV/bin/python" - "$OUT/dataset" <<'EOF'
import json, sys
info = json.load(open(f"{sys.argv[1]}/meta/info.json"))
print("dataset:", info["total_episodes"], "episodes,", info["total_frames"], "frames, fps", info["fps"])
print("features:", ", ".join(sorted(info["features"])))
EOF

say "3. lerobot-train ACT for $TRAIN_STEPS steps (no pretrained backbone: nothing is downloaded)"
run_logged "$OUT/train.log" "$LEROBOT_VENV/bin/lerobot-train" --dataset.repo_id=egogym/robot --dataset.root="$OUT/dataset" \
    --dataset.video_backend=pyav --policy.type=act --policy.pretrained_backbone_weights=null \
    --policy.device=cpu --policy.push_to_hub=false --steps="$TRAIN_STEPS" --batch_size=4 --num_workers=0 \
    --save_freq="$TRAIN_STEPS" --log_freq=5 --output_dir="$OUT/train"
grep -oE "step:[0-9]+ .* loss:[0-9.]+|Checkpoint policy after step [0-9]+|End of training" "$OUT/train.log"
PM="$OUT/train/checkpoints/last/pretrained_model"
test -f "$PM/model.safetensors" || { echo "lerobot-train wrote no $PM"; exit 1; }
CAMS=$("$LEROBOT_VENV/bin/python" -c "import json,sys; print(','.join(k.split('.',2)[2] for k in json.load(open(sys.argv[1]))['input_features'] if k.startswith('observation.images.')))" "$PM/config.json")
echo "the policy reads cameras: $CAMS"

say "4. lerobot-eval --env.type=egogym ($EVAL_EPISODES episodes of $EVAL_STEPS steps, async vector env)"
run_logged "$OUT/lerobot_eval.log" "$LEROBOT_VENV/bin/lerobot-eval" --policy.path="$PM" --policy.device=cpu --env.type=egogym \
    --env.task=ObjectInBowl-v0 --env.cameras="$CAMS" --env.observation_height="$H" --env.observation_width="$W" \
    --env.episode_length="$EVAL_STEPS" --eval.n_episodes="$EVAL_EPISODES" --eval.batch_size="$EVAL_EPISODES" \
    --eval.use_async_envs=true --output_dir="$OUT/lerobot_eval"
grep -oE "Making environment.*|End of eval" "$OUT/lerobot_eval.log"
"$LEROBOT_VENV/bin/python" - "$OUT/lerobot_eval" <<'EOF'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
info = json.load(open(out / "eval_info.json"))
print("eval_info.json overall:", {k: v for k, v in info["overall"].items() if k in ("pc_success", "avg_sum_reward", "n_episodes", "eval_s")})
for t in info["per_task"]:
    print(f"per task {t['task_group']}/{t['task_id']}: successes", t["metrics"]["successes"], "sum_rewards", t["metrics"]["sum_rewards"])
print("videos:", sorted(p.name for p in out.rglob("*.mp4")))
EOF

say "5. egogym eval --policy lerobot:... (egogym's harness)"
run "$LEROBOT_VENV/bin/egogym" eval --policy "lerobot:$OUT/train" --env egogym/ObjectInBowl-v0 --image-size "$H" "$W" \
    --episodes "$EVAL_EPISODES" --max-steps "$EVAL_STEPS" --device cpu --out "$OUT/egogym_eval" --quiet
"$LEROBOT_VENV/bin/python" - "$OUT/egogym_eval" <<'EOF'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
recs = [json.loads(l) for l in open(out / "episodes.jsonl")]
print("episodes.jsonl:", len(recs), "records; keys:", ", ".join(sorted(recs[0])))
print("per episode:", [(r.get("seed"), r.get("status"), r.get("success"), r.get("steps")) for r in recs])
s = json.load(open(out / "summary.json"))
print("summary.json policy:", {k: s["policy"][k] for k in ("kind", "type", "pretrained_model")})
print("summary.json:", {k: s[k] for k in s if k in ("n", "episodes", "successes", "success_rate", "success_ci")})
print("files:", sorted(p.name for p in out.iterdir()))
EOF
say "done"
